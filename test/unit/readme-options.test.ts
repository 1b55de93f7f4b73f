/**
 * The README's table of `#dcron` keys says what the option schema says:
 * the same keys in the same order, each default the one the schema applies,
 * each meaning the schema's description. A key added to the schema without a
 * README row, or a default changed in one place only, fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DIRECTIVE_KEYS } from '../../src/daemon/crontab/option-schema.js';

const README = new URL('../../../README.md', import.meta.url);

interface Row {
  key: string;
  defaultText: string;
  meaning: string;
}

/** The rows of the table headed `| key | default | meaning |`. */
function optionTable(markdown: string): Row[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf('| key | default | meaning |');
  assert.ok(start >= 0, 'README has the option table');
  const rows: Row[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [key, defaultText, meaning] = line.slice(1, -1).split(' | ').map((cell) => cell.trim());
    rows.push({ key: key.replace(/^`|`$/g, ''), defaultText, meaning });
  }
  return rows;
}

const rows = optionTable(readFileSync(README, 'utf8'));

test('the README lists every directive key, in the schema\'s order', () => {
  assert.deepEqual(rows.map((r) => r.key), DIRECTIVE_KEYS.map((k) => k.key));
});

test('each README default is the schema\'s', () => {
  for (const spec of DIRECTIVE_KEYS) {
    const row = rows.find((r) => r.key === spec.key)!;
    if (spec.default === null) {
      assert.equal(row.defaultText, spec.defaultText, `${spec.key}: the default the reader derives, in words`);
      continue;
    }
    // A value default is shown as directive text: it must read as the value the schema applies.
    const read = spec.kind.read(spec.key, row.defaultText.replace(/^`|`$/g, ''));
    assert.ok(read.ok, `${spec.key}: README default ${row.defaultText} does not read`);
    assert.deepEqual(read.value, spec.default, spec.key);
  }
});

test('each README meaning starts with the schema\'s description', () => {
  // The README may add a link after it (`; see [Alerts](#alerts)`).
  for (const spec of DIRECTIVE_KEYS) {
    const row = rows.find((r) => r.key === spec.key)!;
    assert.ok(row.meaning.startsWith(spec.description), `${spec.key}: README says '${row.meaning}', the schema '${spec.description}'`);
  }
});
