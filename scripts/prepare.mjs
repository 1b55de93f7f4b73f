// `prepare` runs on `npm install`/`npm ci` in a git checkout (build dist/ so
// ./bin/dcron works), but also before `npm pack` (where `prepack` builds) and,
// for some npm versions, when a packed tarball is installed. A tarball ships
// dist/ and neither src/ nor TypeScript, so only build from a checkout.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const root = new URL('../', import.meta.url);
const command = process.env.npm_command;
if (command === 'pack' || command === 'publish') process.exit(0); // prepack builds
if (!existsSync(new URL('tsconfig.json', root)) || !existsSync(new URL('src/', root))) process.exit(0); // installed tarball: dist/ is prebuilt
const r = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', cwd: root, shell: process.platform === 'win32' });
process.exit(r.status ?? 1);
