import type { Detector } from '../compress/detect/detector.js';
import type { LetterboxedImage } from '../compress/detect/letterbox.js';
import { openSource, parseSourceSpec, SourceEndedError, type SourceEvent, type StatsSource } from '../agent/source/index.js';

export interface FrameRunOptions {
  json: boolean;
  /** Per source; undefined: until its end (a live source: until Ctrl-C). */
  maxFrames?: number;
  durationS?: number;
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/**
 * `edgefit detect` on sources that give frames (video files, folders,
 * devices, streams): one line per frame, text or JSON. Video files are read
 * frame by frame without dropping; live sources keep only the newest frame.
 * Returns the number of sources that failed.
 */
export async function detectFrames(detector: Detector, sources: string[], o: FrameRunOptions, say: (line: string) => void): Promise<number> {
  let failed = 0;
  let current: StatsSource | undefined;
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    void current?.close();
  };
  process.on('SIGINT', onSigint);
  try {
    for (const text of sources) {
      if (interrupted) break;
      try {
        const spec = parseSourceSpec(text);
        const onEvent = (e: SourceEvent) =>
          say(e.type === 'lost' ? `${text}: lost (${e.error}); retrying in ${(e.retryInMs / 1000).toFixed(1)} s` : e.reconnect ? `${text}: reconnected (${e.width}×${e.height})` : `${text}: ${e.width}×${e.height}`);
        current = await openSource(spec, { width: detector.inputWidth, height: detector.inputHeight, pace: 'every', loop: false, onEvent });
        await runOne(detector, current, text, o, () => interrupted);
        const s = current.stats();
        say(
          `${text}: ${s.framesDelivered} frame(s) detected, ${s.framesDecoded} decoded, ${s.framesDropped} dropped, ${s.reconnects} reconnect(s)` +
            (s.decodeMsPerFrame === null ? '' : `, decode ${s.decodeMsPerFrame.toFixed(1)} ms/frame`) +
            (s.lastError ? `; last error: ${s.lastError}` : ''),
        );
      } catch (err) {
        failed++;
        say((err as Error).message);
      } finally {
        await current?.close();
        current = undefined;
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  return failed;
}

async function runOne(detector: Detector, source: StatsSource, text: string, o: FrameRunOptions, interrupted: () => boolean): Promise<void> {
  const started = performance.now();
  // --duration closes the source, which also ends a wait on a stream that is down
  const timer = o.durationS === undefined ? undefined : setTimeout(() => void source.close(), o.durationS * 1000);
  try {
    for (let frame = 0; o.maxFrames === undefined || frame < o.maxFrames; frame++) {
      let image;
      try {
        image = await source.next();
      } catch (err) {
        if (err instanceof SourceEndedError) return;
        throw err;
      }
      const receivedAt = new Date();
      const elapsedMs = performance.now() - started;
      const { detections, timings, warning } = await detector.detect(image);
      const lb = (image as Partial<LetterboxedImage>).letterbox;
      const width = lb?.srcWidth ?? image.width;
      const height = lb?.srcHeight ?? image.height;
      const objects = detections.map((d) => ({ classId: d.classId, className: detector.className(d.classId), score: d.score, box: d.box.map(round1) }));
      if (o.json) {
        process.stdout.write(JSON.stringify({ source: text, frame, receivedAt: receivedAt.toISOString(), elapsedMs: round1(elapsedMs), width, height, detections: objects, timings, ...(warning ? { warning } : {}) }) + '\n');
      } else {
        process.stdout.write(
          `${text} #${frame} +${(elapsedMs / 1000).toFixed(3)} s (${width}×${height}): ${objects.length} object(s)  ` +
            `[pre ${timings.preprocessMs.toFixed(1)} ms, inference ${timings.inferenceMs.toFixed(1)} ms, post ${timings.postprocessMs.toFixed(1)} ms]\n`,
        );
        for (const ob of objects) process.stdout.write(`  ${ob.className.padEnd(16)} ${ob.score.toFixed(3)}  [${ob.box.map(Math.round).join(', ')}]\n`);
      }
      if (interrupted()) return;
    }
  } finally {
    clearTimeout(timer);
  }
}
