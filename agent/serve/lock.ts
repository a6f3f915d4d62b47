/**
 * One measurement at a time on a device. A profiling job holds the lock and
 * serving pauses while it does, so neither pollutes the other's numbers; a
 * health check holds it too (a job waits for it) but is itself served frames.
 */
export class MeasurementLock {
  private holder: { owner: string; pausesServing: boolean } | null = null;
  /** Waiters in arrival order; a release hands the lock to the first, so no later caller can take it in between. */
  private queue: Array<{ owner: string; pausesServing: boolean; grant: () => void }> = [];
  private freed: Array<() => void> = [];

  get heldBy(): string | null {
    return this.holder?.owner ?? null;
  }

  /** Serving must not run a frame right now. */
  get pausesServing(): boolean {
    return this.holder?.pausesServing ?? false;
  }

  /** Waits for the lock; resolves to its release function (idempotent). */
  acquire(owner: string, pausesServing: boolean): Promise<() => void> {
    if (!this.holder) {
      this.holder = { owner, pausesServing };
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve) => this.queue.push({ owner, pausesServing, grant: () => resolve(this.releaser()) }));
  }

  /** Resolves the next time the lock is released (immediately when free). */
  whenReleased(): Promise<void> {
    if (!this.holder) return Promise.resolve();
    return new Promise((resolve) => this.freed.push(resolve));
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      this.holder = next ? { owner: next.owner, pausesServing: next.pausesServing } : null;
      for (const wake of this.freed.splice(0)) wake();
      next?.grant();
    };
  }
}
