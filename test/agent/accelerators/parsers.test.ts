import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCudaVersionJson, parseCudaVersionTxt, parseL4tRelease, parseNvInferVersionHeader, versionFromLibraryNames } from '../../../agent/accelerators/jetson.js';
import { parseNvidiaSmi } from '../../../agent/accelerators/nvidia-smi.js';
import { fixture, fixturesSkipReason, haveFixtures } from '../../fixtures.js';

const samples = path.join(path.dirname(fileURLToPath(import.meta.url)), 'samples');
const sample = (name: string) => readFileSync(path.join(samples, name), 'utf8');

describe('Jetson version files (recorded samples)', () => {
  it('reads the L4T release as release.revision from nv_tegra_release', () => {
    expect(parseL4tRelease(sample('nv_tegra_release.r36.4.4.txt'))).toBe('36.4.4');
    expect(parseL4tRelease(sample('nv_tegra_release.r38.4.0.txt'))).toBe('38.4.0');
    expect(parseL4tRelease(sample('nv_tegra_release.r32.1.flash-banner.txt'))).toBe('32.1.0');
    expect(parseL4tRelease('Ubuntu 22.04.4 LTS\n')).toBeNull();
  });

  it('reads TensorRT major.minor.patch from NvInferVersion.h, not the soname or build lines', () => {
    expect(parseNvInferVersionHeader(sample('NvInferVersion.8.2.3.h'))).toBe('8.2.3');
    expect(parseNvInferVersionHeader('#define NV_TENSORRT_BUILD 23\n')).toBeNull();
  });

  it('falls back to the most specific library file name', () => {
    const names = sample('libnvinfer-names.jetpack4.6.txt').trim().split('\n');
    expect(versionFromLibraryNames(names, 'libnvinfer')).toBe('8.0.1');
    // libnvinfer_plugin and a bare soname link lose against the full version
    expect(versionFromLibraryNames(['libnvinfer.so.8', 'libnvinfer_plugin.so.8.5.2', ...names], 'libnvinfer')).toBe('8.0.1');
    expect(versionFromLibraryNames(['libnvinfer.so'], 'libnvinfer')).toBeNull();
  });

  it("reads the CUDA SDK version from version.json's cuda entry, and version.txt's line", () => {
    expect(parseCudaVersionJson(sample('cuda-version.json.13.0.2.fragment.txt'))).toBe('13.0.2');
    // the documented pre-11.1 format, written here (no recording was found: see PROVENANCE.md)
    expect(parseCudaVersionTxt('CUDA Version 10.2.89\n')).toBe('10.2.89');
    expect(parseCudaVersionJson('{"cuda_cudart": {"name": "CUDA Runtime (cudart)", "version": "12.6.77"}}')).toBeNull();
  });
});

describe('nvidia-smi (recorded samples)', () => {
  it('reads driver, CUDA version, GPU names and total memory from the table', () => {
    expect(parseNvidiaSmi(sample('nvidia-smi.h100.535.txt'))).toEqual({ driverVersion: '535.161.08', cudaVersion: '12.2', gpus: [{ name: 'NVIDIA H100 80GB HBM3', memoryMb: 81559 }] });
    expect(parseNvidiaSmi(sample('nvidia-smi.tesla-p4.550.txt'))).toEqual({ driverVersion: '550.135', cudaVersion: '12.4', gpus: [{ name: 'Tesla P4', memoryMb: 8192 }] });
    expect(parseNvidiaSmi(sample('nvidia-smi.titan-xp.450.txt'))).toEqual({ driverVersion: '450.57', cudaVersion: '11.0', gpus: [{ name: 'TITAN Xp', memoryMb: 12196 }] });
  });

  it("reads R610's KMD / CUDA UMD banner and every GPU", () => {
    const smi = parseNvidiaSmi(sample('nvidia-smi.b200.r610.txt'))!;
    expect(smi.driverVersion).toBe('610.43.02');
    expect(smi.cudaVersion).toBe('13.3');
    expect(smi.gpus).toEqual([{ name: 'NVIDIA B200', memoryMb: 183359 }, { name: 'NVIDIA B200', memoryMb: 183359 }]);
  });

  it('leaves the CUDA version null where an old driver does not print it, and keeps a name nvidia-smi cut', () => {
    const old = parseNvidiaSmi(sample('nvidia-smi.gtx680.331.txt'))!;
    expect(old.cudaVersion).toBeNull();
    expect(old.driverVersion).toBe('331.62');
    expect(old.gpus).toEqual([{ name: 'GeForce GTX 680', memoryMb: 4095 }, { name: 'GeForce GTX 680', memoryMb: 4095 }]);
    expect(parseNvidiaSmi(sample('nvidia-smi.p100.515.txt'))!.gpus).toEqual([{ name: 'Tesla P100-PCIE...', memoryMb: 16384 }]);
  });

  it('is null for text that is no nvidia-smi table', () => {
    expect(parseNvidiaSmi('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.')).toEqual({ driverVersion: null, cudaVersion: null, gpus: [] });
    expect(parseNvidiaSmi('bash: nvidia-smi: command not found')).toBeNull();
  });
});

describe.skipIf(!haveFixtures)(`the project's device-tree samples match the shared fixtures (${fixturesSkipReason})`, () => {
  it('holds byte-identical copies', () => {
    for (const name of readdirSync(samples).filter((n) => n.startsWith('device-tree-model.'))) {
      const original = name.endsWith('.bin') ? fixture('sensors', 'device-tree-model', 'raw-with-nul', name.slice('device-tree-model.'.length)) : fixture('sensors', 'device-tree-model', name.slice('device-tree-model.'.length));
      expect(readFileSync(path.join(samples, name)), name).toEqual(readFileSync(original));
    }
  });
});
