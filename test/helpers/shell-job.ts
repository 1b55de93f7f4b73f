import { tmpdir } from 'node:os';
import type { OutputChunk, ProcessOptions } from '../../src/daemon/executor/process-runner.js';

/** The PATH jobs in tests get: the test's own. */
export const TEST_PATH = process.env.PATH ?? '/usr/bin:/bin';

/** Options for `sh -c command` as the process runner tests start it; `overrides` win. */
export function shellJob(command: string, onOutput: (chunk: OutputChunk) => void, overrides: Partial<ProcessOptions> = {}): ProcessOptions {
  return {
    shell: '/bin/sh',
    command,
    stdin: null,
    cwd: tmpdir(),
    env: { PATH: TEST_PATH },
    timeoutMs: null,
    killGraceMs: 5000,
    maxOutputBytes: 4 * 1024 * 1024,
    onOutput,
    ...overrides,
  };
}
