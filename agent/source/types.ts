import type { FrameSource } from '../serve/frames.js';
import type { SourceSpec } from './spec.js';
import { codedError } from '../../protocol/errors.js';

/** What a source has done since it opened, for telemetry (decode apart from inference). */
export interface SourceStats {
  /** Complete frames the decoder handed over. */
  framesDecoded: number;
  /** Frames given to next(). */
  framesDelivered: number;
  /** Decoded frames replaced by a newer one before anyone asked (latest frame wins). */
  framesDropped: number;
  /** Connections restored after a loss (the first frame after it arrived). */
  reconnects: number;
  /**
   * Decoder CPU time per decoded frame, in ms: ffmpeg's user + system time
   * (demux, decode, scale, pad, convert) over its frames, read from /proc;
   * Node's own decode time for JPEG/PNG sources. null until measured, or where
   * /proc is missing.
   */
  decodeMsPerFrame: number | null;
  lastError: string | null;
  /** The last loss: the last frame before it and the first after (null while it lasts), ISO times. */
  lastGap: { from: string; to: string | null } | null;
  /** Frames are flowing now (false while reconnecting). */
  connected: boolean;
}

/** A frame source the agent and `edgefit detect` share: frames plus what it cost to get them. */
export interface StatsSource extends FrameSource {
  readonly spec: SourceSpec;
  stats(): SourceStats;
}

/** next() after a file, folder or video without loop has given its last frame. */
export class SourceEndedError extends codedError('E_SOURCE_ENDED') {
  override name = 'SourceEndedError';
}

/** What a source tells its owner as it happens (for logs and the CLI's stderr). */
export type SourceEvent =
  | { type: 'connected'; width: number; height: number; reconnect: boolean }
  | { type: 'lost'; error: string; retryInMs: number };
