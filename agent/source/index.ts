// The sources' entry points, for the agent's serving and `edgefit detect`.
export { openSource, type OpenSourceOptions } from './open.js';
export { parseSourceSpec, sourceName, needsFfmpeg, SourceSpecError, type SourceSpec } from './spec.js';
export { ffmpegInfo, type FfmpegInfo } from './ffmpeg.js';
export { SourceEndedError, type SourceStats, type StatsSource, type SourceEvent } from './types.js';
