// Provider options → onnxruntime session options, one pure function for
// profiling and serving, so a candidate serves exactly as it was measured.
import path from 'node:path';
import type { ExecutionProvider, ProviderOptions } from '../../protocol/messages.js';

/** An entry of onnxruntime-node's `executionProviders` list (onnxruntime-common's ExecutionProviderConfig). */
export type ProviderConfig = 'cpu' | { name: 'cuda' | 'tensorrt'; deviceId: number };

export interface SessionProviders {
  executionProviders: ProviderConfig[];
  /**
   * TensorRT's switches as the documented ORT_TENSORRT_* environment variables
   * (onnxruntime.ai/docs/execution-providers/TensorRT-ExecutionProvider.html):
   * the Node binding passes only `deviceId` to a provider
   * (js/node/src/session_options_helper.cc reads nothing else), so fp16, int8
   * and the engine cache can only reach TensorRT this way. Empty for cpu and cuda.
   */
  env: Record<string, string>;
}

/** Where TensorRT keeps the engines built for one model: a first build takes minutes on a Jetson. */
export function engineCacheDir(stateDir: string, modelSha256: string): string {
  return path.join(stateDir, 'trt-engines', modelSha256);
}

/**
 * The provider list for a session: the chosen provider first, then the ones
 * behind it that take the nodes it cannot run (TensorRT → CUDA → CPU, as
 * onnxruntime's TensorRT documentation recommends registering CUDA too).
 */
export function sessionProviders(ep: ExecutionProvider, options: ProviderOptions | undefined, stateDir: string, modelSha256: string): SessionProviders {
  const deviceId = options?.deviceId ?? 0;
  if (ep === 'cpu') return { executionProviders: ['cpu'], env: {} };
  if (ep === 'cuda') return { executionProviders: [{ name: 'cuda', deviceId }, 'cpu'], env: {} };
  const cache = options?.trtEngineCache ?? true;
  return {
    executionProviders: [{ name: 'tensorrt', deviceId }, { name: 'cuda', deviceId }, 'cpu'],
    env: {
      ORT_TENSORRT_FP16_ENABLE: options?.trtFp16 ? '1' : '0',
      ORT_TENSORRT_INT8_ENABLE: options?.trtInt8 ? '1' : '0',
      ORT_TENSORRT_ENGINE_CACHE_ENABLE: cache ? '1' : '0',
      ...(cache ? { ORT_TENSORRT_CACHE_PATH: engineCacheDir(stateDir, modelSha256) } : {}),
    },
  };
}

const TRT_ENV = ['ORT_TENSORRT_FP16_ENABLE', 'ORT_TENSORRT_INT8_ENABLE', 'ORT_TENSORRT_ENGINE_CACHE_ENABLE', 'ORT_TENSORRT_CACHE_PATH'];

/** Sets this session's TensorRT variables and clears the previous session's (the process environment is shared; sessions are made one at a time). */
export function applyProviderEnv(env: Record<string, string>): void {
  for (const k of TRT_ENV) delete process.env[k];
  Object.assign(process.env, env);
}

/** A provider the device lacks, as the reason a job or a desired state fails with. */
export function missingProviderReason(ep: ExecutionProvider, available: readonly string[]): string | null {
  return available.includes(ep) ? null : `execution provider '${ep}' is not available on this device (it has: ${available.join(', ') || 'none'})`;
}
