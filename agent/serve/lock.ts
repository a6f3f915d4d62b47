/**
 * One measurement at a time on a device. A profiling job holds the lock and
 * serving pauses while it does, so neither pollutes the other's numbers; a
 * health check holds it too (a job waits for it) but is itself served frames.
 */
export class MeasurementLock {
  private holder: { owner: string; pausesServing: boolean } | null = null;
  private queue: Array<() => void> = [];
  private freed: Array<() => void> = [];

  get heldBy(): string | null {
    return this.holder?.owner ?? null;
  }

  /** Serving must not run a frame right now. */
  get pausesServing(): boolean {
    return this.holder?.pausesServing ?? false;
  }

  /** Waits for the lock; resolves to its release function (idempotent). */
  async acquire(owner: string, pausesServing: boolean): Promise<() => void> {
    while (this.holder) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.holder = { owner, pausesServing };
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holder = null;
      for (const wake of this.freed.splice(0)) wake();
      this.queue.shift()?.();
    };
  }

  /** Resolves the next time the lock is released (immediately when free). */
  whenReleased(): Promise<void> {
    if (!this.holder) return Promise.resolve();
    return new Promise((resolve) => this.freed.push(resolve));
  }
}
