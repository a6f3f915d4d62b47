import type { GuardedRecalibration } from '../compress/prune/recalibrate.js';

/** One line on the guarded statistics recalibration, for prune and factorize alike. */
export function recalibrationSummary(r: GuardedRecalibration): string {
  const heldBack = r.heldBack ? `agreement loss on held-back calibration sources ${r.heldBack.before.toFixed(3)} → ${r.heldBack.after.toFixed(3)}, ` : '';
  if (r.loss.after === undefined) return `${r.convs} convs to recalibrate; ${heldBack}no better, not fitted on every input`;
  const loss = `on the calibration inputs ${r.loss.before.toFixed(3)} → ${r.loss.after.toFixed(3)}`;
  return `${r.convs} convs recalibrated in ${r.waves} waves (channel scale ${r.scale.min.toFixed(2)}–${r.scale.max.toFixed(2)}, median ${r.scale.median.toFixed(2)}); ${heldBack}${r.heldBack ? '' : 'agreement loss '}${loss}: ${r.applied ? 'kept' : 'no better, discarded'}`;
}
