import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import si from 'systeminformation';
import type { Inventory } from '../protocol/messages.js';
import { edgefitVersion } from '../protocol/version.js';
import { readAccelerators, type AcceleratorRoots } from './accelerators/read.js';
import { ffmpegInfo } from './source/ffmpeg.js';
import { bindingInfo, loadedProviders } from './onnxruntime/binding.js';

const GPU_PROVIDERS: ReadonlySet<string> = new Set(['webgpu', 'cuda', 'tensorrt', 'dml', 'coreml']);

/**
 * The execution providers a device can run: those whose binaries ship with
 * this install (linux x64 bundles webgpu), less the GPU ones on a device with
 * no GPU (a VM, a Pi), where they would only fail at session creation.
 */
export function usableProviders(bundled: readonly string[], hasGpu: boolean): string[] {
  return bundled.filter((p) => hasGpu || !GPU_PROVIDERS.has(p));
}

/**
 * A GPU that can compute: a DRM render node (a plain virtual display has only
 * a card node), an NVIDIA device, or a Tegra GPU. A display controller that
 * systeminformation lists is no evidence: every VM has one.
 */
function kernelSeesGpu(): boolean {
  const renderNode = (() => {
    try {
      return readdirSync('/dev/dri').some((n) => n.startsWith('renderD'));
    } catch {
      return false;
    }
  })();
  return renderNode || ['/dev/nvidia0', '/dev/nvhost-gpu', '/dev/nvgpu'].some((p) => existsSync(p));
}

// An ESM import, not require(): the --onnxruntime resolve hook sees imports only (Node 20).
function onnxruntimeInfo(hasGpu: boolean): { version: string; providers: string[] } {
  return { version: ort.env.versions.node ?? ort.env.versions.common, providers: usableProviders(loadedProviders(ort.listSupportedBackends()), hasGpu) };
}

/** The device's hardware and runtime, as the hello message carries it. */
export async function readInventory(boardModel: string | null, accelerators: AcceleratorRoots = {}): Promise<Inventory> {
  const [cpu, osInfo, graphics, found, ffmpeg] = await Promise.all([si.cpu(), si.osInfo(), si.graphics().catch(() => ({ controllers: [] })), readAccelerators(accelerators), ffmpegInfo()]);
  const gpus = graphics.controllers.map((c) => [c.vendor, c.model].filter(Boolean).join(' ')).filter((s) => s.length > 0);
  const runtime = onnxruntimeInfo(kernelSeesGpu());
  const cpuModel = [cpu.manufacturer, cpu.brand].filter(Boolean).join(' ').trim() || os.cpus()[0]?.model || 'unknown';
  return {
    hostname: os.hostname(),
    cpuModel,
    cpuCores: cpu.cores || os.cpus().length,
    cpuPhysicalCores: cpu.physicalCores || null,
    arch: os.arch(),
    memTotalBytes: os.totalmem(),
    os: [osInfo.distro, osInfo.release].filter(Boolean).join(' ') || os.type(),
    kernel: osInfo.kernel || os.release(),
    boardModel,
    gpus,
    executionProviders: runtime.providers,
    onnxruntimeVersion: runtime.version,
    edgefitVersion: edgefitVersion(),
    accelerators: found,
    onnxruntimeBinding: bindingInfo(runtime.version),
    ffmpeg,
  };
}
