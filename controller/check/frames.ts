// Which reference frames a model's profile jobs carry: the model's own eval
// images (held out, representative) or else its calibration images, as given
// to its ladder job, or else the agent's built-in street scenes. Up to four,
// each small enough to cost the device little.
import { stat } from 'node:fs/promises';
import jpeg from 'jpeg-js';
import { loadDataset } from '../../compress/detect/dataset.js';
import { readImage } from '../../compress/detect/image.js';
import { syntheticFrame } from '../../compress/detect/scene.js';
import type { ArtifactRef } from '../../protocol/artifacts.js';
import type { Catalog } from '../catalog/catalog.js';

export const MAX_CHECK_FRAMES = 4;
/** A phone photo fits; a 4K PNG does not, and would cost a Pi seconds to decode. */
export const MAX_FRAME_BYTES = 2 * 1024 * 1024;
export const MAX_FRAME_PIXELS = 4_000_000;

export interface FrameChoice {
  refs: ArtifactRef[];
  /** Where they came from, or why there are none. */
  source: string;
}

/** The image folders a model's ladder jobs named, newest job first: eval before calibration. */
function folders(catalog: Catalog, modelId: string): string[] {
  const jobs = catalog.jobs(modelId).reverse();
  return [...jobs.map((j) => j.options.evalDir), ...jobs.map((j) => j.options.calibDir)].filter((d): d is string => Boolean(d));
}

/**
 * Stores up to MAX_CHECK_FRAMES images of the model's folders as signed frame
 * artifacts (content-addressed: the same image is stored once). Images over
 * the size caps, or that do not decode, are passed over.
 */
export async function chooseFrames(catalog: Catalog, modelId: string): Promise<FrameChoice> {
  for (const dir of folders(catalog, modelId)) {
    let images: string[];
    try {
      images = (await loadDataset(dir)).items.map((it) => it.imagePath);
    } catch {
      continue; // the folder is gone since the ladder was built: try the next
    }
    const refs: ArtifactRef[] = [];
    for (const file of images) {
      if (refs.length >= MAX_CHECK_FRAMES) break;
      try {
        if ((await stat(file)).size > MAX_FRAME_BYTES) continue;
        await readImage(file, { maxPixels: MAX_FRAME_PIXELS });
      } catch {
        continue;
      }
      refs.push(await catalog.artifacts.put(file, { name: `check-${refs.length}.${file.toLowerCase().endsWith('.png') ? 'png' : 'jpg'}`, kind: 'frame' }));
    }
    if (refs.length > 0) return { refs, source: dir };
  }
  const model = catalog.getModel(modelId);
  // A builder-made model detects nothing by construction: its "agreement" would be shown as a figure that means nothing.
  if (!model || model.synthetic) return { refs: [], source: 'synthetic weights: their detections say nothing, so there is nothing to check' };
  return { refs: await builtInScenes(catalog), source: 'built-in scenes' };
}

/**
 * The agent's built-in scenes (640×480, seeds 1-4, as agent/serve/frames.ts
 * serves them), shipped as JPEG artifacts: both sides decode the same bytes
 * with the same decoder, so the pixels are identical. Quality 90: about a
 * tenth of a PNG of the noisy scene.
 */
async function builtInScenes(catalog: Catalog): Promise<ArtifactRef[]> {
  const refs: ArtifactRef[] = [];
  for (let seed = 1; seed <= MAX_CHECK_FRAMES; seed++) {
    const { width, height, rgb } = syntheticFrame(640, 480, seed);
    const rgba = new Uint8Array(width * height * 4);
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
      rgba[j] = rgb[i];
      rgba[j + 1] = rgb[i + 1];
      rgba[j + 2] = rgb[i + 2];
      rgba[j + 3] = 255;
    }
    const bytes = new Uint8Array(jpeg.encode({ width, height, data: rgba }, 90).data);
    refs.push(await catalog.artifacts.put(bytes, { name: `scene-${seed}.jpg`, kind: 'frame' }));
  }
  return refs;
}
