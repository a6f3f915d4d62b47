import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeThrottled,
  parseMeasureClock,
  parseMeasureClocks,
  parseMeasureTemp,
  parseMeasureVolts,
  parseSysfsThrottled,
  parseThrottled,
  readVcgencmd,
  runVcgencmd,
  throttledNow,
  throttledSinceBoot,
} from '../../../agent/sensors/vcgencmd.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';

const read = (file: string): string => readFileSync(fixture('sensors', 'vcgencmd', file), 'utf8');
const NONE = {
  underVoltageNow: false,
  armFreqCappedNow: false,
  throttledNow: false,
  softTempLimitNow: false,
  underVoltageOccurred: false,
  armFreqCappedOccurred: false,
  throttledOccurred: false,
  softTempLimitOccurred: false,
};

describe('vcgencmd parsers (inline samples)', () => {
  it('parses measure_temp', () => {
    expect(parseMeasureTemp("temp=48.3'C\n")).toBe(48.3);
    expect(parseMeasureTemp('VCHI initialization failed')).toBeNull();
  });

  it('decodes every documented get_throttled bit', () => {
    expect(decodeThrottled(0x1).underVoltageNow).toBe(true);
    expect(decodeThrottled(0x2).armFreqCappedNow).toBe(true);
    expect(decodeThrottled(0x4).throttledNow).toBe(true);
    expect(decodeThrottled(0x8).softTempLimitNow).toBe(true);
    expect(decodeThrottled(0x10000).underVoltageOccurred).toBe(true);
    expect(decodeThrottled(0x20000).armFreqCappedOccurred).toBe(true);
    expect(decodeThrottled(0x40000).throttledOccurred).toBe(true);
    expect(decodeThrottled(0x80000).softTempLimitOccurred).toBe(true);
    expect(decodeThrottled(0x100)).toEqual({ raw: 0x100, ...NONE });
  });

  it('parses throttled=0x50005 into now and occurred flags', () => {
    const f = parseThrottled('throttled=0x50005\n');
    expect(f).toEqual({ ...NONE, raw: 0x50005, underVoltageNow: true, throttledNow: true, underVoltageOccurred: true, throttledOccurred: true });
    expect(throttledNow(f!)).toBe(true);
    expect(throttledSinceBoot(f!)).toBe(true);
    expect(parseThrottled('80008')).toBeNull();
    expect(parseSysfsThrottled('throttled=0x1')).toBeNull();
  });

  it('parses measure_clock with any clock id, and measure_volts', () => {
    expect(parseMeasureClock('frequency(48)=1500345728\n')).toBe(1500345728);
    expect(parseMeasureClock('frequency(0)=0\n')).toBe(0);
    expect(parseMeasureClock('error=1 error_msg="Invalid arguments"')).toBeNull();
    expect(parseMeasureVolts('volt=1.2000V\n')).toBe(1.2);
  });
});

describe.skipIf(!haveFixtures)(`vcgencmd recorded outputs (${fixturesSkipReason})`, () => {
  it.each([
    ['measure_temp.openelec.glances-1048.txt', 49.4],
    ['measure_temp.pi3.firmware-615.txt', 39.2],
    ['measure_temp.pi3bplus.duckietown-358.txt', 62.3],
    ['measure_temp.pi3bplus.homebridge-rpi-wiki.txt', 55.8],
    ['measure_temp.pi4b-4gb.idle-56.0C.txt', 56.0],
    ['measure_temp.pi4b-4gb.load-80.0C.txt', 80.0],
  ])('%s → %s °C', (file, want) => {
    expect(parseMeasureTemp(read(file))).toBe(want);
  });

  it.each([
    ['get_throttled.0x0.txt', 0x0, false, false],
    ['get_throttled.0x50000.txt', 0x50000, false, true],
    ['get_throttled.0x50005.txt', 0x50005, true, true],
    ['get_throttled.0x80000.txt', 0x80000, false, true],
    ['get_throttled.0x80008.txt', 0x80008, true, true],
  ])('%s → raw %i, now %s, occurred %s', (file, raw, now, occurred) => {
    const f = parseThrottled(read(file));
    expect(f?.raw).toBe(raw);
    expect(throttledNow(f!)).toBe(now);
    expect(throttledSinceBoot(f!)).toBe(occurred);
  });

  it('0x80008 is the soft temperature limit, active and latched; 0x50000 is past under-voltage and throttling', () => {
    expect(parseThrottled(read('get_throttled.0x80008.txt'))).toEqual({ ...NONE, raw: 0x80008, softTempLimitNow: true, softTempLimitOccurred: true });
    expect(parseThrottled(read('get_throttled.0x50000.txt'))).toEqual({ ...NONE, raw: 0x50000, underVoltageOccurred: true, throttledOccurred: true });
  });

  it('reads the sysfs get_throttled node format', () => {
    expect(parseSysfsThrottled(read('sysfs-get_throttled.80000.txt'))?.raw).toBe(0x80000);
    expect(parseSysfsThrottled(read('sysfs-get_throttled.80008.txt'))?.softTempLimitNow).toBe(true);
    expect(parseSysfsThrottled(read('sysfs-get_throttled.0-while-vcgencmd-says-0x80008.txt'))).toEqual({ ...NONE, raw: 0 });
  });

  it.each([
    ['measure_clock_arm.openelec.frequency45-600000000.txt', 600000000],
    ['measure_clock_arm.pi3bplus.frequency45-1400000000.txt', 1400000000],
    ['measure_clock_arm.pi4b-1800mhz.1800457088.txt', 1800457088],
    ['measure_clock_arm.pi4b-4gb.1500345728.txt', 1500345728],
    ['measure_clock_arm.pi4b-4gb.1500398464.txt', 1500398464],
    ['measure_clock_arm.pi4b-4gb.idle-600169920.txt', 600169920],
    ['measure_clock_v3d.pi5.idle-frequency0-0.txt', 0],
  ])('%s → %i Hz', (file, hz) => {
    expect(parseMeasureClock(read(file))).toBe(hz);
  });

  it('reads repeated and labelled clock lists', () => {
    expect(parseMeasureClocks(read('measure_clock_v3d.rpi2b.firmware-656.repeated.txt')).map((c) => c.hz)).toEqual([
      250000000, 249999000, 250000000,
    ]);
    const all = parseMeasureClocks(read('session.openelec.glances-1048.measure_clock_all.txt'));
    expect(all).toHaveLength(12);
    expect(all[0]).toEqual({ label: 'arm', clockId: 45, hz: 600000000 });
    expect(all.find((c) => c.label === 'hdmi')).toEqual({ label: 'hdmi', clockId: 9, hz: 163683000 });
    expect(all.find((c) => c.label === 'v3d')?.hz).toBe(0);
  });

  it('reads measure_volts', () => {
    expect(parseMeasureVolts(read('measure_volts.pi3bplus.homebridge-rpi-wiki.txt'))).toBe(1.3688);
    expect(parseMeasureVolts(read('measure_volts.tldr-6309.txt'))).toBe(1.2);
  });

  it('reads multi-command sessions', () => {
    const duck = read('session.pi3bplus.duckietown-358.txt');
    expect([parseMeasureClock(duck), parseMeasureTemp(duck), parseThrottled(duck)?.raw]).toEqual([1400000000, 62.3, 0]);
    const b = read('session.rpi3.firmware-615.b.txt');
    expect([parseMeasureTemp(b), parseThrottled(b)?.raw]).toEqual([38.6, 0x50005]);
    expect(parseThrottled(read('session.rpi3.firmware-615.a.txt'))?.raw).toBe(0x50000);
  });
});

describe('runVcgencmd / readVcgencmd', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'edgefit-vcgencmd-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('returns null when the binary is missing', async () => {
    const command = path.join(tmp, 'no-such-vcgencmd');
    expect(await runVcgencmd(['measure_temp'], { command })).toBeNull();
    expect(await readVcgencmd({ command })).toBeNull();
  });

  it('passes arguments and parses what the tool prints', async () => {
    // Stands in for the Pi-only binary: answers each sub-command with a recorded output.
    const command = path.join(tmp, 'vcgencmd');
    writeFileSync(
      command,
      `#!/bin/sh
case "$1 $2" in
  "measure_temp ") echo "temp=62.3'C" ;;
  "get_throttled ") echo "throttled=0x80008" ;;
  "measure_clock arm") echo "frequency(48)=1500345728" ;;
  *) echo "error=2 error_msg=\\"Command not registered\\""; exit 2 ;;
esac
`,
    );
    chmodSync(command, 0o755);
    expect(await runVcgencmd(['bogus'], { command })).toBeNull();
    const r = await readVcgencmd({ command });
    expect(r?.tempC).toBe(62.3);
    expect(r?.armHz).toBe(1500345728);
    expect(r?.throttled?.raw).toBe(0x80008);
  });
});
