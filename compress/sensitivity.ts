// Sensitivity-aware allocation (NetAdapt's idea, with a measured accuracy
// loss as the measure): every unit (a channel group, a conv to factorize...)
// offers levels of compression, each with a cost saving and a loss measured
// when that unit alone is compressed to that level. The allocator spends a
// saving target on the cheapest loss per unit of saving first, so fragile
// units stay whole while robust ones give more. Losses are assumed additive,
// savings too; callers check the real saving of the result.

export interface SensitivityLevel {
  /** What this level saves (FLOPs, bytes...), relative to the unit untouched. */
  saving: number;
  /** Measured loss (e.g. 1 − fidelity) with only this unit at this level. */
  loss: number;
}

export interface SensitivityUnit {
  /** Levels in increasing saving; level 0 (untouched: saving 0, loss 0) is implied. */
  levels: SensitivityLevel[];
}

export interface SensitivityAllocation {
  /** Chosen level per unit: 0 = untouched, k = levels[k − 1]. */
  levels: number[];
  saving: number;
  /** Sum of the chosen levels' losses (the additive estimate). */
  loss: number;
  reached: boolean;
}

/**
 * Greedy allocation: repeatedly moves the one unit whose move to any higher
 * level costs the least extra loss per extra saving, until `target` is saved.
 * Looking past the next level lets a unit whose first level happens to hurt
 * more than its second still be chosen; a move that reaches the target with
 * less extra loss than the best-ratio move wins, so the last step does not
 * overshoot into a fragile unit.
 */
export function allocateBySensitivity(units: readonly SensitivityUnit[], target: number, maxLoss = Infinity): SensitivityAllocation {
  const levels = new Array<number>(units.length).fill(0);
  const at = (u: number, l: number): SensitivityLevel => (l === 0 ? { saving: 0, loss: 0 } : units[u].levels[l - 1]);
  let saving = 0;
  let loss = 0;
  while (saving < target) {
    let best: { u: number; l: number; score: number; dl: number } | undefined;
    let finisher: { u: number; l: number; dl: number } | undefined;
    units.forEach((unit, u) => {
      const cur = at(u, levels[u]);
      for (let l = levels[u] + 1; l <= unit.levels.length; l++) {
        const next = at(u, l);
        const ds = next.saving - cur.saving;
        if (ds <= 0) continue;
        const dl = Math.max(0, next.loss - cur.loss);
        if (loss + dl > maxLoss) continue;
        const score = (dl + 1e-9) / ds;
        if (!best || score < best.score) best = { u, l, score, dl };
        if (saving + ds >= target && (!finisher || dl < finisher.dl)) finisher = { u, l, dl };
      }
    });
    if (!best) break;
    const pick = finisher && finisher.dl <= best.dl ? finisher : best;
    const before = at(pick.u, levels[pick.u]);
    const after = at(pick.u, pick.l);
    saving += after.saving - before.saving;
    loss += Math.max(0, after.loss - before.loss);
    levels[pick.u] = pick.l;
  }
  return { levels, saving, loss, reached: saving >= target };
}
