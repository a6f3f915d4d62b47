import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { GroundTruthBox } from './map.js';
import { codedError } from '../../protocol/errors.js';

/** One YOLO label line: class and a box normalized to the image size. */
export interface YoloLabel {
  classId: number;
  cx: number;
  cy: number;
  w: number;
  h: number;
}

export interface DatasetItem {
  imagePath: string;
  /** Undefined for an image with no labels folder (unlabeled: fidelity only). */
  labels?: YoloLabel[];
}

export interface Dataset {
  root: string;
  items: DatasetItem[];
  /** True when every image has a labels folder (a missing .txt there means no objects). */
  labeled: boolean;
  /** Files skipped on the way, one line each; callers decide how to show them. */
  warnings: string[];
}

export class DatasetError extends codedError('E_DATASET') {
  override name = 'DatasetError';
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);
/** Image formats we recognise but cannot decode: worth a warning rather than silence. */
const OTHER_IMAGE_EXTENSIONS = new Set(['.bmp', '.webp', '.gif', '.tif', '.tiff', '.heic', '.avif', '.dng', '.mpo', '.pfm']);

/** Parses a YOLO label file; a bad line is a DatasetError naming file:line. */
export function parseYoloLabels(text: string, file: string): YoloLabel[] {
  const labels: YoloLabel[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${file}:${i + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length !== 5) {
      throw new DatasetError(`${where}: expected 'class cx cy w h' (5 fields), got ${fields.length}: '${line.slice(0, 80)}'`);
    }
    const [cls, ...coords] = fields.map(Number);
    if (!Number.isInteger(cls) || cls < 0) throw new DatasetError(`${where}: class must be a non-negative integer, got '${fields[0]}'`);
    coords.forEach((v, k) => {
      if (!Number.isFinite(v) || v < 0 || v > 1) {
        throw new DatasetError(`${where}: ${['cx', 'cy', 'w', 'h'][k]} must be a number in [0, 1] (normalized), got '${fields[k + 1]}'`);
      }
    });
    labels.push({ classId: cls, cx: coords[0], cy: coords[1], w: coords[2], h: coords[3] });
  });
  return labels;
}

/** Normalized YOLO labels → pixel boxes [x1,y1,x2,y2] for an image of the given size. */
export function labelsToBoxes(labels: readonly YoloLabel[], width: number, height: number): GroundTruthBox[] {
  return labels.map((l) => ({
    classId: l.classId,
    box: [(l.cx - l.w / 2) * width, (l.cy - l.h / 2) * height, (l.cx + l.w / 2) * width, (l.cy + l.h / 2) * height] as const,
  }));
}

/** Ultralytics' rule: the last `images` folder in the path becomes `labels`, the extension `.txt`. */
export function labelPathFor(imagePath: string): string | undefined {
  const parts = imagePath.split(path.sep);
  const i = parts.lastIndexOf('images');
  if (i < 0 || i === parts.length - 1) return undefined;
  parts[i] = 'labels';
  const file = parts[parts.length - 1];
  parts[parts.length - 1] = file.slice(0, file.length - path.extname(file).length) + '.txt';
  return parts.join(path.sep);
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function walkImages(dir: string, warnings: string[]): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const found: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      found.push(...(await walkImages(full, warnings)));
      continue;
    }
    const ext = path.extname(e.name).toLowerCase();
    if (IMAGE_EXTENSIONS.has(ext)) found.push(full);
    else if (OTHER_IMAGE_EXTENSIONS.has(ext)) warnings.push(`${full}: ${ext.slice(1).toUpperCase()} is not supported (JPEG or PNG only), skipped`);
    else warnings.push(`${full}: not an image, skipped`);
  }
  return found;
}

/**
 * Loads a YOLO-format dataset: DIR with images/ and labels/ side by side
 * (flat, or with split subfolders such as images/{train,val}: all splits are
 * taken; pass DIR/images/val for one split), or a plain folder of images
 * (unlabeled). Labels are parsed now; images are decoded later, one at a time.
 */
export async function loadDataset(dir: string): Promise<Dataset> {
  const root = path.resolve(dir);
  let info;
  try {
    info = await stat(root);
  } catch {
    throw new DatasetError(`${dir}: no such directory`);
  }
  if (!info.isDirectory()) throw new DatasetError(`${dir}: not a directory (give a dataset folder with images/ and labels/, or a folder of images)`);
  const imagesDir = (await isDirectory(path.join(root, 'images'))) ? path.join(root, 'images') : root;
  const warnings: string[] = [];
  const images = await walkImages(imagesDir, warnings);
  if (images.length === 0) throw new DatasetError(`${dir}: no JPEG or PNG images found under ${imagesDir}`);
  const labelDirKnown = new Map<string, boolean>();
  const items: DatasetItem[] = [];
  for (const imagePath of images) {
    const labelPath = labelPathFor(imagePath);
    if (labelPath === undefined) {
      items.push({ imagePath });
      continue;
    }
    const labelDir = path.dirname(labelPath);
    if (!labelDirKnown.has(labelDir)) labelDirKnown.set(labelDir, await isDirectory(labelDir));
    if (!labelDirKnown.get(labelDir)) {
      items.push({ imagePath });
      continue;
    }
    let text: string;
    try {
      text = await readFile(labelPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DatasetError(`${labelPath}: cannot read: ${(err as Error).message}`);
      text = ''; // ultralytics: an image without a label file is background
    }
    items.push({ imagePath, labels: parseYoloLabels(text, labelPath) });
  }
  return { root, items, labeled: items.every((it) => it.labels !== undefined), warnings };
}
