import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parseTegrastatsLine,
  tegrastatsSamples,
  TegrastatsUnavailableError,
  type TegrastatsSample,
} from '../../../agent/sensors/tegrastats.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';

const dir = fixture('sensors', 'tegrastats');
const lines = (file: string): string[] => readFileSync(path.join(dir, file), 'utf8').split('\n').filter((l) => l !== '');
const parse = (line: string): TegrastatsSample => {
  const s = parseTegrastatsLine(line);
  if (!s) throw new Error(`not parsed: ${line}`);
  return s;
};
const cpuText = (s: TegrastatsSample): string => s.cpus.map((c) => (c.online ? `${c.loadPct}@${c.freqMHz}` : 'off')).join(',');

describe('parseTegrastatsLine (inline samples)', () => {
  it('reads a JetPack 4 line with unitless rails as mW', () => {
    const s = parse('RAM 534/3964MB (lfb 98x4MB) SWAP 5/1982MB (cached 1MB) CPU [16%@204,off] EMC_FREQ 0%@204 GR3D_FREQ 0%@76 APE 25 CPU@36.5C POM_5V_IN 1022/1010');
    expect(s.ramUsedMB).toBe(534);
    expect(s.ramTotalMB).toBe(3964);
    expect(s.swapCachedMB).toBe(1);
    expect(s.cpus).toEqual([
      { loadPct: 16, freqMHz: 204, online: true },
      { loadPct: null, freqMHz: null, online: false },
    ]);
    expect(s.rails.POM_5V_IN).toEqual({ currentMw: 1022, averageMw: 1010 });
    expect(s.temperatures).toEqual({ CPU: 36.5 });
    expect(s.engines.APE).toEqual({ online: true, loadPct: null, freqMHz: 25 });
  });

  it('reads bracketed GPC lists, a leading date and absent fields as null', () => {
    const s = parse('05-15-2025 18:30:28 RAM 6982/7620MB CPU [97%@1984] GR3D_FREQ 84%@[713,700] VDD_IN 17946mW/15710mW');
    expect(s.timestamp).toBe('05-15-2025 18:30:28');
    expect(s.gpuLoadPct).toBe(84);
    expect(s.gpuGpcFreqMHz).toEqual([713, 700]);
    expect(s.gpuFreqMHz).toBe(713);
    expect(s.swapUsedMB).toBeNull();
    expect(s.emcLoadPct).toBeNull();
    expect(s.emcFreqMHz).toBeNull();
    expect(s.mts).toBeNull();
    expect(s.rails.VDD_IN).toEqual({ currentMw: 17946, averageMw: 15710 });
  });

  it('reads the legacy lowercase format with one shared CPU frequency', () => {
    const s = parse('RAM 3468/3983MB (lfb 48x4MB) SWAP 873/8192MB (cached 295MB) cpu [17%,13%]@408 EMC 1%@408 APE 25 GR3D 3%@76');
    expect(cpuText(s)).toBe('17@408,13@408');
    expect([s.emcLoadPct, s.emcFreqMHz, s.gpuLoadPct, s.gpuFreqMHz]).toEqual([1, 408, 3, 76]);
  });

  it('reads a GPU field with only a frequency list (Thor) and engines with bare @freq', () => {
    const s = parse('RAM 4208/125773MB CPU [1%@972] GR3D_FREQ @[0,0,0] NVENC0_FREQ @0 VIC off');
    expect(s.gpuLoadPct).toBeNull();
    expect(s.gpuFreqMHz).toBe(0);
    expect(s.engines.NVENC0).toEqual({ online: true, loadPct: null, freqMHz: 0 });
    expect(s.engines.VIC).toEqual({ online: false, loadPct: null, freqMHz: null });
  });

  it('returns null for lines that are not samples', () => {
    expect(parseTegrastatsLine('')).toBeNull();
    expect(parseTegrastatsLine('Warning: some information requires sudo')).toBeNull();
    expect(parseTegrastatsLine('garbage [[[ @@@ ///')).toBeNull();
  });
});

describe.skipIf(!haveFixtures)(`parseTegrastatsLine on every recorded line (${fixturesSkipReason})`, () => {
  it('parses every line of every file with RAM, CPU and GPU load', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.txt'));
    expect(files.length).toBe(10);
    let count = 0;
    for (const file of files) {
      for (const line of lines(file)) {
        const s = parse(line);
        count++;
        expect(s.ramUsedMB, file).toBeGreaterThan(0);
        expect(s.ramTotalMB, file).toBeGreaterThan(s.ramUsedMB ?? 0);
        expect(s.cpus.length, file).toBeGreaterThanOrEqual(4);
        for (const c of s.cpus) {
          if (c.online) expect([c.loadPct, c.freqMHz].every((v) => typeof v === 'number' && v >= 0), file).toBe(true);
          else expect([c.loadPct, c.freqMHz], file).toEqual([null, null]);
        }
        expect(s.gpuLoadPct !== null || s.gpuFreqMHz !== null, file).toBe(true);
        for (const t of Object.values(s.temperatures)) expect(t).toBeGreaterThan(20);
        for (const r of Object.values(s.rails)) expect(r.currentMw).toBeGreaterThanOrEqual(0);
      }
    }
    expect(count).toBe(28);
  });

  it('jetson-nano.txt: IRAM, JetPack 4 rails, GPU under load', () => {
    const [idle, load1, , load3] = lines('jetson-nano.txt').map(parse);
    expect(idle).toMatchObject({ ramUsedMB: 534, ramTotalMB: 3964, swapUsedMB: 5, swapTotalMB: 1982, iramUsedKB: 0, iramTotalKB: 252 });
    expect(cpuText(idle)).toBe('16@204,9@204,0@204,0@204');
    expect(idle.rails).toEqual({
      POM_5V_IN: { currentMw: 1022, averageMw: 1022 },
      POM_5V_GPU: { currentMw: 0, averageMw: 0 },
      POM_5V_CPU: { currentMw: 204, averageMw: 204 },
    });
    expect(idle.temperatures).toEqual({ PLL: 34, CPU: 36.5, PMIC: 100, GPU: 36, AO: 39.5, thermal: 36.25 });
    expect(load1.swapUsedMB).toBeNull();
    expect(load1.engines.NVDEC).toEqual({ online: true, loadPct: null, freqMHz: 716 });
    expect(load1.engines.VIC).toEqual({ online: true, loadPct: 0, freqMHz: 140 });
    expect([load3.gpuLoadPct, load3.gpuFreqMHz]).toEqual([99, 921]);
    expect(load3.rails.POM_5V_IN).toEqual({ currentMw: 4523, averageMw: 3422 });
  });

  it('jetson-tx1.txt and the L4T 28 legacy format', () => {
    const [tx1] = lines('jetson-tx1.txt').map(parse);
    expect(tx1.swapTotalMB).toBeNull();
    expect(tx1.rails.VDD_IN).toEqual({ currentMw: 2532, averageMw: 2698 });
    expect(tx1.temperatures.Tdiode).toBe(42.75);
    const [a, b] = lines('jetson-tx1-l4t28-legacy-format.txt').map(parse);
    expect(cpuText(a)).toBe('17@408,13@408,29@408,5@408');
    expect(cpuText(b)).toBe('17@1734,11@1734,65@1734,0@1734');
    expect([b.emcLoadPct, b.emcFreqMHz, b.gpuLoadPct, b.gpuFreqMHz, b.swapCachedMB]).toEqual([1, 1600, 39, 76, 281]);
    expect(a.temperatures).toEqual({});
    expect(a.rails).toEqual({});
  });

  it('jetson-tx2.txt: off Denver cores, MTS, VDD_SYS rails', () => {
    const [first, second, , , last] = lines('jetson-tx2.txt').map(parse);
    expect(cpuText(first)).toBe('1@345,off,off,1@345,0@345,2@345');
    expect(first.cpus.filter((c) => !c.online)).toHaveLength(2);
    expect(first.rails.VDD_SYS_DDR).toEqual({ currentMw: 883, averageMw: 883 });
    expect(second.mts).toEqual({ fgPct: 1, bgPct: 8 });
    expect([second.emcLoadPct, second.emcFreqMHz]).toEqual([0, 1866]);
    expect(last.temperatures).toMatchObject({ PMIC: 50, BCPU: 42.5, thermal: 41.3 });
    expect(last.rails.VDD_SYS_CPU).toEqual({ currentMw: 1917, averageMw: 1917 });
  });

  it('jetson-agx-xavier.txt: off cores, unprefixed rails, EMC/GR3D without frequency', () => {
    const [a, b] = lines('jetson-agx-xavier.txt').map(parse);
    expect(cpuText(a)).toBe('2@1190,0@1190,0@1190,0@1190,off,off,off,off');
    expect(a.rails).toEqual({
      GPU: { currentMw: 0, averageMw: 0 },
      CPU: { currentMw: 311, averageMw: 311 },
      SOC: { currentMw: 932, averageMw: 932 },
      CV: { currentMw: 0, averageMw: 0 },
      VDDRQ: { currentMw: 621, averageMw: 621 },
      SYS5V: { currentMw: 1482, averageMw: 1482 },
    });
    expect(a.gpuFreqMHz).toBe(318);
    expect([b.emcLoadPct, b.emcFreqMHz, b.gpuLoadPct, b.gpuFreqMHz]).toEqual([0, null, 0, null]);
    expect(b).toMatchObject({ ramUsedMB: 14700, ramTotalMB: 15692, swapUsedMB: 898, swapCachedMB: 23 });
  });

  it('jetson-xavier-nx.txt', () => {
    const [s] = lines('jetson-xavier-nx.txt').map(parse);
    expect([s.gpuLoadPct, s.gpuFreqMHz]).toEqual([62, 306]);
    expect(s.cpus[5]).toEqual({ loadPct: 8, freqMHz: 1267, online: true });
    expect(s.rails.VDD_CPU_GPU_CV).toEqual({ currentMw: 738, averageMw: 738 });
    expect(s.temperatures.thermal).toBe(42.55);
  });

  it('jetson-orin-nx.txt: JetPack 5 and JetPack 6 lines', () => {
    const [jp5, jp6] = lines('jetson-orin-nx.txt').map(parse);
    expect(cpuText(jp5)).toBe('6@729,9@729,5@729,16@729,off,off,off,off');
    expect(jp5.engines.VIC).toEqual({ online: true, loadPct: null, freqMHz: 729 });
    expect(jp5.temperatures).toMatchObject({ CV0: 45.812, CPU: 47.937, tj: 48.875, SOC1: 48.875 });
    expect(jp5.rails.VDD_IN).toEqual({ currentMw: 5299, averageMw: 5299 });
    expect(jp6.timestamp).toBe('05-15-2025 18:30:28');
    expect(jp6.cpus[5]).toEqual({ loadPct: 93, freqMHz: 247, online: true });
    expect([jp6.gpuLoadPct, jp6.gpuFreqMHz, jp6.gpuGpcFreqMHz]).toEqual([84, 713, [713]]);
    expect([jp6.emcLoadPct, jp6.emcFreqMHz]).toEqual([18, 3199]);
    expect(jp6.engines.NVENC).toEqual({ online: true, loadPct: 1, freqMHz: 115 });
    expect(jp6.engines.NVDEC).toEqual({ online: true, loadPct: 40, freqMHz: 115 });
    expect(jp6.engines.NVDLA0.online).toBe(false);
    expect(jp6.engines.PVA0.online).toBe(false);
    expect(jp6.rails.VDD_CPU_GPU_CV).toEqual({ currentMw: 8896, averageMw: 7585 });
  });

  it('jetson-orin-nano.txt: full and non-root reduced field sets', () => {
    const [full, reduced] = lines('jetson-orin-nano.txt').map(parse);
    expect([full.gpuLoadPct, full.gpuFreqMHz, full.emcLoadPct]).toEqual([63, 621, 43]);
    expect(full.rails.VDD_IN).toEqual({ currentMw: 12479, averageMw: 12479 });
    expect(reduced.timestamp).toBe('06-18-2025 11:25:24');
    expect([reduced.gpuLoadPct, reduced.gpuFreqMHz, reduced.gpuGpcFreqMHz]).toEqual([0, null, null]);
    expect([reduced.emcLoadPct, reduced.emcFreqMHz]).toEqual([null, null]);
    expect(reduced.engines).toEqual({});
    expect(reduced.temperatures).toEqual({ cpu: 50.031, soc2: 49.031, soc0: 50, gpu: 49.031, tj: 50.25, soc1: 50.25 });
  });

  it('jetson-agx-orin.txt: engines, irregular whitespace, non-root line', () => {
    const [first, second, , irregular, nonRoot] = lines('jetson-agx-orin.txt').map(parse);
    expect(first.cpus).toHaveLength(12);
    expect(first.cpus[0]).toEqual({ loadPct: 14, freqMHz: 2188, online: true });
    expect(first.gpuGpcFreqMHz).toEqual([0, 0]);
    expect(first.engines.NVENC).toEqual({ online: true, loadPct: 79, freqMHz: 166 });
    expect(first.engines.VIC).toEqual({ online: true, loadPct: 36, freqMHz: 115 });
    expect(first.engines.APE).toEqual({ online: true, loadPct: null, freqMHz: 174 });
    expect(first.temperatures.cpu).toBe(52.562);
    expect(second.rails.VIN_SYS_5V0).toEqual({ currentMw: 4607, averageMw: 4657 });
    expect(irregular).toMatchObject({ ramUsedMB: 29114, ramTotalMB: 30697, swapUsedMB: 4915, swapTotalMB: 15348, gpuFreqMHz: 305 });
    expect(irregular.cpus[5]).toEqual({ loadPct: 100, freqMHz: 2201, online: true });
    expect(Object.values(irregular.engines).filter((e) => !e.online)).toHaveLength(9);
    expect(irregular.temperatures.gpu).toBe(47.812);
    expect(irregular.rails.VDD_CPU_CV).toEqual({ currentMw: 4405, averageMw: 4405 });
    expect([nonRoot.emcLoadPct, nonRoot.gpuLoadPct, nonRoot.gpuFreqMHz]).toEqual([null, 0, null]);
    expect(nonRoot.temperatures.tj).toBe(42);
  });

  it('jetson-agx-thor.txt: GR3D_FREQ with frequencies only', () => {
    const samples = lines('jetson-agx-thor.txt').map(parse);
    for (const s of samples) {
      expect(s.cpus).toHaveLength(14);
      expect(s.gpuLoadPct).toBeNull();
      expect(s.gpuGpcFreqMHz).toEqual([0, 0, 0]);
      expect(s.ramTotalMB).toBe(125773);
    }
    expect(samples[1].cpus[9]).toEqual({ loadPct: 17, freqMHz: 2601, online: true });
    expect(samples[1].rails.VDD_CPU_SOC_MSS).toEqual({ currentMw: 4923, averageMw: 4544 });
    expect(samples[0].temperatures).toEqual({ cpu: 34.468, tj: 34.5, soc012: 33.781, soc345: 34.5 });
    expect(samples[0].engines.NVDEC1).toEqual({ online: true, loadPct: null, freqMHz: 0 });
  });
});

describe('tegrastatsSamples (process stream)', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'edgefit-tegrastats-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  // Stands in for the Jetson-only binary: replays recorded lines at the requested interval
  // and records its pid and arguments so the test can check how it was run and stopped.
  function replayScript(recorded: string[]): { command: string; pidFile: string; argsFile: string } {
    const id = Math.random().toString(36).slice(2);
    const command = path.join(tmp, `tegrastats-${id}`);
    const pidFile = path.join(tmp, `${id}.pid`);
    const argsFile = path.join(tmp, `${id}.args`);
    writeFileSync(
      command,
      `#!${process.execPath}
const fs = require('node:fs');
fs.writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
fs.writeFileSync(${JSON.stringify(argsFile)}, JSON.stringify(process.argv.slice(2)));
const lines = ${JSON.stringify(recorded)};
const ms = Number(process.argv[process.argv.indexOf('--interval') + 1]);
let i = 0;
setInterval(() => { process.stdout.write(lines[i++ % lines.length] + '\\n'); }, ms);
`,
    );
    chmodSync(command, 0o755);
    return { command, pidFile, argsFile };
  }

  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  const recorded = [
    'RAM 534/3964MB (lfb 98x4MB) SWAP 5/1982MB (cached 1MB) CPU [16%@204,9%@204] GR3D_FREQ 0%@76 CPU@36.5C',
    'not a sample line',
    'RAM 1501/3956MB (lfb 332x4MB) CPU [16%@1479,13%@1479] GR3D_FREQ 28%@76 CPU@44C',
  ];

  it('passes --interval, yields parsed samples, and stops the process on break', async () => {
    const fake = replayScript(recorded);
    const got: TegrastatsSample[] = [];
    for await (const s of tegrastatsSamples({ command: fake.command, intervalMs: 20 })) {
      got.push(s);
      if (got.length === 3) break;
    }
    expect(got.map((s) => s.ramUsedMB)).toEqual([534, 1501, 534]);
    expect(JSON.parse(readFileSync(fake.argsFile, 'utf8'))).toEqual(['--interval', '20']);
    expect(alive(Number(readFileSync(fake.pidFile, 'utf8')))).toBe(false);
  });

  it('ends the stream and stops the process when the signal aborts', async () => {
    const fake = replayScript(recorded);
    const controller = new AbortController();
    let n = 0;
    for await (const s of tegrastatsSamples({ command: fake.command, intervalMs: 20, signal: controller.signal })) {
      expect(s.cpus.length).toBe(2);
      if (++n === 2) controller.abort();
    }
    expect(n).toBe(2);
    expect(alive(Number(readFileSync(fake.pidFile, 'utf8')))).toBe(false);
  });

  it('throws TegrastatsUnavailableError for a missing binary', async () => {
    const run = async (): Promise<void> => {
      for await (const s of tegrastatsSamples({ command: path.join(tmp, 'no-such-tegrastats') })) expect(s).toBeNull();
    };
    await expect(run()).rejects.toMatchObject({ name: 'TegrastatsUnavailableError', code: 'E_TEGRASTATS_UNAVAILABLE', errno: 'ENOENT' });
    await expect(run()).rejects.toBeInstanceOf(TegrastatsUnavailableError);
  });

  it('rejects a bad interval before spawning anything', async () => {
    const gen = tegrastatsSamples({ command: 'tegrastats', intervalMs: 0 });
    await expect(gen.next()).rejects.toThrow(/positive integer/);
  });
});
