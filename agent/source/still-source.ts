import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { readImage, type RgbImage } from '../../compress/detect/image.js';
import { IMAGE_FILE, type SourceSpec } from './spec.js';
import { SourceEndedError, type SourceStats, type StatsSource } from './types.js';

/**
 * JPEG/PNG files, one or a folder's in name order, decoded once in Node (no
 * ffmpeg needed) and letterboxed by the detector. Looped, or ended after the
 * last image.
 */
export async function openStills(spec: Extract<SourceSpec, { kind: 'image' | 'folder' }>, loop: boolean): Promise<StatsSource> {
  let files = [spec.path];
  if (spec.kind === 'folder') {
    try {
      files = (await readdir(spec.path)).filter((n) => IMAGE_FILE.test(n)).sort().map((n) => path.join(spec.path, n));
    } catch (err) {
      throw new Error(`source ${spec.path}: cannot read folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (files.length === 0) throw new Error(`source ${spec.path}: no .jpg or .png images in the folder`);
  }
  const t0 = performance.now();
  const frames: RgbImage[] = [];
  for (const f of files) frames.push(await readImage(f));
  const decodeMs = (performance.now() - t0) / frames.length;
  let i = 0;
  let closed = false;
  return {
    spec,
    name: spec.path,
    next: async () => {
      if (closed) throw new SourceEndedError(`${spec.path}: closed`);
      if (!loop && i >= frames.length) throw new SourceEndedError(`${spec.path}: no more images`);
      return frames[i++ % frames.length];
    },
    stats: (): SourceStats => ({
      framesDecoded: frames.length,
      framesDelivered: i,
      framesDropped: 0,
      reconnects: 0,
      decodeMsPerFrame: decodeMs,
      lastError: null,
      lastGap: null,
      connected: !closed,
    }),
    close: async () => {
      closed = true;
    },
  };
}
