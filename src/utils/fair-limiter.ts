/**
 * Bounds concurrent work overall and per key (a registry host), and shares the overall bound fairly:
 * each key may use at most its share of the total, with one share held back for keys that have not
 * come yet, and waiting keys are served in turn. So two registries that never answer can hold only
 * their shares while other registries' checks go on (p-limit's FIFO queue would give them every
 * slot). State exists only for keys with work running or waiting.
 */
interface KeyQueue {
  running: number;
  readonly waiting: Array<() => void>;
}

export class FairLimiter {
  private readonly keys = new Map<string, KeyQueue>();
  private running = 0;

  constructor(
    private readonly total: number,
    private readonly perKey: number,
  ) {}

  /** Tasks running or waiting, over all keys. */
  get pending(): number {
    let waiting = 0;
    for (const queue of this.keys.values()) waiting += queue.waiting.length;
    return this.running + waiting;
  }

  /** How many tasks one key may run while `active` keys have work. */
  shareOf(active: number): number {
    return Math.min(this.perKey, Math.max(1, Math.floor(this.total / (active + 1))));
  }

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let queue = this.keys.get(key);
      if (!queue) {
        queue = { running: 0, waiting: [] };
        this.keys.set(key, queue);
      }
      const owner = queue;
      owner.waiting.push(() => {
        owner.running++;
        this.running++;
        // async wrapper: a task that throws synchronously still releases its slot.
        (async () => task())()
          .then(resolve, reject)
          .finally(() => {
            owner.running--;
            this.running--;
            if (owner.running === 0 && owner.waiting.length === 0) this.keys.delete(key);
            this.pump();
          });
      });
      this.pump();
    });
  }

  /** Starts waiting tasks, one key at a time in turn, while the bounds allow. */
  private pump(): void {
    let started = true;
    while (started && this.running < this.total) {
      started = false;
      const share = this.shareOf(this.keys.size);
      for (const [key, queue] of this.keys) {
        if (this.running >= this.total) break;
        if (queue.waiting.length === 0 || queue.running >= share) continue;
        const next = queue.waiting.shift() as () => void;
        // Served: move to the back of the turn order.
        this.keys.delete(key);
        this.keys.set(key, queue);
        next();
        started = true;
        break;
      }
    }
  }
}
