/**
 * `--publish-detections HZ`: at most HZ sends a second, the latest offer
 * winning (records of frames in between are skipped, not queued). One send
 * per period of 1/HZ s; a period with no new offer sends nothing.
 */
export class LatestWins<T> {
  private latest: T | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(hz: number, send: (value: T) => void) {
    if (!(hz > 0 && hz <= 10)) throw new RangeError(`rate must be in (0, 10] per second, got ${hz}`);
    this.timer = setInterval(() => {
      const value = this.latest;
      if (value === null) return;
      this.latest = null;
      send(value);
    }, 1000 / hz);
    this.timer.unref();
  }

  offer(value: T): void {
    this.latest = value;
  }

  close(): void {
    clearInterval(this.timer);
    this.latest = null;
  }
}
