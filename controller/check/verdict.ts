// The verdict of the on-device check, pure. Two comparisons, because one is
// not enough:
// - fidelity: mAP50-95 of the device's detections against the same candidate's
//   detections on the controller's CPU (the candidate's boxes at conf 0.25 are
//   the ground truth, the device's at conf 0.001 are ranked against them, as
//   compress/detect/evaluate.ts measures fidelity). It catches an execution
//   provider that computes something else than the controller does.
// - against the base model: a candidate broken everywhere (every class score 0,
//   like the qlinear fixture) agrees with itself on every machine, so the
//   device must also find at least a share of what the base model finds.
import { FIDELITY_DEFAULTS } from '../../compress/detect/evaluate.js';
import { computeMap, type ImageEvaluation, type ScoredBox } from '../../compress/detect/map.js';
import type { CheckReport, Detection } from '../../protocol/messages.js';

export const DEFAULT_CHECK_THRESHOLD = 0.9;
/** Fewer than this share of the base model's objects counts as "finds next to nothing". */
export const DEFAULT_MIN_BASE_SHARE = 0.1;

/** The controller's reference on one frame: the same candidate's and the base model's boxes at conf 0.25. */
export interface FrameReference {
  sha256: string;
  candidate: readonly Detection[];
  base: readonly Detection[];
}

export interface CheckVerdict {
  /** mAP50-95 against the controller's run of the same candidate; null when neither finds anything to compare. */
  fidelity: number | null;
  ok: boolean;
  reason: string;
}

export interface VerdictOptions {
  threshold?: number;
  minBaseShare?: number;
}

const toBox = (d: Detection): ScoredBox => ({ box: [d[0], d[1], d[2], d[3]], score: d[4], classId: d[5] });
const found = (ds: readonly Detection[]) => ds.filter((d) => d[4] >= FIDELITY_DEFAULTS.baselineConf).length;

/** Judges a device's check report against the controller's reference frames. */
export function checkVerdict(device: CheckReport, reference: readonly FrameReference[], opts: VerdictOptions = {}): CheckVerdict {
  const threshold = opts.threshold ?? DEFAULT_CHECK_THRESHOLD;
  const minBaseShare = opts.minBaseShare ?? DEFAULT_MIN_BASE_SHARE;
  const n = reference.length;
  const byFrame = new Map(device.frames.map((f) => [f.sha256, f.detections] as const));
  const missing = reference.filter((r) => !byFrame.has(r.sha256)).length;
  if (n === 0) return { fidelity: null, ok: true, reason: 'on-device check: no reference frames, nothing compared' };
  if (missing > 0) return { fidelity: null, ok: false, reason: `on-device check: the device answered for ${n - missing} of ${n} reference frames` };

  const evaluations: ImageEvaluation[] = reference.map((r) => ({ detections: byFrame.get(r.sha256)!.map(toBox), groundTruth: r.candidate.map(toBox) }));
  const onDevice = reference.reduce((s, r) => s + found(byFrame.get(r.sha256)!), 0);
  const onController = reference.reduce((s, r) => s + r.candidate.length, 0);
  const ofBase = reference.reduce((s, r) => s + r.base.length, 0);
  const frames = `${n} reference frame${n === 1 ? '' : 's'}`;

  // The controller's run finds nothing: mAP is undefined, unless the device finds objects it does not (then nothing it finds is right).
  const map = computeMap(evaluations).map50_95;
  const fidelity = onController > 0 ? map : onDevice > 0 ? 0 : null;

  if (ofBase > 0 && onDevice < minBaseShare * ofBase) {
    return { fidelity, ok: false, reason: `on-device check: finds ${onDevice} object${onDevice === 1 ? '' : 's'} on ${frames} where the base model finds ${ofBase} (under ${Math.round(minBaseShare * 100)} %)` };
  }
  if (fidelity !== null && fidelity < threshold) {
    return { fidelity, ok: false, reason: `on-device check: fidelity ${fidelity.toFixed(3)} below ${threshold} (the device's detections against the same candidate on the controller, mAP50-95 on ${frames})` };
  }
  if (fidelity === null) return { fidelity, ok: true, reason: `on-device check: neither the device nor the controller finds objects on ${frames}; nothing to compare` };
  return { fidelity, ok: true, reason: `on-device check: fidelity ${fidelity.toFixed(3)} ≥ ${threshold} on ${frames}` };
}
