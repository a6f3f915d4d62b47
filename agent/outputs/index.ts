import type { Logger } from 'pino';
import type { DetectionsMessage, SnapshotMessage } from '../../protocol/messages.js';
import { DetectionsBus } from './bus.js';
import { JsonLinesSink } from './json-lines.js';
import { LatestWins } from './latest-wins.js';
import { SnapshotTaker } from './snapshot.js';

export { DetectionsBus } from './bus.js';
export { detectionsSse } from './sse.js';

/** Where the agent sends what its model finds (the agent's flags). */
export interface OutputOptions {
  /** --detections PATH, '-' for stdout: one JSON line per served frame. */
  detectionsPath?: string;
  /** --publish-detections HZ: the `detections` MQTT channel, at most HZ a second (latest wins); absent: off. */
  publishHz?: number;
  /** --snapshot-every S: an annotated JPEG on the `snapshot` channel every S seconds; 0 or absent: off. */
  snapshotEveryS?: number;
}

export interface OutputSinks {
  publishDetections(record: DetectionsMessage): void;
  publishSnapshot(snapshot: SnapshotMessage): void;
}

/** The outputs of one agent: the bus the serving loop feeds, and the sinks listening on it. */
export class AgentOutputs {
  private readonly closers: Array<() => void | Promise<void>> = [];

  /** Opens the sinks now: a bad --detections path throws its one line before the agent connects. `bus`: one made before (the local API streams it). */
  constructor(options: OutputOptions, sinks: OutputSinks, log: Logger, readonly bus = new DetectionsBus()) {
    if (options.detectionsPath !== undefined) {
      const file = JsonLinesSink.open(options.detectionsPath, log.child({ component: 'detections' }));
      this.closers.push(this.bus.listen(({ record }) => file.write(record)), () => file.close());
    }
    if (options.publishHz !== undefined) {
      const rate = new LatestWins<DetectionsMessage>(options.publishHz, (record) => sinks.publishDetections(record));
      this.closers.push(this.bus.listen(({ record }) => rate.offer(record)), () => rate.close());
    }
    if (options.snapshotEveryS) {
      const taker = new SnapshotTaker(options.snapshotEveryS, (s) => sinks.publishSnapshot(s), log.child({ component: 'snapshot' }));
      this.closers.push(this.bus.listen((served) => taker.offer(served)), () => taker.close());
    }
  }

  /** After serving stopped: flushes the file and ends SSE streams. */
  async close(): Promise<void> {
    this.bus.close();
    for (const close of this.closers) await close();
  }
}
