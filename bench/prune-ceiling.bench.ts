// How much of a sensitivity-allocated cut training-free recovery could ever
// win back, found by giving it what no real run has: the held-out images.
// Two bounds on the fixture YOLOv8n at one FLOPs cut (default 10%):
// - the calibration plan, recovered by substitution fitted on held-out views
//   (the regression sees the very classes and scales it is judged on);
// - the plan an allocator would choose if it knew each group's held-out loss
//   after recovery (every group pruned alone, recovered, judged on the 263
//   held-out boxes), recovered from calibration as usual.
// When both bounds sit within a few thousandths of the plain plan, recovery has
// nothing left to raise at that cut, whatever the calibration images.
// Run: npm run build && node dist/bench/prune-ceiling.bench.js
// EDGEFIT_BENCH_METHOD (default l1) and EDGEFIT_BENCH_CUT (default 0.1) pick the cell;
// the held-out per-group losses take ~5 min on 2 cores.
import path from 'node:path';
import { calibrationFold, calibrationFromFiles } from '../compress/calibration.js';
import { sha256Hex } from '../compress/lineage.js';
import type { Model } from '../compress/onnx/ir.js';
import { collectActivations, type SampledActivations } from '../compress/prune/activations.js';
import { planFromCounts, type Plan } from '../compress/prune/allocate.js';
import { METHODS, type ImportanceMethod } from '../compress/prune/importance.js';
import { pruneModel } from '../compress/prune/prune.js';
import { sensitivityPlan, type SensitivityProfile } from '../compress/prune/sensitivity-profile.js';
import { substituteChannels, substitutionTargets } from '../compress/prune/substitute.js';
import { applyPruning } from '../compress/prune/surgery.js';
import { fixtureModelOrSkip, repoRoot, writeReport } from './common.js';
import { heldOutProtocol } from './held-out-views.js';

const VIEWS_PER_IMAGE = 8;

async function main(): Promise<void> {
  const file = fixtureModelOrSkip('prune-ceiling');
  if (!file) return;
  const method = (process.env.EDGEFIT_BENCH_METHOD ?? 'l1') as ImportanceMethod;
  if (!METHODS.includes(method)) throw new Error(`EDGEFIT_BENCH_METHOD: '${method}' is not one of ${METHODS.join(', ')}`);
  const cut = Number(process.env.EDGEFIT_BENCH_CUT ?? 0.1);
  if (!(cut > 0 && cut < 1)) throw new Error(`EDGEFIT_BENCH_CUT: expected a fraction in (0, 1), got '${process.env.EDGEFIT_BENCH_CUT}'`);
  const { bytes, model, calibration, heldOut, baseline, views, judge } = await heldOutProtocol(file, VIEWS_PER_IMAGE);

  const r = await pruneModel(model, {
    method, flopsCut: cut, sensitivity: true, reconstruct: true, recalibrate: false,
    calibration, baseSha256: sha256Hex(bytes), cacheDir: path.join(repoRoot, 'bench-output', 'prune-cache'),
  });
  const { index, importance, plan } = r;
  const recovered = (p: Plan, samples: Map<string, SampledActivations>): Model => {
    const pruned = applyPruning(index.dep, p.removed);
    substituteChannels(index.dep, p.removed, pruned, { samples });
    return pruned;
  };

  // substitution fitted on the held-out images, seen through the calibration's own kind of views
  const oracleSet = await calibrationFromFiles(heldOut, calibration.size, { viewsPerImage: VIEWS_PER_IMAGE });
  const oracleSamples = await collectActivations(model, oracleSet.inputs, oracleSet.size, substitutionTargets(index.dep, plan.removed), {
    positions: Math.round(1024 / VIEWS_PER_IMAGE),
    folds: oracleSet.inputs.map((_, i) => calibrationFold(oracleSet, i)),
  });

  // each measured group level again, now judged on the held-out views after recovery
  const profile: SensitivityProfile = { key: 'held-out', groups: [] };
  for (const [g, group] of r.report.groups.entries()) {
    const levels = [];
    for (const level of group.sensitivity ?? []) {
      const alone = planFromCounts(index, importance, index.groups.map((_, h) => (h === g ? level.removed : 0)));
      const fidelity = await views.measure(recovered(alone, r.activations!));
      levels.push({ removed: level.removed, fidelity, discrepancy: 0, loss: 1 - fidelity });
    }
    profile.groups.push({ group: group.name, units: group.channels, levels });
  }
  const oraclePlan = sensitivityPlan(index, importance, profile, cut);

  const rows: [string, { views: number; images: number }][] = [
    ['calibration plan, no recovery', await judge(applyPruning(index.dep, plan.removed))],
    ['calibration plan, substitution from calibration (what --reconstruct fits)', await judge(r.model)],
    ['calibration plan, substitution fitted on the held-out images', await judge(recovered(plan, oracleSamples))],
    ['plan from held-out per-group losses, no recovery', await judge(applyPruning(index.dep, oraclePlan.removed))],
    ['plan from held-out per-group losses, substitution from calibration', await judge(recovered(oraclePlan, r.activations!))],
  ];
  await baseline.release();
  const named = (p: Plan) => p.removedPerGroup.flatMap((n, g) => (n ? [`${index.groups[g].name} −${n}`] : [])).join(', ');
  const table = `| ${method}, ${(cut * 100).toFixed(0)}% fewer FLOPs | ${views.boxes} boxes (48 views) | 6 images |\n|---|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v.views.toFixed(4)} | ${v.images.toFixed(4)} |`).join('\n')}`;
  const best = Math.max(...rows.slice(1).map(([, v]) => v.views));
  const summary = `best bound ${best.toFixed(4)} against ${rows[0][1].views.toFixed(4)} unrecovered on the held-out views (${(best - rows[0][1].views >= 0 ? '+' : '')}${(best - rows[0][1].views).toFixed(4)})`;
  console.log(`${table}\n\ncalibration plan: ${named(plan)}\nheld-out plan: ${named(oraclePlan)}\n${summary}`);
  writeReport(`prune-ceiling-${method}-${Math.round(cut * 100)}.md`, `# What training-free recovery could win back: ${method}, ${(cut * 100).toFixed(0)}% fewer FLOPs\n\nFidelity (mAP50-95 against the unpruned model) on the held-out images; the bounds use held-out information no real run has.\n\n${table}\n\n- calibration plan: ${named(plan)}\n- plan from held-out losses: ${named(oraclePlan)}\n\n${summary}\n`);
}

await main();
