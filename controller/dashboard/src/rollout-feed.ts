import type { RolloutsBatch } from '../../live/wire.js';

export interface RolloutListener {
  /** Summaries of rollouts that changed, pushed by the controller. */
  batch(batch: RolloutsBatch): void;
  /** The stream (re)connected: pushes may have been missed meanwhile, so fetch afresh. */
  resync(): void;
}

/** Hands the `rollouts` events of the live stream to whichever rollout view is on screen. */
export class RolloutFeed {
  batches = 0;
  private readonly listeners = new Set<RolloutListener>();

  applyBatch(batch: RolloutsBatch): void {
    this.batches++;
    for (const listener of this.listeners) listener.batch(batch);
  }

  resync(): void {
    for (const listener of this.listeners) listener.resync();
  }

  subscribe(listener: RolloutListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
