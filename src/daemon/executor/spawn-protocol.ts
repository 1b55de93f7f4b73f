/**
 * Messages between the executor's thread and the spawn worker
 * (spawn-worker.ts). One MessagePort keeps them in order, so a run's output
 * arrives after its `started` and before its `done`, and a `kill` reaches the
 * worker after the `start` it refers to.
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

/**
 * A copy of exactly the chunk's bytes in a buffer of its own, so it can be
 * transferred instead of cloned: a chunk may be a view into a larger pooled
 * buffer, which cloning would copy whole and transferring would take away.
 */
export function ownBytes(data: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(data);
}

/** A Buffer over the received bytes, without copying them again. */
export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
