// Which tensors' substitutions a pruned model keeps. Substitution regresses a
// tensor's removed channels on its kept ones; where the calibration images do
// not show what the held-out ones do, one tensor's regression can undo what
// the others win. Measured on the fixture (l1, sensitivity allocation, 20%
// fewer FLOPs, six substituted tensors): substituting the stride-16 class
// branch's first conv output (40 of 80 channels gone) alone took the 263-box
// held-out views from 0.754 to 0.599, while the other five together gained;
// substituting all six gave 0.618. Judged per tensor on held-back calibration
// sources that tensor raised the agreement loss 0.36 → 0.64 (in-sample
// 0.22 → 0.28), and a whole-model judgement could only keep or refuse all six.
// So each tensor is judged on its own, greedily in graph order: its
// regression fitted on one half of the source images joins the substitutions
// kept so far, judged on the other half, both ways, and it stays only where
// the summed agreement loss falls. With a single source image nothing can be
// held back and the fit is judged on the inputs it came from.
import { AgreementJudge } from '../agreement.js';
import { crossHalves, type CalibrationSet } from '../calibration.js';
import type { Model } from '../onnx/ir.js';
import type { SampledActivations } from './activations.js';
import type { DependencyGraph } from './dependency.js';
import { substituteChannels, substitutionTargets } from './substitute.js';
import { applyPruning } from './surgery.js';

export interface SubstitutionVerdict {
  tensor: string;
  /** Agreement loss with the base model, summed over the judged halves, with the substitutions kept so far and with this tensor's added. */
  before: number;
  after: number;
  kept: boolean;
}

export interface SubstitutionGuardReport {
  /** Judged on held-back calibration sources (false: one source, judged in-sample). */
  heldBack: boolean;
  tensors: SubstitutionVerdict[];
}

/** The sampled rows of `names` whose fold (source image) is in `folds` (every fold when undefined). */
export function samplesOf(samples: ReadonlyMap<string, SampledActivations>, names: Iterable<string>, folds?: ReadonlySet<number>): Map<string, SampledActivations> {
  const out = new Map<string, SampledActivations>();
  for (const name of names) {
    const s = samples.get(name);
    if (!s) continue;
    if (!folds) {
      out.set(name, s);
      continue;
    }
    const keep = s.folds.map((f) => folds.has(f));
    out.set(name, { ...s, rows: s.rows.filter((_, i) => keep[i]), folds: s.folds.filter((_, i) => keep[i]) });
  }
  return out;
}

/**
 * The substitution targets worth keeping, judged as the file's head says.
 * `samples` must come from `calibration`, each input's fold its source (as
 * pruneModel collects them). Costs two judgements of half the calibration
 * inputs per target tensor.
 */
export async function guardSubstitution(
  dep: DependencyGraph,
  removed: ReadonlySet<number>,
  samples: ReadonlyMap<string, SampledActivations>,
  calibration: CalibrationSet,
  onTensor?: (done: number, total: number) => void,
): Promise<{ kept: string[]; report: SubstitutionGuardReport }> {
  const targets = substitutionTargets(dep, removed).filter((t) => samples.has(t));
  const halves = crossHalves(calibration);
  // [the source images fitted on (all when undefined), judged on]
  const folds: [ReadonlySet<number> | undefined, CalibrationSet][] = halves ? halves.map(([fit, held]) => [new Set(fit.sources), held]) : [[undefined, calibration]];
  const judges = await Promise.all(folds.map(([, held]) => AgreementJudge.create(dep.model, held)));
  const lossOf = (models: Model[]) => Promise.all(models.map(async (m, k) => (await judges[k].judge(m)).loss));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  let current = folds.map(() => applyPruning(dep, removed));
  let losses = await lossOf(current);
  const kept: string[] = [];
  const tensors: SubstitutionVerdict[] = [];
  for (const [i, tensor] of targets.entries()) {
    const trial = folds.map(([fit], k) => {
      const m = structuredClone(current[k]);
      substituteChannels(dep, removed, m, { samples: samplesOf(samples, [tensor], fit) });
      return m;
    });
    const after = await lossOf(trial);
    const verdict = { tensor, before: sum(losses), after: sum(after), kept: sum(after) < sum(losses) };
    tensors.push(verdict);
    if (verdict.kept) {
      kept.push(tensor);
      current = trial;
      losses = after;
    }
    onTensor?.(i + 1, targets.length);
  }
  return { kept, report: { heldBack: !!halves, tensors } };
}
