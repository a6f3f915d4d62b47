import type { LetterboxTransform } from '../../compress/detect/letterbox.js';
import type { FfmpegSourceOptions } from './ffmpeg-source.js';
import type { SourceSpec } from './spec.js';
import type { SourceEvent, SourceStats } from './types.js';

/** What the source thread starts with (structured-cloned: no functions). */
export interface WorkerInit {
  spec: Exclude<SourceSpec, { kind: 'image' | 'folder' }>;
  options: Omit<FfmpegSourceOptions, 'onEvent'>;
}

export type ToWorker = { type: 'next' } | { type: 'close' };

export type FromWorker =
  | { type: 'started'; stats: SourceStats }
  | { type: 'failed'; message: string }
  | { type: 'frame'; width: number; height: number; rgb: Uint8Array; letterbox: LetterboxTransform; stats: SourceStats }
  | { type: 'error'; ended: boolean; message: string; stats: SourceStats }
  | { type: 'event'; event: SourceEvent; stats: SourceStats }
  | { type: 'stats'; stats: SourceStats }
  | { type: 'closed'; stats: SourceStats };
