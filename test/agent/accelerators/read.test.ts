import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readAccelerators, runNvidiaSmi } from '../../../agent/accelerators/read.js';
import { deviceClass } from '../../../agent/device-class.js';
import type { Accelerator, Inventory } from '../../../protocol/messages.js';

const samples = path.join(path.dirname(fileURLToPath(import.meta.url)), 'samples');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'edgefit-accel-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A fake root: each entry is a path under it and the sample file (or empty content) to put there. */
function tree(name: string, files: Record<string, string | null>): string {
  const root = path.join(scratch, name);
  for (const [rel, from] of Object.entries(files)) {
    const to = path.join(root, rel);
    mkdirSync(path.dirname(to), { recursive: true });
    if (from === null) writeFileSync(to, '');
    else copyFileSync(path.join(samples, from), to);
  }
  return root;
}

const never = async () => {
  throw new Error('nvidia-smi must not be asked on this device');
};

describe('reading accelerators from a device tree and version files', () => {
  it('reports a Jetson with its L4T, CUDA and TensorRT versions, and asks no nvidia-smi', async () => {
    const root = tree('orin', {
      'proc/device-tree/model': 'device-tree-model.jetson-agx-orin-devkit.l4t39.2.bin',
      'etc/nv_tegra_release': 'nv_tegra_release.r36.4.4.txt',
      'usr/local/cuda/version.json': 'cuda-version.json.13.0.2.fragment.txt',
      'usr/include/aarch64-linux-gnu/NvInferVersion.h': 'NvInferVersion.8.2.3.h',
    });
    expect(await readAccelerators({ root, nvidiaSmi: never })).toEqual([
      { kind: 'jetson', model: 'NVIDIA Jetson AGX Orin Developer Kit', l4tRelease: '36.4.4', cudaVersion: '13.0.2', tensorrtVersion: '8.2.3', driverVersion: null, memoryMb: null },
    ]);
  });

  it('takes TensorRT from the library names where no header is installed, and leaves what is absent null', async () => {
    const root = tree('nano', {
      'proc/device-tree/model': 'device-tree-model.jetson-nano-devkit.l4t32.2+.txt',
      'etc/nv_tegra_release': 'nv_tegra_release.r32.1.flash-banner.txt',
      'usr/lib/aarch64-linux-gnu/libnvinfer.so.8.0.1': null,
      'usr/lib/aarch64-linux-gnu/libnvinfer.so.8': null,
    });
    expect(await readAccelerators({ root, nvidiaSmi: never })).toEqual([
      { kind: 'jetson', model: 'NVIDIA Jetson Nano Developer Kit', l4tRelease: '32.1.0', cudaVersion: null, tensorrtVersion: '8.0.1', driverVersion: null, memoryMb: null },
    ]);
  });

  it('reports a Raspberry Pi by its model, and no GPU when nvidia-smi gives nothing', async () => {
    const root = tree('pi5', { 'proc/device-tree/model': 'device-tree-model.raspberry-pi-5-model-b-rev-1.0.txt' });
    expect(await readAccelerators({ root, nvidiaSmi: async () => null })).toEqual([
      { kind: 'raspberry-pi', model: 'Raspberry Pi 5 Model B Rev 1.0', l4tRelease: null, cudaVersion: null, tensorrtVersion: null, driverVersion: null, memoryMb: null },
    ]);
  });

  it('reports each discrete GPU nvidia-smi lists, with the driver and the CUDA version it supports', async () => {
    const root = tree('x86', { 'usr/include/x86_64-linux-gnu/NvInferVersion.h': 'NvInferVersion.8.2.3.h' });
    const smi = (await import('node:fs')).readFileSync(path.join(samples, 'nvidia-smi.b200.r610.txt'), 'utf8');
    const found = await readAccelerators({ root, nvidiaSmi: async () => smi });
    expect(found).toHaveLength(2);
    expect(found[0]).toEqual({ kind: 'nvidia-gpu', model: 'NVIDIA B200', l4tRelease: null, cudaVersion: '13.3', tensorrtVersion: '8.2.3', driverVersion: '610.43.02', memoryMb: 183359 });
  });

  it('finds nothing, without a crash, on a machine with neither a device tree nor nvidia-smi', async () => {
    const root = tree('bare', {});
    // the real runner: on a machine without the binary it answers null, it does not throw
    const ownSmi = await runNvidiaSmi();
    expect(await readAccelerators({ root, nvidiaSmi: async () => null })).toEqual([]);
    if (ownSmi === null) expect(await readAccelerators({ root })).toEqual([]);
  });
});

describe('accelerators and providers in the device class', () => {
  const base: Inventory = {
    hostname: 'a', cpuModel: 'ARM Cortex-A78AE', cpuCores: 12, cpuPhysicalCores: 12, arch: 'arm64', memTotalBytes: 64 * 2 ** 30, os: 'Ubuntu 22.04', kernel: '5.15.148-tegra',
    boardModel: 'NVIDIA Jetson AGX Orin Developer Kit', gpus: [], executionProviders: ['cpu'], onnxruntimeVersion: '1.30.0', edgefitVersion: '0.1.0',
  };
  const orin: Accelerator = { kind: 'jetson', model: 'NVIDIA Jetson AGX Orin Developer Kit', l4tRelease: '36.4.4', cudaVersion: '12.6', tensorrtVersion: '10.3.0', driverVersion: null, memoryMb: null };

  it('differs between two inventories that differ only in their accelerators', () => {
    expect(deviceClass({ ...base, accelerators: [orin] })).not.toBe(deviceClass({ ...base, accelerators: [{ ...orin, tensorrtVersion: '8.5.2' }] }));
    expect(deviceClass({ ...base, accelerators: [orin] })).not.toBe(deviceClass({ ...base, accelerators: [] }));
  });

  it('differs between two inventories that differ only in their execution providers', () => {
    expect(deviceClass({ ...base, executionProviders: ['cpu'] })).not.toBe(deviceClass({ ...base, executionProviders: ['cpu', 'cuda', 'tensorrt'] }));
  });

  it('stays what it was for a device with no accelerators, and ignores their order and the hostname', () => {
    const gpu = (name: string): Accelerator => ({ kind: 'nvidia-gpu', model: name, l4tRelease: null, cudaVersion: '12.2', tensorrtVersion: null, driverVersion: '535.161.08', memoryMb: 81559 });
    expect(deviceClass({ ...base, accelerators: [] })).toBe(deviceClass(base));
    expect(deviceClass({ ...base, accelerators: [gpu('A'), gpu('B')] })).toBe(deviceClass({ ...base, hostname: 'b', accelerators: [gpu('B'), gpu('A')] }));
  });
});
