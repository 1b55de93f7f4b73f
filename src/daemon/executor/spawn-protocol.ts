/**
 * Messages between the executor and the spawn worker process
 * (spawn-worker.ts), over its IPC channel with advanced (structured clone)
 * serialization. One channel keeps them in order, so a run's output arrives
 * after its `started` and before its `done`, and a `kill` reaches the worker
 * after the `start` it refers to.
 */
import type { KillReason, OutputChunk, ProcessOptions, ProcessResult } from './process-runner.js';

/** What crosses to the worker: functions cannot, and the worker stamps times with its own wall clock. */
export type SpawnOptions = Omit<ProcessOptions, 'onOutput' | 'now'>;

export type ToWorker =
  | { type: 'start'; id: number; options: SpawnOptions }
  | { type: 'kill'; id: number; reason: KillReason };

export type FromWorker =
  | { type: 'started'; id: number; pid: number; startedMs: number }
  | { type: 'output'; id: number; stream: OutputChunk['stream']; data: Uint8Array; tsMs: number }
  | { type: 'done'; id: number; result: ProcessResult };

/** A Buffer over the received bytes, without copying them again. */
export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
