import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { detectorInputIssue } from '../onnx/detector-input.js';
import { readModel } from '../onnx/read.js';
import { oneLine } from '../../protocol/one-line.js';
import type { RgbImage } from './image.js';
import { Letterboxer, type LetterboxedImage } from './letterbox.js';
import { classScoresSilent, postprocess, DEFAULT_MAX_DETECTIONS, type Detection, type PostprocessOptions } from './postprocess.js';
import { codedError } from '../../protocol/errors.js';

export interface DetectorOptions {
  /** onnxruntime intra-op threads; default: onnxruntime's choice (all cores). */
  intraOpThreads?: number;
  /** onnxruntime execution providers in preference order (names, or objects with a name and options); default ['cpu']. */
  executionProviders?: ort.InferenceSession.ExecutionProviderConfig[];
  /** Class names by id, e.g. from the model's ultralytics `names` metadata (see parseUltralyticsNames). */
  names?: readonly string[];
  /** Defaults for detect(); ultralytics predict uses conf 0.25. */
  conf?: number;
  iou?: number;
  maxDetections?: number;
}

export interface DetectTimings {
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
}

export interface DetectResult {
  detections: Detection[];
  timings: DetectTimings;
  /** Set when nothing was found because the model's output says nothing at all (every class score 0 or NaN). */
  warning?: string;
}

/** A model that cannot serve as a YOLO detector (wrong inputs, outputs, or types). */
export class DetectorError extends codedError('E_DETECTOR') {
  override name = 'DetectorError';
}

/**
 * Parses ultralytics' `names` metadata, a Python dict repr such as
 * "{0: 'person', 1: \"men's\"}", into an array indexed by class id.
 */
export function parseUltralyticsNames(text: string): string[] {
  const names: string[] = [];
  const entry = /(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g;
  for (const m of text.matchAll(entry)) {
    names[Number(m[1])] = (m[2] ?? m[3]).replace(/\\(.)/g, '$1');
  }
  for (let i = 0; i < names.length; i++) names[i] ??= String(i);
  return names;
}

// Node 20 has no Float16Array: fp16 models with half-precision I/O need these.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp < -10) return sign;
  if (exp <= 0) return sign | ((mant | 0x800000) >>> (14 - exp));
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | ((mant + 0x1000) >>> 13);
}

function fromHalf(h: number): number {
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * A YOLOv8-style detector on an onnxruntime InferenceSession: letterbox,
 * run, decode + NMS. detect() calls are serialized because the letterbox
 * buffer is reused between frames.
 */
export class Detector {
  readonly inputName: string;
  readonly outputName: string;
  readonly inputWidth: number;
  readonly inputHeight: number;
  readonly inputType: 'float32' | 'float16';
  readonly names: readonly string[];
  private readonly letterboxer: Letterboxer;
  private readonly defaults: Required<Pick<PostprocessOptions, 'conf' | 'iou' | 'maxDetections'>>;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(readonly session: ort.InferenceSession, options: DetectorOptions) {
    const input = session.inputMetadata[0];
    const output = session.outputMetadata[0];
    if (session.inputNames.length !== 1 || !input?.isTensor) {
      throw new DetectorError(`a detector takes one image tensor input; this model has inputs [${session.inputNames.join(', ')}]`);
    }
    if (!output?.isTensor) throw new DetectorError('the model has no tensor output');
    // the same rule as `model info`'s runnable line (one image [1,3,H,W], float, 1-4096 a side)
    const issue = detectorInputIssue([{ name: input.name, type: input.type, shape: input.shape }]);
    if (issue) throw new DetectorError(issue);
    if (input.type !== 'float32' && input.type !== 'float16') throw new DetectorError(`input '${input.name}' must be float32 or float16, got ${input.type}`);
    const h = input.shape[2] as number;
    const w = input.shape[3] as number;
    this.inputName = input.name;
    this.outputName = output.name;
    this.inputWidth = w;
    this.inputHeight = h;
    this.inputType = input.type;
    this.names = options.names ?? [];
    this.letterboxer = new Letterboxer(w, h);
    this.defaults = {
      conf: options.conf ?? 0.25,
      iou: options.iou ?? 0.45,
      maxDetections: options.maxDetections ?? DEFAULT_MAX_DETECTIONS,
    };
  }

  /** Loads a model from a file path or from its bytes. */
  static async create(model: string | Uint8Array, options: DetectorOptions = {}): Promise<Detector> {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: options.executionProviders ?? ['cpu'],
      graphOptimizationLevel: 'all',
    };
    if (options.intraOpThreads !== undefined) sessionOptions.intraOpNumThreads = options.intraOpThreads;
    let session: ort.InferenceSession;
    try {
      session = typeof model === 'string'
        ? await ort.InferenceSession.create(model, sessionOptions)
        : await ort.InferenceSession.create(model, sessionOptions);
    } catch (err) {
      const why = `onnxruntime cannot load the model: ${oneLine(err instanceof Error ? err.message : String(err))}`;
      throw new DetectorError(typeof model === 'string' ? `${model}: ${why}` : why);
    }
    try {
      return new Detector(session, options);
    } catch (err) {
      await session.release();
      if (err instanceof DetectorError && typeof model === 'string') throw new DetectorError(`${model}: ${err.message}`);
      throw err;
    }
  }

  className(classId: number): string {
    return this.names[classId] ?? String(classId);
  }

  /** Boxes in the image's pixels; a pre-letterboxed frame (ffmpeg's) in the pixels of the frame it came from. */
  detect(image: RgbImage | LetterboxedImage, options: Partial<PostprocessOptions> = {}): Promise<DetectResult> {
    const run = this.queue.then(() => this.detectNow(image, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async detectNow(image: RgbImage | LetterboxedImage, options: Partial<PostprocessOptions>): Promise<DetectResult> {
    const t0 = performance.now();
    const { tensor, transform } = this.letterboxer.run(image);
    const dims = [1, 3, this.inputHeight, this.inputWidth];
    const feed = this.inputType === 'float16'
      ? new ort.Tensor('float16', Uint16Array.from(tensor, toHalf), dims)
      : new ort.Tensor('float32', tensor, dims);
    const t1 = performance.now();
    const results = await this.session.run({ [this.inputName]: feed });
    const t2 = performance.now();
    const out = results[this.outputName];
    let data: Float32Array;
    if (out.type === 'float32') data = out.data as Float32Array;
    else if (out.type === 'float16') data = Float32Array.from(out.data as Uint16Array, fromHalf);
    else throw new DetectorError(`output '${this.outputName}' must be float32 or float16, got ${out.type}`);
    const detections = postprocess({ data, dims: out.dims }, transform, { ...this.defaults, ...options });
    const t3 = performance.now();
    const timings = { preprocessMs: t1 - t0, inferenceMs: t2 - t1, postprocessMs: t3 - t2 };
    // only when nothing was found: a normal output stops the scan at its first score
    if (detections.length === 0 && classScoresSilent({ data, dims: out.dims })) {
      return { detections, timings, warning: 'every class score is 0 or NaN: the model computes nothing (a broken export or quantization?), so "no objects" says nothing about the image' };
    }
    return { detections, timings };
  }

  async release(): Promise<void> {
    await this.queue;
    await this.session.release();
  }
}

/**
 * Opens a model file as a Detector, taking class names from its ultralytics
 * `names` metadata unless options.names is given. The file is read once.
 */
export async function openDetector(file: string, options: DetectorOptions = {}): Promise<Detector> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new DetectorError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let names = options.names;
  if (names === undefined) {
    try {
      const meta = readModel(bytes).metadata.get('names');
      if (meta !== undefined) names = parseUltralyticsNames(meta);
    } catch (err) {
      throw new DetectorError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  try {
    return await Detector.create(bytes, { ...options, names });
  } catch (err) {
    if (err instanceof DetectorError) throw new DetectorError(`${file}: ${err.message}`);
    throw err;
  }
}
