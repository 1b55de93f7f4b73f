// Empties dist/ before a build, so a deleted source or test file leaves no
// stale compiled copy behind for the test runner to pick up.
import { rmSync } from 'node:fs';
rmSync(new URL('../dist/', import.meta.url), { recursive: true, force: true });
