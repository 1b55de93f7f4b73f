/**
 * A binary min-heap of keyed entries ordered by `due`, with O(log n) update
 * and removal by key. The scheduler keeps one entry per job, so the earliest
 * tick of 100,000 jobs is always at the top without scanning them.
 */
export interface HeapEntry<K> {
  key: K;
  due: number;
}

export class KeyedHeap<K, E extends HeapEntry<K>> {
  private readonly items: E[] = [];
  private readonly index = new Map<K, number>();

  get size(): number {
    return this.items.length;
  }

  peek(): E | undefined {
    return this.items[0];
  }

  get(key: K): E | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.items[i];
  }

  /** Insert, or replace the entry with the same key. */
  set(entry: E): void {
    const i = this.index.get(entry.key);
    if (i === undefined) {
      this.items.push(entry);
      this.index.set(entry.key, this.items.length - 1);
      this.siftUp(this.items.length - 1);
      return;
    }
    this.items[i] = entry;
    this.siftDown(this.siftUp(i));
  }

  delete(key: K): boolean {
    const i = this.index.get(key);
    if (i === undefined) return false;
    const last = this.items.pop()!;
    this.index.delete(key);
    if (i < this.items.length) {
      this.items[i] = last;
      this.index.set(last.key, i);
      this.siftDown(this.siftUp(i));
    }
    return true;
  }

  pop(): E | undefined {
    const top = this.items[0];
    if (top !== undefined) this.delete(top.key);
    return top;
  }

  keys(): IterableIterator<K> {
    return this.index.keys();
  }

  private siftUp(i: number): number {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.items[parent].due <= this.items[i].due) break;
      this.swap(i, parent);
      i = parent;
    }
    return i;
  }

  private siftDown(i: number): number {
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < n && this.items[l].due < this.items[smallest].due) smallest = l;
      if (r < n && this.items[r].due < this.items[smallest].due) smallest = r;
      if (smallest === i) return i;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private swap(a: number, b: number): void {
    const ia = this.items[a];
    const ib = this.items[b];
    this.items[a] = ib;
    this.items[b] = ia;
    this.index.set(ib.key, a);
    this.index.set(ia.key, b);
  }
}
