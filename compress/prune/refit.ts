// Sequential least-squares refit of a pruned model (He et al. 2017, ThiNet),
// without gradients: every dense conv that lost input channels gets new
// weights and bias so that, fed with the pruned model's own activations (so it
// also absorbs the error of the layers before it), it reproduces the original
// model's pre-activation output at the kept output channels. The ridge pulls
// toward the conv's current weights (sliced, or substituted), with the strength
// picked by leave-one-image-out CV on the calibration images, and only a
// sampled subset of output positions is used (im2col patches for k×k convs).
// Convs are refit in waves (fit/waves.ts): one run of each model serves a wave.
import { intsAttr, numel, stringAttr, type Graph, type Model, type Node } from '../onnx/ir.js';
import { constValue, producers } from '../onnx/graph.js';
import { toFloat32 } from '../onnx/tensor.js';
import { RidgeStats } from '../linalg/ridge.js';
import type { Matrix } from '../linalg/matrix.js';
import { calibrationFold, type CalibrationSet } from '../calibration.js';
import { forEachActivation } from '../fit/activations.js';
import { centredEnergy, gatherChannels, patches, samplePositions, type ConvGeometry } from '../fit/samples.js';
import type { ConvRole, DependencyGraph } from './dependency.js';
import { keptChannels, writeConvParameters } from './surgery.js';
import { waves } from '../fit/waves.js';

export interface RefitOptions {
  /** Output positions sampled per image and conv (at most). */
  maxPositions?: number;
  /**
   * Sampled rows wanted per feature, over all images: below maxPositions the
   * positions per image shrink to this (not below 256). Neighbouring positions are strongly
   * correlated, so more rows mostly add Gram-accumulation time (rows × d²).
   */
  samplesPerFeature?: number;
  grid?: readonly number[];
  /**
   * Cross-validation folds (at most): leave-one-image-out up to this many
   * images, beyond it images are dealt round-robin into folds. Every fold and
   * strength costs one d×d Cholesky solve.
   */
  maxFolds?: number;
  /**
   * Convs with more features (input channels × kernel taps) than this skip
   * the CV (folds × strengths d×d solves) and take the median strength the CV chose for
   * the convs before them.
   */
  maxCvFeatures?: number;
  seed?: number;
  onWave?: (done: number, total: number) => void;
}

export interface LayerRefit {
  layer: string;
  lambda: number;
  /** 'cv': chosen by cross-validation; 'reused': the median of earlier choices (a conv too wide for CV). */
  lambdaFrom: 'cv' | 'reused';
  samples: number;
  features: number;
  /**
   * Squared error on the calibration samples relative to Σ‖y − ȳ‖² of the
   * original output: with the weights the refit started from, with the refit
   * weights, and (heldOut) of the refit at the chosen strength with each fold
   * left out of its own fit (NaN when the strength was reused).
   */
  errorBefore: number;
  errorAfter: number;
  heldOutAfter: number;
  /** The held-out error was no better than the starting weights' error: those were kept. */
  kept: boolean;
}

export interface RefitReport {
  layers: LayerRefit[];
  /** Consumers left as they were, with the reason (grouped and depthwise convs, auto_pad). */
  skipped: { layer: string; reason: string }[];
  waves: number;
}

/**
 * The CV grid: from a nearly free fit to nearly keeping the current weights.
 * Searched as a unimodal curve, so only about six strengths are tried.
 */
export const REFIT_GRID: readonly number[] = [1e-2, 0.1, 1, 10, 100];

interface Job {
  role: ConvRole;
  node: Node;
  label: string;
}

/** Dense convs whose input lost channels, and the consumers the refit cannot handle. */
function refitJobs(dep: DependencyGraph, removed: ReadonlySet<number>, pruned: Model): { jobs: Job[]; skipped: RefitReport['skipped'] } {
  const kept = keptChannels(dep, removed);
  const byOutput = new Map<string, Node>();
  for (const n of pruned.graph.nodes) byOutput.set(n.outputs[0], n);
  const jobs: Job[] = [];
  const skipped: RefitReport['skipped'] = [];
  for (const role of dep.convs) {
    if (!kept.has(role.input) || dep.values.get(role.input)?.constant) continue;
    const label = role.node.name || role.output;
    const node = byOutput.get(role.output);
    if (!node) continue;
    if (role.group !== 1) skipped.push({ layer: label, reason: role.depthwise ? 'depthwise conv' : `grouped conv (group ${role.group})` });
    else if (stringAttr(node, 'auto_pad', 'NOTSET') !== 'NOTSET') skipped.push({ layer: label, reason: 'auto_pad (only explicit pads are handled)' });
    else jobs.push({ role, node, label });
  }
  return { jobs, skipped };
}

/**
 * Refits every dense consumer of a pruned tensor in `pruned` (in place);
 * `dep.model` is the original model that supplies the targets.
 */
export async function refitConsumers(dep: DependencyGraph, removed: ReadonlySet<number>, pruned: Model, calibration: CalibrationSet, options: RefitOptions = {}): Promise<RefitReport> {
  if (calibration.inputs.length === 0) throw new Error('refit needs calibration images');
  const { jobs, skipped } = refitJobs(dep, removed, pruned);
  const kept = keptChannels(dep, removed);
  const maxPositions = options.maxPositions ?? 2048;
  const grid = options.grid ?? REFIT_GRID;
  const seed = options.seed ?? 1;
  const folds = Math.max(1, options.maxFolds ?? 4);
  const maxCvFeatures = options.maxCvFeatures ?? 512;
  const samplesPerFeature = options.samplesPerFeature ?? 8;
  const chosen: number[] = [];
  // small convs are cheap at any size: never fewer than 256 positions per image
  const positionsFor = (features: number) => Math.min(maxPositions, Math.max(256, Math.ceil((samplesPerFeature * features) / calibration.inputs.length)));
  const plan = waves(pruned.graph, jobs, (j) => j.node);
  const layers: LayerRefit[] = [];
  for (const [w, wave] of plan.entries()) {
    const fits = wave.map((job, k) => new ConvFit(pruned.graph, job, kept.get(job.role.output), seed + 7919 * (layers.length + k), (i) => calibrationFold(calibration, i) % folds));
    await forEachActivation(dep.model, calibration, [...new Set(wave.map((j) => j.role.output))], (image, values) => {
      for (const f of fits) f.addTarget(image, values.get(f.job.role.output)!, positionsFor(f.features));
    });
    await forEachActivation(pruned, calibration, [...new Set(wave.map((j) => j.node.inputs[0]))], (image, values) => {
      for (const f of fits) f.addInput(image, values.get(f.job.node.inputs[0])!);
    });
    for (const f of fits) {
      const cv = f.features <= maxCvFeatures;
      const result = f.solve(cv ? grid : [median(chosen) ?? 1]);
      if (cv) chosen.push(result.lambda);
      layers.push({ ...result, lambdaFrom: cv ? 'cv' : 'reused' });
    }
    options.onWave?.(w + 1, plan.length);
  }
  return { layers, skipped, waves: plan.length };
}

/** The ridge problem of one conv: patches of its pruned input → original output at kept channels. */
class ConvFit {
  private readonly stats: RidgeStats;
  private readonly weight: Float32Array;
  private readonly bias: Float32Array;
  private readonly dims: number[];
  private readonly outChannels: number[];
  private readonly positions: Int32Array[] = [];
  private readonly targets: Float32Array[] = [];
  private geo: ConvGeometry | undefined;

  constructor(
    private readonly graph: Graph,
    readonly job: Job,
    keepOut: Int32Array | undefined,
    private readonly seed: number,
    private readonly foldOf: (image: number) => number,
  ) {
    const n = job.node;
    const prod = producers(graph);
    const w = constValue(graph, n.inputs[1], prod);
    if (!w || w.dims.length !== 4) throw new Error(`refit: the weight of '${job.label}' is not a constant 4-D tensor`);
    this.dims = [...w.dims];
    this.weight = toFloat32(w).slice();
    const cout = this.dims[0];
    const b = n.inputs[2] ? constValue(graph, n.inputs[2], prod) : undefined;
    this.bias = b ? toFloat32(b).slice() : new Float32Array(cout);
    this.outChannels = keepOut ? Array.from(keepOut) : Array.from({ length: cout }, (_, i) => i);
    if (this.outChannels.length !== cout) throw new Error(`refit: '${job.label}' has ${cout} outputs, expected ${this.outChannels.length}`);
    this.stats = new RidgeStats(numel(this.dims.slice(1)), cout);
  }

  addTarget(image: number, y: { data: Float32Array; dims: [number, number, number, number] }, maxPositions: number): void {
    const [, , h, w] = y.dims;
    const positions = samplePositions(h * w, maxPositions, this.seed + 104729 * image);
    this.positions[image] = positions;
    this.targets[image] = gatherChannels(y, this.outChannels, positions);
    if (!this.geo) {
      const n = this.job.node;
      const [s, p, d] = [intsAttr(n, 'strides', [1, 1]), intsAttr(n, 'pads', [0, 0, 0, 0]), intsAttr(n, 'dilations', [1, 1])];
      this.geo = { kh: this.dims[2], kw: this.dims[3], strides: [s[0], s[1]], pads: [p[0], p[1], p[2], p[3]], dilations: [d[0], d[1]], outW: w };
    }
  }

  addInput(image: number, x: { data: Float32Array; dims: [number, number, number, number] }): void {
    const positions = this.positions[image];
    if (x.dims[1] !== this.dims[1]) throw new Error(`refit: '${this.job.label}' reads ${x.dims[1]} channels, its weight expects ${this.dims[1]}`);
    this.stats.add(this.foldOf(image), patches(x, 0, this.dims[1], positions, this.geo!), this.targets[image], positions.length);
  }

  get features(): number {
    return this.stats.d;
  }

  /** Fits at the strength of `grid` that CV picks (a single strength: no CV). */
  solve(grid: readonly number[]): Omit<LayerRefit, 'lambdaFrom'> {
    const m = this.dims[0];
    const d = this.stats.d;
    const prior: Matrix = { rows: d, cols: m, data: new Float64Array(d * m) };
    for (let o = 0; o < m; o++) for (let f = 0; f < d; f++) prior.data[f * m + o] = this.weight[o * d + f];
    const q0 = Float64Array.from(this.bias);
    const images = this.stats.groups.length;
    let before = 0, after = 0;
    for (let i = 0; i < images; i++) before += this.stats.groupError(i, prior, q0);
    const fit = grid.length > 1 ? this.stats.fitCV(grid, prior, { search: 'unimodal' }) : { ...this.stats.fit(grid[0], prior), lambda: grid[0], cvError: [] };
    for (let i = 0; i < images; i++) after += this.stats.groupError(i, fit.P, fit.q);
    const heldOut = fit.cvError.length ? fit.cvError[grid.indexOf(fit.lambda)] : NaN;
    const spread = centredEnergy(this.targets, m);
    const base = { layer: this.job.label, lambda: fit.lambda, samples: this.positions.reduce((s, p) => s + p.length, 0), features: d, errorBefore: before / spread, heldOutAfter: heldOut / spread };
    // a refit that does no better on left-out images than the weights it started from only memorises
    if (heldOut >= before) return { ...base, errorAfter: before / spread, kept: true };
    for (let o = 0; o < m; o++) {
      for (let f = 0; f < d; f++) this.weight[o * d + f] = fit.P.data[f * m + o];
      this.bias[o] = fit.q[o];
    }
    writeConvParameters(this.graph, this.job.node, this.dims, this.weight, this.bias, 'refit');
    return { ...base, errorAfter: after / spread, kept: false };
  }
}

function median(xs: readonly number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
