/**
 * One promise chain per job: a job's ticks are handled in tick order (a
 * claim must not overtake the one before it, or the cursor would pass over
 * it), while different jobs go on side by side.
 */
export class JobQueues {
  private readonly queues = new Map<string, Promise<void>>();

  constructor(private readonly onError: (job: string, err: unknown) => void) {}

  enqueue(job: string, work: () => Promise<void>): void {
    const previous = this.queues.get(job) ?? Promise.resolve();
    const next = previous.then(work).catch((err: unknown) => this.onError(job, err));
    this.queues.set(job, next);
    void next.then(() => {
      if (this.queues.get(job) === next) this.queues.delete(job);
    });
  }

  /** Resolves when everything enqueued so far has been handled. */
  settled(): Promise<void> {
    return Promise.all(this.queues.values()).then(() => {});
  }
}
