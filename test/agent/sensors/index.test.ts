import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSensors, parseTegrastatsLine, pickTemperature, type ThermalZone } from '../../../agent/sensors/index.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'edgefit-sensors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const missing = (name: string): string => path.join(tmp, `no-such-${name}`);

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('pickTemperature', () => {
  const zone = (type: string, tempC: number | null): ThermalZone => ({ index: 0, type, tempC, status: tempC === null ? 'unreadable' : 'ok' });

  it('takes the hottest CPU/SoC zone and ignores board, GPU and PMIC sensors', () => {
    const zones = [zone('cpu-thermal', 47.5), zone('soc0-thermal', 49), zone('tboard-thermal', 60), zone('PMIC-Die', 100)];
    expect(pickTemperature(zones, null, null, null)).toEqual({ tempC: 49, source: 'sysfs' });
  });

  it('falls back through tegrastats, vcgencmd and systeminformation, skipping implausible values', () => {
    const tegra = parseTegrastatsLine('RAM 1/2MB CPU [1%@100] PMIC@100C CPU@44C GPU@41.5C');
    expect(pickTemperature([zone('CPU-therm', null)], tegra, 50, 51)).toEqual({ tempC: 44, source: 'tegrastats' });
    expect(pickTemperature([], null, 62.3, 51)).toEqual({ tempC: 62.3, source: 'vcgencmd' });
    expect(pickTemperature([], null, null, -650788.984)).toBeNull();
    expect(pickTemperature([zone('x86_pkg_temp', 55)], null, null, 51)).toEqual({ tempC: 55, source: 'sysfs' });
  });
});

describe('createSensors on this machine', () => {
  it('returns a snapshot with nulls where sensors are absent', async () => {
    const sensors = createSensors({ vcgencmdPath: missing('vcgencmd'), tegrastatsPath: missing('tegrastats') });
    try {
      const snap = await sensors.snapshot();
      expect(snap.source.vcgencmd).toBe(false);
      expect(snap.source.tegrastats).toBe(false);
      expect(snap.gpuLoadPct).toBeNull();
      expect(snap.gpuFreqMHz).toBeNull();
      expect(snap.powerRails).toBeNull();
      expect(snap.source.systeminformation).toBe(true);
      expect(snap.memory?.source).toBe('systeminformation');
      expect(snap.memory?.totalMB).toBeGreaterThan(0);
      expect(snap.cpuLoadPct).toBeGreaterThanOrEqual(0);
      if (snap.temperatureC !== null) expect(snap.temperatureSource).not.toBeNull();
      if (!snap.source.sysfs) expect([snap.cpuMaxFreqMHz, snap.clockDropPct, snap.throttled]).toEqual([null, null, null]);
      expect(Number.isNaN(Date.parse(snap.takenAt))).toBe(false);
      // A second snapshot does not retry a binary that is known to be missing, and still answers.
      expect((await sensors.snapshot()).source.tegrastats).toBe(false);
    } finally {
      await sensors.close();
    }
  });
});

describe.skipIf(!haveFixtures)(`createSensors on recorded devices (${fixturesSkipReason})`, () => {
  it('jetson-agx-orin sysfs tree: temperature, clocks, nothing invented', async () => {
    const root = fixture('sensors', 'sysfs', 'jetson-agx-orin');
    const sensors = createSensors({ sysfsRoot: root, procRoot: root, vcgencmdPath: missing('vcgencmd'), tegrastatsPath: missing('tegrastats') });
    const snap = await sensors.snapshot();
    await sensors.close();
    expect(snap.temperatureC).toBe(47.5);
    expect(snap.temperatureSource).toBe('sysfs');
    expect(snap.zones).toHaveLength(11);
    expect([snap.cpuFreqMHz, snap.cpuMaxFreqMHz, snap.clockDropPct, snap.clockPolicyCapped]).toEqual([2156.8, 2201.6, 2.03, null]);
    expect(snap.source).toEqual({ systeminformation: false, sysfs: true, vcgencmd: false, tegrastats: false, deviceTree: false });
    expect([snap.board, snap.throttled, snap.memory, snap.cpuLoadPct, snap.gpuLoadPct, snap.powerRails]).toEqual([null, null, null, null, null, null]);
  });

  it('raspberry-pi-5 tree with vcgencmd replaying recorded outputs: board, throttle flags, clock drop', async () => {
    const root = fixture('sensors', 'sysfs', 'raspberry-pi-5');
    const rec = (f: string): string => readFileSync(fixture('sensors', 'vcgencmd', f), 'utf8').trim();
    // Stands in for the Pi-only binary; answers come from recorded vcgencmd outputs.
    const command = path.join(tmp, 'vcgencmd-replay');
    writeFileSync(
      command,
      `#!/bin/sh
case "$1" in
  measure_temp) echo "${rec('measure_temp.pi4b-4gb.load-80.0C.txt')}" ;;
  get_throttled) echo "${rec('get_throttled.0x80008.txt')}" ;;
  measure_clock) echo "${rec('measure_clock_arm.pi4b-1800mhz.1800457088.txt')}" ;;
  *) exit 2 ;;
esac
`,
    );
    chmodSync(command, 0o755);
    const sensors = createSensors({ sysfsRoot: root, procRoot: root, vcgencmdPath: command, tegrastatsPath: missing('tegrastats') });
    const snap = await sensors.snapshot();
    await sensors.close();
    expect(snap.board).toEqual({ model: 'Raspberry Pi 5 Model B Rev 1.0', family: 'raspberry-pi-5' });
    expect(snap.temperatureC).toBe(80);
    expect(snap.temperatureSource).toBe('vcgencmd');
    expect(snap.throttled).toMatchObject({ now: true, occurred: true, source: 'vcgencmd' });
    expect(snap.throttled?.flags.softTempLimitNow).toBe(true);
    expect(snap.throttled?.flags.underVoltageNow).toBe(false);
    // The tree has no current frequency, so the ARM clock comes from vcgencmd.
    expect([snap.cpuFreqMHz, snap.cpuMaxFreqMHz, snap.clockDropPct]).toEqual([1800.46, 2400, 24.98]);
    expect(snap.source).toEqual({ systeminformation: false, sysfs: true, vcgencmd: true, tegrastats: false, deviceTree: true });
  });

  it('tegrastats replay: GPU load, rails, memory and temperature from the running tool, stopped on close', async () => {
    const line = readFileSync(fixture('sensors', 'tegrastats', 'jetson-orin-nx.txt'), 'utf8').split('\n')[1];
    const pidFile = path.join(tmp, 'tegrastats.pid');
    const command = path.join(tmp, 'tegrastats-replay');
    writeFileSync(
      command,
      `#!${process.execPath}
require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
const ms = Number(process.argv[process.argv.indexOf('--interval') + 1]);
setInterval(() => process.stdout.write(${JSON.stringify(line)} + '\\n'), ms);
`,
    );
    chmodSync(command, 0o755);
    const empty = path.join(tmp, 'empty-root');
    const sensors = createSensors({ sysfsRoot: empty, procRoot: empty, vcgencmdPath: missing('vcgencmd'), tegrastatsPath: command, tegrastatsIntervalMs: 50 });
    const snap = await sensors.snapshot();
    const again = await sensors.snapshot();
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(true);
    await sensors.close();
    expect(alive(pid)).toBe(false);
    expect(snap.temperatureC).toBe(65.562);
    expect(snap.temperatureSource).toBe('tegrastats');
    expect([snap.gpuLoadPct, snap.gpuFreqMHz]).toEqual([84, 713]);
    expect(snap.memory).toEqual({ totalMB: 7620, usedMB: 6982, swapTotalMB: 16384, swapUsedMB: 2640, source: 'tegrastats' });
    expect(snap.powerRails?.VDD_IN).toEqual({ currentMw: 17946, averageMw: 15710 });
    expect(snap.cpuLoadPct).toBe(93.17);
    expect(snap.cpuFreqMHz).toBe(1694.5);
    expect([snap.cpuMaxFreqMHz, snap.clockDropPct, snap.throttled]).toEqual([null, null, null]);
    expect(again.source.tegrastats).toBe(true);
  });
});
