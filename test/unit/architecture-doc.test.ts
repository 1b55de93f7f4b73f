/**
 * docs/ARCHITECTURE.md tells a newcomer where each behaviour lives. Every
 * path it names in backquotes must exist, and every module it names by file
 * name alone (`job-publisher.ts`) must exist somewhere under src/, so a move
 * or a rename that forgets the page fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');

/** Backquoted spans that are paths: a folder or file of the repository, or a bare module file name. */
function namedPaths(markdown: string): { paths: string[]; files: string[] } {
  const spans = [...markdown.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]);
  const paths = spans.filter((s) => /^(src|test|chaos|bench|docs|bin|packaging|scripts)\//.test(s));
  const files = spans.filter((s) => !s.includes('/') && /^[\w.-]+\.(ts|tsx)$/.test(s));
  return { paths: [...new Set(paths)], files: [...new Set(files)] };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [name];
  });
}

test('every path docs/ARCHITECTURE.md names exists', () => {
  const { paths } = namedPaths(DOC);
  assert.ok(paths.length > 30, `the page names its modules (found ${paths.length})`);
  const missing = paths.filter((p) => !existsSync(join(ROOT, p)));
  assert.deepEqual(missing, [], 'named in docs/ARCHITECTURE.md but not in the tree');
});

test('every module docs/ARCHITECTURE.md names by file name exists under src/', () => {
  const { files } = namedPaths(DOC);
  const present = new Set(filesUnder(join(ROOT, 'src')));
  const missing = files.filter((f) => !present.has(f));
  assert.deepEqual(missing, [], 'named in docs/ARCHITECTURE.md but in no folder of src/');
});
