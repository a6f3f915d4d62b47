import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  classifyMillidegrees,
  clockState,
  readCpuFrequencies,
  readFirmwareThrottled,
  readThermalZones,
  type CpuFrequency,
  type SysfsReader,
} from '../../../agent/sensors/sysfs.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';

const board = (name: string): string => fixture('sensors', 'sysfs', name);

describe('thermal readings (inline samples)', () => {
  it('converts millidegrees and flags bogus values', () => {
    expect(classifyMillidegrees('44388\n')).toEqual({ kind: 'ok', tempC: 44.388 });
    expect(classifyMillidegrees('-5000')).toEqual({ kind: 'ok', tempC: -5 });
    expect(classifyMillidegrees('-650788984')).toEqual({ kind: 'out-of-range', millidegrees: -650788984 });
    expect(classifyMillidegrees('85000')).toEqual({ kind: 'sentinel', tempC: 85 });
    expect(classifyMillidegrees('85001')).toEqual({ kind: 'ok', tempC: 85.001 });
    expect(classifyMillidegrees('')).toEqual({ kind: 'unparseable' });
    expect(classifyMillidegrees('cat: read error: Invalid argument')).toEqual({ kind: 'unparseable' });
  });

  // The read-error and flaky-read paths cannot be recorded as plain files, so a reader that
  // fails or changes between reads stands in for the kernel.
  const tmp = mkdtempSync(path.join(tmpdir(), 'edgefit-sysfs-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  function tree(temps: Record<string, string>): string {
    const root = path.join(tmp, Math.random().toString(36).slice(2));
    Object.keys(temps).forEach((type, i) => {
      const zone = path.join(root, 'sys', 'class', 'thermal', `thermal_zone${i}`);
      mkdirSync(zone, { recursive: true });
      writeFileSync(path.join(zone, 'type'), `${type}\n`);
      writeFileSync(path.join(zone, 'temp'), `${temps[type]}\n`);
    });
    return root;
  }
  function sequenceReader(sequences: Record<string, string[]>): SysfsReader {
    return async (file) => {
      const zone = path.basename(path.dirname(file));
      const seq = sequences[zone];
      if (path.basename(file) !== 'temp' || !seq) return readFileSync(file, 'utf8');
      const next = seq.shift();
      if (next === undefined || next === 'EAGAIN') throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
      return `${next}\n`;
    };
  }

  it('re-reads a suspect value and keeps the second read when it is plausible', async () => {
    const root = tree({ a: '0', b: '0', c: '0', d: '0', e: '0' });
    const zones = await readThermalZones(
      root,
      sequenceReader({
        thermal_zone0: ['85000', '41234'], // glitch, then the real value
        thermal_zone1: ['85000', '85000'], // confirmed: a real 85.0 °C
        thermal_zone2: ['-650788984', '-650788984'],
        thermal_zone3: ['-650788984', '40000'],
        thermal_zone4: ['EAGAIN'], // powered-down sensor
      }),
    );
    expect(zones.map((z) => [z.type, z.tempC, z.status])).toEqual([
      ['a', 41.234, 'ok'],
      ['b', 85, 'ok'],
      ['c', null, 'out-of-range'],
      ['d', 40, 'ok'],
      ['e', null, 'unreadable'],
    ]);
  });

  it('returns nothing for a root without sysfs', async () => {
    expect(await readThermalZones('/nonexistent-root')).toEqual([]);
    expect(await readCpuFrequencies('/nonexistent-root')).toEqual([]);
    expect(await readFirmwareThrottled('/nonexistent-root')).toBeNull();
  });
});

describe('clockState', () => {
  const cpu = (c: Partial<CpuFrequency>): CpuFrequency => ({
    cpu: 0,
    curMHz: null,
    maxMHz: null,
    minMHz: null,
    scalingMaxMHz: null,
    governor: null,
    ...c,
  });
  it('reports the drop below the ceiling and a policy cap below the hardware maximum', () => {
    const s = clockState([cpu({ curMHz: 1200, maxMHz: 1500, scalingMaxMHz: 1200 }), cpu({ curMHz: 1500, maxMHz: 1500, scalingMaxMHz: 1500 })]);
    expect(s).toEqual({ curMHz: 1350, maxMHz: 1500, dropPct: 10, policyCapped: true });
  });
  it('never reports a negative drop, and nulls with no data', () => {
    expect(clockState([cpu({ curMHz: 1500.4, maxMHz: 1500 })]).dropPct).toBe(0);
    expect(clockState([])).toEqual({ curMHz: null, maxMHz: null, dropPct: null, policyCapped: null });
  });
});

describe.skipIf(!haveFixtures)(`recorded sysfs trees (${fixturesSkipReason})`, () => {
  it('jetson-agx-orin: 11 zones, cv zones without temp are unreadable', async () => {
    const zones = await readThermalZones(board('jetson-agx-orin'));
    expect(zones.map((z) => [z.index, z.type, z.tempC, z.status])).toEqual([
      [0, 'cpu-thermal', 47.5, 'ok'],
      [1, 'gpu-thermal', 42, 'ok'],
      [2, 'cv0-thermal', null, 'unreadable'],
      [3, 'cv1-thermal', null, 'unreadable'],
      [4, 'cv2-thermal', null, 'unreadable'],
      [5, 'soc0-thermal', 46, 'ok'],
      [6, 'soc1-thermal', 44, 'ok'],
      [7, 'soc2-thermal', 46.5, 'ok'],
      [8, 'tj-thermal', 47.5, 'ok'],
      [9, 'tboard-thermal', 37.5, 'ok'],
      [10, 'tdiode-thermal', 39.75, 'ok'],
    ]);
  });

  it('jetson-agx-orin: cpufreq from scaling_* files', async () => {
    const cpus = await readCpuFrequencies(board('jetson-agx-orin'));
    expect(cpus.map((c) => c.curMHz)).toEqual([2112, 2201.6, 2112, 2201.6]);
    expect(cpus[0]).toEqual({ cpu: 0, curMHz: 2112, maxMHz: null, minMHz: 115.2, scalingMaxMHz: 2201.6, governor: 'schedutil' });
    expect(clockState(cpus)).toEqual({ curMHz: 2156.8, maxMHz: 2201.6, dropPct: 2.03, policyCapped: null });
  });

  it('jetson-orin-nx: seven cores', async () => {
    const cpus = await readCpuFrequencies(board('jetson-orin-nx'));
    expect(cpus.map((c) => c.cpu)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(cpus.map((c) => c.curMHz)).toEqual([1728, 1881.6, 1804.8, 1881.6, 1958.4, 1984, 1728]);
    expect(cpus.every((c) => c.scalingMaxMHz === 1984 && c.minMHz === 729.6)).toBe(true);
    expect(clockState(cpus)).toEqual({ curMHz: 1852.34, maxMHz: 1984, dropPct: 6.64, policyCapped: null });
  });

  it('jetson-nano-2gb: zone types without temperatures', async () => {
    const zones = await readThermalZones(board('jetson-nano-2gb'));
    expect(zones.map((z) => z.type)).toEqual(['AO-therm', 'CPU-therm', 'GPU-therm', 'PLL-therm', 'PMIC-Die', 'thermal-fan-est']);
    expect(zones.every((z) => z.tempC === null && z.status === 'unreadable')).toBe(true);
  });

  it('raspberry pi trees: millidegrees and cpufreq variants', async () => {
    expect(await readThermalZones(board('raspberry-pi-raspbian-stretch'))).toEqual([
      { index: 0, type: 'cpu-thermal', tempC: 44.388, status: 'ok' },
    ]);
    const pi4 = await readCpuFrequencies(board('raspberry-pi-4b-8gb'));
    expect(pi4).toEqual([{ cpu: 0, curMHz: 1500, maxMHz: 1500, minMHz: null, scalingMaxMHz: null, governor: null }]);
    expect(clockState(pi4).dropPct).toBe(0);
    const pi4at1800 = await readCpuFrequencies(board('raspberry-pi-4b-1800mhz'));
    expect(clockState(pi4at1800)).toEqual({ curMHz: 600, maxMHz: 1800, dropPct: 66.67, policyCapped: null });
    const pi5 = await readCpuFrequencies(board('raspberry-pi-5'));
    expect(pi5).toEqual([{ cpu: 0, curMHz: null, maxMHz: 2400, minMHz: 1500, scalingMaxMHz: null, governor: null }]);
    expect(clockState(pi5)).toEqual({ curMHz: null, maxMHz: 2400, dropPct: null, policyCapped: null });
  });

  it('edge cases: recorded Pi values convert, bogus ones are flagged', () => {
    const edge = (f: string): string => readFileSync(path.join(board('edge-cases'), f), 'utf8');
    expect(classifyMillidegrees(edge('rpi1-rpi2-thermal_zone0-temp.35780.txt'))).toEqual({ kind: 'ok', tempC: 35.78 });
    expect(classifyMillidegrees(edge('rpi-thermal_zone0-temp.34234.txt'))).toEqual({ kind: 'ok', tempC: 34.234 });
    expect(classifyMillidegrees(edge('rpi-thermal_zone0-temp.bogus-negative.txt')).kind).toBe('out-of-range');
    expect(classifyMillidegrees(edge('rpi-thermal_zone0-temp.bogus-85000.txt')).kind).toBe('sentinel');
  });
});
