import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifyBoard, identifyBoard, parseModel, readBoardIdentity } from '../../../agent/sensors/device-tree.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';

describe('device-tree model (inline samples)', () => {
  it('strips the NUL terminator and whitespace', () => {
    expect(parseModel(Buffer.from('Raspberry Pi 5 Model B Rev 1.0\0'))).toBe('Raspberry Pi 5 Model B Rev 1.0');
    expect(parseModel('jetson-nano\n')).toBe('jetson-nano');
    expect(parseModel(Buffer.from('\0'))).toBeNull();
    expect(parseModel('')).toBeNull();
  });

  it('classifies families, Orin Nano as Orin and not Nano', () => {
    expect(classifyBoard('NVIDIA Orin Nano Developer Kit')).toBe('jetson-orin');
    expect(classifyBoard('NVIDIA Jetson Nano Developer Kit')).toBe('jetson-nano');
    expect(classifyBoard('Jetson-AGX')).toBe('jetson-xavier');
    expect(classifyBoard('NVIDIA Jetson TX2 Developer Kit')).toBe('jetson-tx2');
    expect(classifyBoard('Raspberry Pi Compute Module 4 Rev 1.0')).toBe('raspberry-pi-4');
    expect(classifyBoard('Raspberry Pi Zero 2 W Rev 1.0')).toBe('raspberry-pi-other');
    expect(classifyBoard('QEMU Virtual Machine')).toBe('unknown');
  });

  it('reads nothing on a host without a device tree', async () => {
    expect(await readBoardIdentity({ procRoot: '/nonexistent-root', sysfsRoot: '/nonexistent-root' })).toBeNull();
  });
});

describe.skipIf(!haveFixtures)(`device-tree recorded models (${fixturesSkipReason})`, () => {
  const dir = (file: string): string => fixture('sensors', 'device-tree-model', file);
  it.each([
    ['jetson-agx-orin-devkit.jp5.0-dp.txt', 'NVIDIA Orin Jetson-Small Developer Kit', 'jetson-orin'],
    ['jetson-agx-orin-devkit.l4t39.2.txt', 'NVIDIA Jetson AGX Orin Developer Kit', 'jetson-orin'],
    ['jetson-agx-orin-industrial.jp5.1.2.txt', 'Jetson AGX Orin Industrial', 'jetson-orin'],
    ['jetson-agx-orin-module.jp5.1.1.txt', 'Jetson AGX Orin', 'jetson-orin'],
    ['jetson-agx-xavier.l4t32.1.txt', 'jetson-xavier', 'jetson-xavier'],
    ['jetson-agx-xavier.l4t32.2.txt', 'Jetson-AGX', 'jetson-xavier'],
    ['jetson-nano-devkit.l4t32.2+.txt', 'NVIDIA Jetson Nano Developer Kit', 'jetson-nano'],
    ['jetson-nano.l4t-pre-32.2.txt', 'jetson-nano', 'jetson-nano'],
    ['jetson-orin-nano-devkit.jp5.txt', 'NVIDIA Orin Nano Developer Kit', 'jetson-orin'],
    ['jetson-orin-nx-devkit.txt', 'NVIDIA Orin NX Developer Kit', 'jetson-orin'],
    ['raspberry-pi-3-model-b-plus.upstream-dt-fedora.txt', 'Raspberry Pi 3 Model B+', 'raspberry-pi-3'],
    ['raspberry-pi-4-model-b-rev-1.4.txt', 'Raspberry Pi 4 Model B Rev 1.4', 'raspberry-pi-4'],
    ['raspberry-pi-4-model-b-rev-1.5.cpuinfo-model.txt', 'Raspberry Pi 4 Model B Rev 1.5', 'raspberry-pi-4'],
    ['raspberry-pi-5-model-b-rev-1.0.txt', 'Raspberry Pi 5 Model B Rev 1.0', 'raspberry-pi-5'],
    ['raw-with-nul/raspberry-pi-4-model-b-rev-1.4.bin', 'Raspberry Pi 4 Model B Rev 1.4', 'raspberry-pi-4'],
    ['raw-with-nul/jetson-agx-orin-devkit.l4t39.2.bin', 'NVIDIA Jetson AGX Orin Developer Kit', 'jetson-orin'],
  ])('%s → %s (%s)', (file, model, family) => {
    expect(identifyBoard(readFileSync(dir(file)))).toEqual({ model, family });
  });

  it('the raw files really end in NUL, and reading from a recorded /proc root works', async () => {
    const raw = readFileSync(dir('raw-with-nul/raspberry-pi-4-model-b-rev-1.4.bin'));
    expect(raw.at(-1)).toBe(0);
    const root = fixture('sensors', 'sysfs', 'raspberry-pi-5');
    expect(await readBoardIdentity({ procRoot: root, sysfsRoot: root })).toEqual({
      model: 'Raspberry Pi 5 Model B Rev 1.0',
      family: 'raspberry-pi-5',
    });
  });
});
