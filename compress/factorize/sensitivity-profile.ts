// Sensitivity allocation for factorization (--sensitivity): each layer is
// factorized alone at a few retained-energy levels, its loss measured as
// disagreement with the base model on the calibration inputs
// (compress/agreement.ts), and the generic allocator
// (compress/sensitivity.ts) spends the FLOPs cut on the layers that mind it
// least. Each measurement is a full model run, so the levels are few.
import type { Model } from '../onnx/ir.js';
import { removeDeadCode } from '../onnx/graph.js';
import type { CalibrationSet } from '../calibration.js';
import { AgreementJudge } from '../agreement.js';
import { allocateBySensitivity, type SensitivityUnit } from '../sensitivity.js';
import { applyFactorization } from './rewrite.js';
import type { LayerChoice } from './allocate.js';
import type { LayerFactorizer, RankOption } from './layer.js';

export const SENSITIVITY_LEVELS = [0.97, 0.93, 0.88, 0.8] as const;

export interface LayerSensitivity {
  layer: string;
  levels: { rank: number; energy: number; saving: number; fidelity: number; discrepancy: number; loss: number }[];
}

/** The cheapest option keeping ≥ `level` of the energy, its channel rank rounded up to a multiple of 8 when that exists. */
function optionFor(layer: LayerFactorizer, level: number): RankOption | undefined {
  let best: RankOption | undefined;
  for (const o of layer.options) if (o.energy >= level && (!best || o.flops < best.flops)) best = o;
  if (best && layer.channelRank && best.rank % 8 !== 0) best = layer.options.find((o) => o.rank === Math.ceil(best!.rank / 8) * 8) ?? best;
  return best;
}

export async function measureSensitivity(
  model: Model,
  layers: readonly LayerFactorizer[],
  calibration: CalibrationSet,
  onProgress?: (done: number, total: number) => void,
): Promise<LayerSensitivity[]> {
  const judge = await AgreementJudge.create(model, calibration);
  const jobs = layers.flatMap((layer) => {
    const seen = new Set<number>();
    return SENSITIVITY_LEVELS.map((level) => optionFor(layer, level)).filter((o): o is RankOption => !!o && !seen.has(o.rank) && !!seen.add(o.rank)).map((option) => ({ layer, option }));
  });
  const out = new Map<LayerFactorizer, LayerSensitivity>(layers.map((l) => [l, { layer: l.target.name, levels: [] }]));
  for (const [k, { layer, option }] of jobs.entries()) {
    const candidate = structuredClone(model);
    applyFactorization(candidate.graph, layer.target.name, layer.build(option.rank));
    removeDeadCode(candidate.graph);
    out.get(layer)!.levels.push({ rank: option.rank, energy: option.energy, saving: layer.target.flops - option.flops, ...(await judge.judge(candidate)) });
    onProgress?.(k + 1, jobs.length);
  }
  return layers.map((l) => out.get(l)!);
}

/** Ranks that save `saving` FLOPs where the measured losses are smallest; undefined when the levels cannot reach it. */
export function allocateFromSensitivity(layers: readonly LayerFactorizer[], profile: readonly LayerSensitivity[], saving: number): LayerChoice[] | undefined {
  const units: SensitivityUnit[] = profile.map((p) => ({ levels: [...p.levels].sort((a, b) => a.saving - b.saving).map(({ saving: s, loss }) => ({ saving: s, loss })) }));
  const alloc = allocateBySensitivity(units, saving);
  if (!alloc.reached) return undefined;
  return layers.map((layer, i) => {
    const level = alloc.levels[i];
    if (level === 0) return { layer, option: null };
    const chosen = [...profile[i].levels].sort((a, b) => a.saving - b.saving)[level - 1];
    return { layer, option: layer.options.find((o) => o.rank === chosen.rank)! };
  });
}
