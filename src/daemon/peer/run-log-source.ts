import type { Executor, OutputEvent } from '../executor/executor.js';
import type { RunLog } from '../runlog/run-log.js';
import type { RunRecord } from '../runlog/types.js';
import type { LiveChunk, PeerSource } from './peer-server.js';

interface Subscriber {
  onOutput(chunk: LiveChunk): void;
  onEnd(run: RunRecord): void;
}

/**
 * The peer API's view of this host: stored runs from the run log, live output
 * from the executor. The executor stores each chunk, then emits it in the
 * same synchronous step, which is what PeerSource.subscribe promises.
 *
 * One pair of executor listeners fans out to every follower by run id, so
 * many followers cost a map lookup per chunk rather than a listener each; the
 * pair is attached only while someone follows.
 */
export function runLogSource(runLog: RunLog, executor: Executor): PeerSource {
  const byRun = new Map<string, Set<Subscriber>>();
  const onOutput = (event: OutputEvent) => {
    for (const s of [...(byRun.get(event.runId) ?? [])]) s.onOutput(event);
  };
  const onFinished = (run: RunRecord) => {
    for (const s of [...(byRun.get(run.id) ?? [])]) s.onEnd(run);
  };

  return {
    getRun: (id) => runLog.getRun(id),
    readOutput: (runId, afterSeq) => runLog.readOutput(runId, afterSeq),
    history: (q) => runLog.history(q),
    subscribe(runId, onOutputChunk, onEnd) {
      if (byRun.size === 0) {
        executor.on('output', onOutput);
        executor.on('run-finished', onFinished);
      }
      const subscriber: Subscriber = { onOutput: onOutputChunk, onEnd };
      const subscribers = byRun.get(runId) ?? new Set<Subscriber>();
      byRun.set(runId, subscribers.add(subscriber));
      return () => {
        if (!subscribers.delete(subscriber) || subscribers.size > 0) return;
        byRun.delete(runId);
        if (byRun.size === 0) {
          executor.off('output', onOutput);
          executor.off('run-finished', onFinished);
        }
      };
    },
  };
}
