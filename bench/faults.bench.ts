// The fault campaign: N seeded runs (default 50), each a staged rollout to
// three real agents with one fault fired mid-rollout (bench/faults/plan.ts),
// then the invariants checked (bench/faults/invariants.ts). Prints and writes
// to bench-output/faults.md the count of each fault and of each invariant
// broken (the goal is zero), and every broken one with its reason.
// Run: npm run build && node dist/bench/faults.bench.js [RUNS] [FIRST_SEED]
// Needs root for namespaces and tmpfs (runs that need what is missing are skipped, with the reason).
import { writeReport } from './common.js';
import { tmpfsUnavailable } from './faults/disk.js';
import { cleanLeftovers, closeAllFleets } from './faults/fleet.js';
import { INVARIANTS, type Invariant } from './faults/invariants.js';
import { netnsUnavailable } from './faults/netns.js';
import { FAULTS, planRun, type FaultKind } from './faults/plan.js';
import { mosquittoBin } from './faults/processes.js';
import { runFault, type RunResult } from './faults/run.js';
import os from 'node:os';

const runs = Number(process.argv[2] ?? process.env.FAULT_RUNS ?? 50);
const firstSeed = Number(process.argv[3] ?? 1);
/** FAULT_REPORT names the table's file in bench-output/ (two campaigns side by side). */
const reportName = process.env.FAULT_REPORT ?? 'faults.md';

async function main(): Promise<void> {
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(firstSeed)) {
    console.error('usage: faults.bench.js [RUNS] [FIRST_SEED]');
    process.exit(2);
  }
  // ^C closes the open fleets first: no agent, namespace or mount is left behind
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void closeAllFleets().finally(() => process.exit(130)));
  const left = cleanLeftovers();
  if (left.length) console.log(`removed leftovers of killed runs: ${left.join(', ')}`);
  const noNetns = netnsUnavailable();
  const noTmpfs = tmpfsUnavailable(os.tmpdir());
  const skipped = new Map<FaultKind, string>();
  if (noTmpfs) skipped.set('disk-full', noTmpfs);
  if (!mosquittoBin) skipped.set('broker-kill', 'mosquitto is not installed');
  if (noNetns) console.log(`net-cut through a blackholing proxy: ${noNetns}`);

  const results: RunResult[] = [];
  const skippedRuns: Array<{ seed: number; fault: FaultKind }> = [];
  const started = Date.now();
  const seeds: number[] = [];
  for (let seed = firstSeed; seed < firstSeed + runs; seed++) {
    // the kinds in turn, so 50 runs give each fault 8 or 9; the seed draws the rest
    const fault = FAULTS[(seed - 1) % FAULTS.length];
    if (skipped.has(fault)) skippedRuns.push({ seed, fault });
    else seeds.push(seed);
  }
  // FAULT_CONCURRENCY runs at once (default 1): separate fleets, ports, namespaces and mounts
  const workers = Math.max(1, Number(process.env.FAULT_CONCURRENCY ?? 1));
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let seed = seeds.shift(); seed !== undefined; seed = seeds.shift()) {
        const plan = planRun(seed, FAULTS[(seed - 1) % FAULTS.length], { netns: noNetns === null });
        // agent-kill and controller-kill draw Mosquitto half the time: without it they run on the embedded broker
        if (!mosquittoBin) plan.broker = 'embedded';
        const r = await runFault(plan, { log: (l) => console.log(l) });
        const verdict = r.error ? `ERROR ${r.error}` : r.broken.length ? `${r.broken.length} broken: ${r.broken.map((b) => `${b.invariant} (${b.subject}: ${b.reason})`).join('; ')}` : 'invariants hold';
        console.log(`seed ${seed} -> ${r.outcome}; ${verdict} [${r.seconds.toFixed(1)} s]`);
        if ((r.error || r.broken.length) && r.tails) console.log(r.tails);
        results.push(r);
        // the table so far, after every run: a campaign stopped early still leaves its figures
        writeReport(reportName, table([...results].sort((a, b) => a.plan.seed - b.plan.seed), skippedRuns, skipped, noNetns, (Date.now() - started) / 1000));
      }
    }),
  );
  results.sort((a, b) => a.plan.seed - b.plan.seed);
  const report = table(results, skippedRuns, skipped, noNetns, (Date.now() - started) / 1000);
  console.log(`\n${report}`);
  console.log(`written to ${writeReport(reportName, report)}`);
  process.exit(results.some((r) => r.error || r.broken.length) ? 1 : 0);
}

function table(results: RunResult[], skippedRuns: Array<{ seed: number; fault: FaultKind }>, skipped: Map<FaultKind, string>, noNetns: string | null, seconds: number): string {
  const lines: string[] = [];
  lines.push(`# Fault campaign: ${results.length} of ${runs} runs (seeds from ${firstSeed}), ${(seconds / 60).toFixed(1)} min on ${os.cpus().length} cores`);
  lines.push('');
  lines.push('Each run: a fresh controller, three real agents in two device classes, a staged rollout of one imported 64 px YOLOv8n; one fault fired when the target device reaches the planned point; then the invariants, given up to 20 s to settle after the rollout ends.');
  lines.push('');
  const inv = (r: RunResult, i: Invariant) => r.broken.filter((b) => b.invariant === i).length > 0;
  lines.push(`| fault | runs | completed | aborted | not ended | harness errors | ${INVARIANTS.join(' | ')} |`);
  lines.push(`|---|---|---|---|---|---|${INVARIANTS.map(() => '---').join('|')}|`);
  const rows = [...FAULTS.map((f) => [f, results.filter((r) => r.plan.fault === f)] as const), ['all', results] as const];
  for (const [name, rs] of rows) {
    const ended = (s: string) => rs.filter((r) => !r.error && r.outcome.startsWith(`${s}:`)).length;
    const notEnded = rs.filter((r) => !r.error && !r.outcome.startsWith('completed:') && !r.outcome.startsWith('aborted:')).length;
    const cells = INVARIANTS.map((i) => String(rs.filter((r) => inv(r, i)).length));
    lines.push(`| ${name} | ${rs.length} | ${ended('completed')} | ${ended('aborted')} | ${notEnded} | ${rs.filter((r) => r.error).length} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push('Invariant columns count the runs in which it broke. Brokers: ' + `${results.filter((r) => r.plan.broker === 'mosquitto').length} runs on Mosquitto, ${results.filter((r) => r.plan.broker === 'embedded').length} on the embedded broker.`);
  if (noNetns) lines.push(`Net cuts went through a blackholing proxy: ${noNetns}.`);
  for (const [f, why] of skipped) lines.push(`Skipped ${skippedRuns.filter((s) => s.fault === f).length} ${f} run(s): ${why}.`);
  lines.push('');
  lines.push('| seed | fault | broker | target | fired | s | outcome | broken |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const broken = r.error ? `error: ${r.error}` : r.broken.map((b) => `${b.invariant}: ${b.subject}: ${b.reason}`).join('<br>') || '—';
    lines.push(`| ${r.plan.seed} | ${r.plan.fault} | ${r.plan.broker} | ${r.plan.target} | ${r.fired} for ${r.plan.durationMs} ms | ${r.seconds.toFixed(0)} | ${r.outcome} | ${broken.replace(/\|/g, '\\|')} |`);
  }
  return lines.join('\n') + '\n';
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
