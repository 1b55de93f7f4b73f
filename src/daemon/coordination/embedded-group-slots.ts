import { EventEmitter } from 'node:events';
import type { GroupPermit, GroupSlots, GroupSlotsEvents } from './group-slots.js';

/**
 * One host's concurrency groups: counts in memory. A daemon that dies takes
 * its runs with it (the job guard), so nothing outlives the process that
 * would need the count back.
 */
export class EmbeddedGroupSlots extends EventEmitter<GroupSlotsEvents> implements GroupSlots {
  private readonly held = new Map<string, number>();

  constructor() {
    super();
    this.setMaxListeners(0);
  }

  async tryAcquire(group: string, limit: number): Promise<GroupPermit | null> {
    const n = this.inUse(group);
    if (n >= limit) return null;
    this.held.set(group, n + 1);
    let released = false;
    return {
      group,
      held: () => !released,
      release: () => {
        if (released) return;
        released = true;
        const left = this.inUse(group) - 1;
        if (left > 0) this.held.set(group, left);
        else this.held.delete(group);
        this.emit('freed', group);
      },
    };
  }

  inUse(group: string): number {
    return this.held.get(group) ?? 0;
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}
