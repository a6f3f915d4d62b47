import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineCacheDir, missingProviderReason, sessionProviders } from '../../agent/onnxruntime/providers.js';
import { nativeDir, offeredProviders, type Backend } from '../../agent/onnxruntime/backends.js';

const SHA = 'a'.repeat(64);
const STATE = '/var/lib/edgefit-agent';

describe('provider options to onnxruntime session options', () => {
  it('runs cpu alone, and puts cpu behind cuda', () => {
    expect(sessionProviders('cpu', undefined, STATE, SHA)).toEqual({ executionProviders: ['cpu'], env: {} });
    expect(sessionProviders('cuda', { deviceId: 1 }, STATE, SHA)).toEqual({ executionProviders: [{ name: 'cuda', deviceId: 1 }, 'cpu'], env: {} });
  });

  it('puts TensorRT first on the chosen device, CUDA then CPU behind it, with its switches and an engine cache per model', () => {
    const trt = sessionProviders('tensorrt', { deviceId: 2, trtFp16: true }, STATE, SHA);
    expect(trt.executionProviders).toEqual([{ name: 'tensorrt', deviceId: 2 }, { name: 'cuda', deviceId: 2 }, 'cpu']);
    expect(trt.env).toEqual({
      ORT_TENSORRT_FP16_ENABLE: '1',
      ORT_TENSORRT_INT8_ENABLE: '0',
      ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
      ORT_TENSORRT_CACHE_PATH: path.join(STATE, 'trt-engines', SHA),
    });
    expect(engineCacheDir(STATE, SHA)).toBe(path.join(STATE, 'trt-engines', SHA));
  });

  it('defaults to device 0, fp32, the cache on; int8 on asked; no cache folder when the cache is off', () => {
    expect(sessionProviders('tensorrt', undefined, STATE, SHA).executionProviders[0]).toEqual({ name: 'tensorrt', deviceId: 0 });
    expect(sessionProviders('tensorrt', { trtInt8: true }, STATE, SHA).env).toMatchObject({ ORT_TENSORRT_FP16_ENABLE: '0', ORT_TENSORRT_INT8_ENABLE: '1', ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1' });
    const off = sessionProviders('tensorrt', { trtEngineCache: false }, STATE, SHA).env;
    expect(off.ORT_TENSORRT_ENGINE_CACHE_ENABLE).toBe('0');
    expect(off).not.toHaveProperty('ORT_TENSORRT_CACHE_PATH');
  });

  it("names a provider the device lacks, with the ones it has", () => {
    expect(missingProviderReason('cpu', ['cpu'])).toBeNull();
    expect(missingProviderReason('tensorrt', ['cpu', 'webgpu'])).toBe("execution provider 'tensorrt' is not available on this device (it has: cpu, webgpu)");
  });
});

describe('the providers a binding offers', () => {
  // listSupportedBackends() of onnxruntime-node 1.30 on linux x64: cuda and tensorrt are never 'bundled',
  // whether or not their libraries were installed beside the binding.
  const LISTED: Backend[] = [
    { name: 'cpu', bundled: true },
    { name: 'webgpu', bundled: true },
    { name: 'cuda', bundled: false },
    { name: 'tensorrt', bundled: false },
  ];
  const LIB = '/opt/ort/js/node/bin/napi-v6/linux/arm64';
  const present = (...files: string[]) => (file: string) => files.map((f) => path.join(LIB, f)).includes(file);

  it('takes the bundled ones, and cuda or tensorrt only where its provider library lies beside the binding', () => {
    expect(offeredProviders(LISTED, LIB, present(), 'linux')).toEqual(['cpu', 'webgpu']);
    expect(offeredProviders(LISTED, LIB, present('libonnxruntime_providers_cuda.so'), 'linux')).toEqual(['cpu', 'webgpu', 'cuda']);
    expect(offeredProviders(LISTED, LIB, present('libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_tensorrt.so'), 'linux')).toEqual(['cpu', 'webgpu', 'cuda', 'tensorrt']);
    expect(offeredProviders(LISTED, LIB, present('onnxruntime_providers_cuda.dll'), 'win32')).toEqual(['cpu', 'webgpu', 'cuda']);
  });

  it('finds the native folder of a package as onnxruntime-node lays it out', () => {
    expect(nativeDir('/opt/ort/js/node', 'linux', 'arm64')).toBe(LIB);
  });
});
