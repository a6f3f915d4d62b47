import os from 'node:os';
import { createRequire } from 'node:module';
import si from 'systeminformation';
import type { Inventory } from '../protocol/messages.js';
import { edgefitVersion } from '../protocol/version.js';

const require = createRequire(import.meta.url);

function onnxruntimeInfo(): { version: string; providers: string[] } {
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  // Only providers whose binaries ship with this install can actually run.
  const providers = ort.listSupportedBackends().filter((b) => b.bundled).map((b) => b.name);
  return { version: ort.env.versions.node ?? ort.env.versions.common, providers };
}

/** The device's hardware and runtime, as the hello message carries it. */
export async function readInventory(boardModel: string | null): Promise<Inventory> {
  const [cpu, osInfo, graphics] = await Promise.all([si.cpu(), si.osInfo(), si.graphics().catch(() => ({ controllers: [] }))]);
  const ort = onnxruntimeInfo();
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
    gpus: graphics.controllers.map((c) => [c.vendor, c.model].filter(Boolean).join(' ')).filter((s) => s.length > 0),
    executionProviders: ort.providers,
    onnxruntimeVersion: ort.version,
    edgefitVersion: edgefitVersion(),
  };
}
