// Ridge refit of the last conv of every factorization, without gradients:
// its inputs come from the factorized model's own activations (so it also
// corrects the error of the layers before it), its targets are the original
// conv's pre-activation output at the same positions. The ridge pulls toward
// the SVD weights, with the strength chosen by leave-one-image-out CV.
// Layers are refit in waves: a wave holds layers none of which feeds another,
// so one run of the model serves the whole wave.
import { floatTensor, intAttr, intsAttr, type Graph, type Model } from '../onnx/ir.js';
import { constValue, producers } from '../onnx/graph.js';
import { RidgeStats, RIDGE_GRID } from '../linalg/ridge.js';
import { type Matrix } from '../linalg/matrix.js';
import { calibrationFold, type CalibrationSet } from '../calibration.js';
import { forEachActivation, type Float32Tensor4 } from '../fit/activations.js';
import { centredEnergy, gatherChannels, patches, samplePositions, type ConvGeometry } from '../fit/samples.js';
import type { RewrittenLayer } from './rewrite.js';
import { waves } from '../fit/waves.js';

export interface RefitOptions {
  /** Output positions sampled per image and layer (at most). */
  maxPositions?: number;
  grid?: readonly number[];
  seed?: number;
}

export interface LayerRefit {
  layer: string;
  lambda: number;
  samples: number;
  features: number;
  /**
   * Leave-one-image-out squared error relative to Σ‖y − ȳ‖²: of the SVD
   * weights as they were, and of the refit at the chosen strength.
   */
  heldOutErrorBefore: number;
  heldOutErrorAfter: number;
}

/**
 * The CV grid: RIDGE_GRID from 0.01 to 10. On YOLOv8n every layer chose
 * 0.03–3. Each strength tried costs one Cholesky solve per image, the bulk of
 * refit time, so the CV error is searched as a unimodal curve along the grid
 * rather than tried everywhere.
 */
export const REFIT_GRID: readonly number[] = RIDGE_GRID.filter((l) => l >= 1e-2 && l <= 10);

interface Target {
  positions: Int32Array[];
  /** Per image: targets at the sampled positions, in the last conv's output channel order. */
  y: Float32Array[];
  outW: number;
}

/** Refits every layer's last conv in place in `factorized`; `original` supplies the targets. */
export async function refitLastConvs(original: Model, factorized: Model, layers: readonly RewrittenLayer[], calibration: CalibrationSet, options: RefitOptions = {}): Promise<LayerRefit[]> {
  if (calibration.inputs.length === 0) throw new Error('refit needs calibration images');
  const maxPositions = options.maxPositions ?? 2048;
  const grid = options.grid ?? REFIT_GRID;
  const seed = options.seed ?? 1;
  const targets = new Map<RewrittenLayer, Target>(layers.map((l) => [l, { positions: [], y: [], outW: 0 }]));
  await forEachActivation(original, calibration, [...new Set(layers.map((l) => l.output))], (image, values) => {
    layers.forEach((l, li) => {
      const y = values.get(l.output)!;
      const [, c, h, w] = y.dims;
      const positions = samplePositions(h * w, maxPositions, seed + 7919 * li + 104729 * image);
      const t = targets.get(l)!;
      t.positions.push(positions);
      t.y.push(gatherChannels(y, l.outputChannels ?? Array.from({ length: c }, (_, j) => j), positions));
      t.outW = w;
    });
  });
  const results: LayerRefit[] = [];
  for (const wave of waves(factorized.graph, layers, (l) => l.lastConv)) {
    const fits = wave.map((l) => new LayerFit(factorized.graph, l, targets.get(l)!));
    await forEachActivation(factorized, calibration, [...new Set(wave.map((l) => l.lastInput))], (image, values) => {
      for (const f of fits) f.add(image, calibrationFold(calibration, image), values.get(f.layer.lastInput)!);
    });
    for (const f of fits) results.push(f.solve(grid));
  }
  return results;
}

/** The ridge problems of one layer's last conv: one per conv group. */
class LayerFit {
  private readonly stats: RidgeStats[];
  private readonly geo: ConvGeometry;
  private readonly cig: number;
  private readonly cog: number;
  private readonly groups: number;
  private readonly weight: Float32Array;
  private readonly bias: Float32Array;

  constructor(
    private readonly graph: Graph,
    readonly layer: RewrittenLayer,
    private readonly target: Target,
  ) {
    const n = layer.lastConv;
    const prod = producers(graph);
    const w = constValue(graph, n.inputs[1], prod);
    if (!w || w.dims.length !== 4) throw new Error(`refit: the weight of '${n.name}' is not a constant 4-D tensor`);
    this.weight = w.data as Float32Array;
    const [cout, cig, kh, kw] = w.dims;
    const b = n.inputs[2] ? constValue(graph, n.inputs[2], prod) : undefined;
    this.bias = b ? (b.data as Float32Array) : new Float32Array(cout);
    this.groups = intAttr(n, 'group', 1);
    this.cig = cig;
    this.cog = cout / this.groups;
    const [s, p, d] = [intsAttr(n, 'strides', [1, 1]), intsAttr(n, 'pads', [0, 0, 0, 0]), intsAttr(n, 'dilations', [1, 1])];
    this.geo = { kh, kw, strides: [s[0], s[1]], pads: [p[0], p[1], p[2], p[3]], dilations: [d[0], d[1]], outW: target.outW };
    this.stats = Array.from({ length: this.groups }, () => new RidgeStats(cig * kh * kw, this.cog));
  }

  add(image: number, fold: number, x: Float32Tensor4): void {
    const positions = this.target.positions[image];
    const y = this.target.y[image];
    const m = this.cog;
    const cout = m * this.groups;
    this.stats.forEach((st, g) => {
      const xs = patches(x, g * this.cig, this.cig, positions, this.geo);
      const ys = this.groups === 1 ? y : new Float32Array(positions.length * m);
      if (this.groups > 1) for (let s = 0; s < positions.length; s++) ys.set(y.subarray(s * cout + g * m, s * cout + (g + 1) * m), s * m);
      st.add(fold, xs, ys, positions.length);
    });
  }

  solve(grid: readonly number[]): LayerRefit {
    const d = this.cig * this.geo.kh * this.geo.kw;
    const m = this.cog;
    let before = 0, after = 0, lambdaSum = 0;
    this.stats.forEach((st, g) => {
      const prior: Matrix = { rows: d, cols: m, data: new Float64Array(d * m) };
      for (let o = 0; o < m; o++) for (let f = 0; f < d; f++) prior.data[f * m + o] = this.weight[(g * m + o) * d + f];
      const q0 = Float64Array.from(this.bias.subarray(g * m, (g + 1) * m));
      for (let i = 0; i < st.groups.length; i++) before += st.groupError(i, prior, q0);
      const fit = st.fitCV(grid, prior, { search: 'unimodal' });
      after += fit.cvError.length ? fit.cvError[grid.indexOf(fit.lambda)] : NaN;
      lambdaSum += fit.lambda;
      for (let o = 0; o < m; o++) {
        for (let f = 0; f < d; f++) this.weight[(g * m + o) * d + f] = fit.P.data[f * m + o];
        this.bias[g * m + o] = fit.q[o];
      }
    });
    this.attachBias();
    const spread = centredEnergy(this.target.y, m * this.groups);
    return {
      layer: this.layer.original,
      lambda: lambdaSum / this.groups,
      samples: this.target.positions.reduce((s, p) => s + p.length, 0),
      features: d,
      heldOutErrorBefore: before / spread,
      heldOutErrorAfter: after / spread,
    };
  }

  /** A bias-less last conv gets the fitted intercept as a new bias input. */
  private attachBias(): void {
    const n = this.layer.lastConv;
    if (n.inputs[2]) return;
    const name = `${n.inputs[1]}.refit_bias`;
    this.graph.initializers.set(name, floatTensor(name, [this.bias.length], this.bias));
    n.inputs = [n.inputs[0], n.inputs[1], name];
  }
}
