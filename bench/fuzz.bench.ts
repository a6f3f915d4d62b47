// Fuzzing at the issue's scale (#20): 10,000 hostile payloads per device
// channel against a running controller, and 1,000 malformed ONNX files
// through `model info`, `models add` and the agent's loader. Prints the
// counts (sent, refused by reason, crashed, the longest event-loop stall) and
// writes them to bench-output/fuzz.md. The test suite runs the same code at
// a few hundred payloads and 50 files (test/fuzz/).
// Run: npm run build && node dist/bench/fuzz.bench.js [PER_CHANNEL] [ONNX_FILES]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixturesDir, writeReport } from './common.js';
import { runMessageFuzz } from './fuzz/message-fuzz.js';
import { mutants, tinyDetectorBytes } from './fuzz/onnx-mutants.js';
import { TARGETS, type Outcome } from './fuzz/onnx-targets.js';

const PER_CHANNEL = Number(process.argv[2] ?? 10_000);
const ONNX_FILES = Number(process.argv[3] ?? 1000);
const SEED = 20;
const here = path.dirname(fileURLToPath(import.meta.url));

interface OnnxTally {
  files: number;
  crashed: Array<{ file: number; label: string; how: string }>;
  perTarget: Record<string, { ok: number; refused: number; unclear: number; raw: number }>;
  unclear: string[];
  wallS: number;
}

/** Runs worker processes over the mutants; a worker that dies counts a crash for its file and the next worker starts after it. */
async function onnxRun(dir: string, labels: string[]): Promise<OnnxTally> {
  const started = performance.now();
  const tally: Omit<OnnxTally, 'wallS'> = { files: labels.length, crashed: [], perTarget: Object.fromEntries(TARGETS.map((t) => [t, { ok: 0, refused: 0, unclear: 0, raw: 0 }])), unclear: [] };
  let next = 0;
  while (next < labels.length) {
    let current = -1;
    const child = spawn(process.execPath, [path.join(here, 'fuzz', 'onnx-child.js'), dir, String(next), String(labels.length)], { stdio: ['ignore', 'pipe', 'ignore'] });
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const m = JSON.parse(line) as { start?: number; done?: number; outcomes?: Outcome[] };
        if (m.start !== undefined) current = m.start;
        if (m.done === undefined) continue;
        next = m.done + 1;
        for (const o of m.outcomes!) {
          const t = tally.perTarget[o.target];
          if (o.result === 'ok') t.ok++;
          else if (o.raw) t.raw++;
          if (o.result === 'ok') continue;
          if (o.clear) t.refused++;
          else {
            t.unclear++;
            if (tally.unclear.length < 20) tally.unclear.push(`${labels[m.done]} → ${o.target}: ${JSON.stringify(o.message.slice(0, 200))}`);
          }
        }
      }
    });
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
    if (code === 0 && next >= labels.length) break;
    const file = current >= 0 ? current : next;
    tally.crashed.push({ file, label: labels[file], how: signal ? `signal ${signal}` : `exit ${code}` });
    next = file + 1;
  }
  return { ...tally, wallS: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const out: string[] = [];
  const say = (line = '') => {
    console.log(line);
    out.push(line);
  };
  say(`# Fuzz run (seed ${SEED})`);
  say();
  say(`## Device messages: ${PER_CHANNEL} per channel against a running controller (embedded broker, SQLite)`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-bench-fuzz-'));
  try {
    const r = await runMessageFuzz({ perChannel: PER_CHANNEL, seed: SEED, dataDir, progress: (l) => console.log(`  ${l}`) });
    say();
    say('| channel | sent | accepted | refused | top reasons | longest stall |');
    say('|---|---|---|---|---|---|');
    for (const [channel, c] of Object.entries(r.channels)) {
      const top = Object.entries(c.dropped).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, n]) => `${k} ${n}`).join('; ');
      say(`| ${channel} | ${c.sent} | ${c.accepted} | ${c.sent - c.accepted - c.ignored} | ${top} | ${c.maxStallMs.toFixed(0)} ms |`);
    }
    say();
    say(`- refusals logged: ${r.droppedLogged} of ${r.droppedExpected} expected by the protocol's rules; lines not one printable line: ${r.badReasonLines}`);
    say(`- crashed: 0 (the controller runs in this process; handler errors: ${r.handlerErrors})`);
    say(`- kept out of range: ${r.outOfRange.length}${r.outOfRange.length ? `: ${r.outOfRange.slice(0, 5).join('; ')}` : ''}`);
    say(`- after the run: HTTP ${r.httpStatusAfter}, MQTT intake ${r.mqttAliveAfter ? 'alive' : 'DEAD'}`);
    say(`- longest event-loop stall: ${r.maxStallMs.toFixed(1)} ms; wall ${r.wallS.toFixed(1)} s`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }

  say();
  const fixture = path.join(fixturesDir, 'models', 'yolov8n_int8_qdq.onnx');
  const fromFixture = existsSync(fixture) ? Math.round(ONNX_FILES / 5) : 0;
  say(`## Malformed ONNX: ${ONNX_FILES} files (${ONNX_FILES - fromFixture} from a small detector, ${fromFixture} from ${fromFixture ? 'the yolov8n QDQ fixture' : 'no fixture: none found'}) through model info, models add and the agent's loader`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-bench-onnx-'));
  try {
    const all = [...mutants(tinyDetectorBytes(), ONNX_FILES - fromFixture, SEED), ...(fromFixture ? mutants(readFileSync(fixture), fromFixture, SEED + 1) : [])];
    mkdirSync(dir, { recursive: true });
    all.forEach((m, i) => writeFileSync(path.join(dir, `${i}.onnx`), m.bytes));
    const t = await onnxRun(dir, all.map((m) => m.label));
    say();
    say('| target | ran | refused, one clear line | refused, unclear | of the refusals, from a raw JS error |');
    say('|---|---|---|---|---|');
    for (const [target, c] of Object.entries(t.perTarget)) say(`| ${target} | ${c.ok} | ${c.refused} | ${c.unclear} | ${c.raw} |`);
    say();
    say(`- crashed (a worker killed by a signal or exiting on an uncaught error): ${t.crashed.length}${t.crashed.length ? `: ${t.crashed.map((c) => `#${c.file} ${c.label} (${c.how})`).join('; ')}` : ''}`);
    if (t.unclear.length) say(`- unclear refusals, first ${t.unclear.length}: ${t.unclear.join(' | ')}`);
    say(`- wall ${t.wallS.toFixed(1)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nwritten to ${writeReport('fuzz.md', `${out.join('\n')}\n`)}`);
}

void main();
