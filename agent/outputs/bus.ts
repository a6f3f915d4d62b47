import type { RgbImage } from '../../compress/detect/image.js';
import type { LetterboxedImage } from '../../compress/detect/letterbox.js';
import type { DetectionsMessage } from '../../protocol/messages.js';

/** One served frame as the outputs see it: its record, and the frame itself (the snapshot draws on it). */
export interface ServedFrame {
  record: DetectionsMessage;
  /** The frame the model ran on; a source's pre-letterboxed frame is at the model's input size (its `letterbox` maps back). */
  frame: RgbImage | LetterboxedImage;
}

export type ServedFrameListener = (served: ServedFrame) => void;

/**
 * Hands each served frame's detections to whoever listens (the JSON lines
 * file, the MQTT publisher, the snapshot, SSE readers). The serving loop calls
 * `served` after every frame; while nobody listens no record is built, and a
 * listener runs synchronously and must only take what it needs and return
 * (each sink queues and drops on its own), so no listener can slow the loop.
 * A listener that throws is unsubscribed, never the loop's failure.
 */
export class DetectionsBus {
  private readonly listeners = new Set<ServedFrameListener>();
  private readonly closeListeners = new Set<() => void>();
  private seq = 0;
  private closed = false;

  get listening(): boolean {
    return this.listeners.size > 0;
  }

  /** Subscribes; returns the unsubscribe. */
  listen(listener: ServedFrameListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called once when the agent stops (SSE readers end their streams then). */
  onClose(listener: () => void): () => void {
    if (this.closed) {
      listener();
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** The serving loop: one frame served. `build` runs only when someone listens. */
  served(build: (seq: number) => ServedFrame): void {
    const seq = ++this.seq;
    if (this.listeners.size === 0 || this.closed) return;
    const frame = build(seq);
    for (const listener of this.listeners) {
      try {
        listener(frame);
      } catch {
        this.listeners.delete(listener);
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    for (const listener of this.closeListeners) listener();
    this.closeListeners.clear();
  }
}
