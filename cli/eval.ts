import { loadDataset } from '../compress/detect/dataset.js';
import { openDetector, type Detector } from '../compress/detect/detector.js';
import { evaluateFidelity, evaluateMap, FIDELITY_DEFAULTS, MAP_DEFAULTS, type FidelityEvaluation, type MapEvaluation } from '../compress/detect/evaluate.js';
import { progressBar } from '../compress/detect/progress.js';
import { UsageError, numberFlag, parse, printJson, requireFlag } from './args.js';

const COMMAND = 'eval';
const flags = {
  data: { type: 'string' },
  baseline: { type: 'string' },
  conf: { type: 'string' },
  iou: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const pct = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(4));

function mapSummary(r: MapEvaluation, detector: Detector) {
  return {
    images: r.images,
    instances: r.instances,
    map50: r.map50,
    map75: r.map75,
    map50_95: r.map50_95,
    perClass: r.perClass.map((c) => ({ ...c, className: detector.className(c.classId) })),
    timings: r.timings,
  };
}

function fidelitySummary(r: FidelityEvaluation) {
  return { fidelity: r.fidelity, map50: r.map50, images: r.images, baselineBoxes: r.baselineBoxes };
}

/**
 * `edgefit eval MODEL --data DIR [--baseline MODEL] [--conf 0.001] [--iou 0.7] [--json]`:
 * mAP against YOLO labels (when DIR has them) and, with --baseline, fidelity to
 * the baseline model's own detections (fixed conf/IoU, see FIDELITY_DEFAULTS).
 */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(COMMAND, argv, flags);
  if (positionals.length !== 1) throw new UsageError(`${COMMAND}: expected one MODEL, got ${positionals.length}`);
  const data = requireFlag(COMMAND, 'data', values.data);
  const conf = numberFlag(COMMAND, 'conf', values.conf, MAP_DEFAULTS.conf, 0, 1);
  const iou = numberFlag(COMMAND, 'iou', values.iou, MAP_DEFAULTS.iou, 0, 1);
  const dataset = await loadDataset(data);
  for (const w of dataset.warnings) process.stderr.write(`warning: ${w}\n`);
  if (!dataset.labeled && !values.baseline) {
    // the command line is fine; the folder cannot give what it asks for
    process.stderr.write(`edgefit ${COMMAND}: ${data} has no YOLO labels (images/ beside labels/); give a labeled dataset, or --baseline MODEL to measure fidelity\n`);
    return 1;
  }
  // fidelity runs at FIDELITY_DEFAULTS: thresholds given for an mAP that will not be measured must not look applied
  if (!dataset.labeled && (values.conf !== undefined || values.iou !== undefined)) {
    throw new UsageError(`${COMMAND}: --conf and --iou set the mAP evaluation, and ${data} has no labels; fidelity to --baseline uses conf ${FIDELITY_DEFAULTS.baselineConf}, NMS IoU ${FIDELITY_DEFAULTS.iou}`);
  }

  const detector = await openDetector(positionals[0]);
  const baseline = values.baseline ? await openDetector(values.baseline) : undefined;
  const report: { model: string; data: string; map?: ReturnType<typeof mapSummary>; fidelity?: ReturnType<typeof fidelitySummary> & { baseline: string } } = {
    model: positionals[0],
    data: dataset.root,
  };
  try {
    if (dataset.labeled) {
      const bar = progressBar('mAP');
      const r = await evaluateMap(detector, dataset, { conf, iou, onProgress: bar.update });
      bar.finish();
      report.map = mapSummary(r, detector);
    }
    if (baseline && values.baseline) {
      const bar = progressBar('fidelity');
      const r = await evaluateFidelity(detector, baseline, dataset.items.map((i) => i.imagePath), { onProgress: bar.update });
      bar.finish();
      report.fidelity = { ...fidelitySummary(r), baseline: values.baseline };
    }
  } finally {
    await detector.release();
    await baseline?.release();
  }

  if (values.json) {
    printJson(report);
    return 0;
  }
  const out: string[] = [`${report.model} on ${report.data}`];
  if (report.map) {
    const m = report.map;
    out.push(`mAP (conf ${conf}, NMS IoU ${iou}): ${m.images} images, ${m.instances} labelled objects`);
    out.push(`  mAP50 ${pct(m.map50)}   mAP75 ${pct(m.map75)}   mAP50-95 ${pct(m.map50_95)}`);
    out.push(`  ${'class'.padEnd(16)} ${'gt'.padStart(4)} ${'dets'.padStart(6)}  ${'AP50'.padStart(6)}  ${'AP50-95'.padStart(7)}`);
    for (const c of m.perClass) {
      out.push(`  ${c.className.padEnd(16)} ${String(c.groundTruth).padStart(4)} ${String(c.detections).padStart(6)}  ${pct(c.ap50).padStart(6)}  ${pct(c.ap).padStart(7)}`);
    }
    out.push(`  mean inference ${m.timings.meanInferenceMs.toFixed(1)} ms/image`);
  }
  if (report.fidelity) {
    const f = report.fidelity;
    out.push(`fidelity to ${f.baseline} (its boxes at conf ${FIDELITY_DEFAULTS.baselineConf} as ground truth, NMS IoU ${FIDELITY_DEFAULTS.iou}): ${pct(f.fidelity)} mAP50-95, ${pct(f.map50)} mAP50 over ${f.baselineBoxes} boxes in ${f.images} images`);
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
