import { createHash } from 'node:crypto';
import type { Inventory } from '../protocol/messages.js';

/**
 * The facts that decide inference speed, and nothing else: two boards of the
 * same model with the same runtime share measurements even when their
 * hostnames, kernels or free memory differ. Memory is rounded to whole GiB
 * because kernels reserve slightly different amounts on identical boards.
 * Accelerators (a Jetson's L4T, CUDA and TensorRT, a discrete GPU) and the
 * providers the binding offers are speed facts too: one CPU with another GPU
 * or another TensorRT runs a model apart.
 */
export function speedFacts(inv: Inventory) {
  return {
    arch: inv.arch,
    cpuModel: inv.cpuModel.trim(),
    cpuCores: inv.cpuCores,
    memGiB: Math.round(inv.memTotalBytes / 2 ** 30),
    boardModel: inv.boardModel,
    gpus: [...inv.gpus].sort(),
    executionProviders: [...inv.executionProviders].sort(),
    onnxruntimeVersion: inv.onnxruntimeVersion,
    // Only when there are some: a plain CPU box keeps the class it had before accelerators were reported.
    ...(inv.accelerators && inv.accelerators.length > 0 ? { accelerators: inv.accelerators.map((a) => JSON.stringify(a, Object.keys(a).sort())).sort() } : {}),
  };
}

export function deviceClass(inv: Inventory, salt?: string): string {
  return createHash('sha256').update(JSON.stringify(salt ? { ...speedFacts(inv), salt } : speedFacts(inv))).digest('hex').slice(0, 16);
}
