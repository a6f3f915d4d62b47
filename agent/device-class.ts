import { createHash } from 'node:crypto';
import type { Inventory } from '../protocol/messages.js';

/**
 * The facts that decide inference speed, and nothing else: two boards of the
 * same model with the same runtime share measurements even when their
 * hostnames, kernels or free memory differ. Memory is rounded to whole GiB
 * because kernels reserve slightly different amounts on identical boards.
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
  };
}

export function deviceClass(inv: Inventory, salt?: string): string {
  return createHash('sha256').update(JSON.stringify(salt ? { ...speedFacts(inv), salt } : speedFacts(inv))).digest('hex').slice(0, 16);
}
