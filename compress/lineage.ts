import { createHash } from 'node:crypto';
import { edgefitVersion } from '../protocol/version.js';
import type { Model } from './onnx/ir.js';

/**
 * Where a candidate came from, stored in the ONNX file's metadata under
 * `edgefit.lineage` so the catalog can show it for any file it is handed:
 * the base model's hash and every step applied since (prune → int8 is two).
 */
export interface LineageStep {
  method: string;
  params: Record<string, unknown>;
  at: string;
  edgefit: string;
}

export interface Lineage {
  /** sha256 of the base model file's bytes. */
  base: string;
  steps: LineageStep[];
}

export const LINEAGE_KEY = 'edgefit.lineage';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function readLineage(model: Model): Lineage | null {
  const raw = model.metadata.get(LINEAGE_KEY);
  if (!raw) return null;
  try {
    const parsed = JSON.parse(raw) as Lineage;
    return typeof parsed.base === 'string' && Array.isArray(parsed.steps) ? parsed : null;
  } catch {
    return null;
  }
}

/**
 * Records one more step on `model` (mutating its metadata). `baseSha256` is the
 * hash of the file the chain started from; a model that already carries a
 * lineage keeps its original base.
 */
export function addLineageStep(model: Model, baseSha256: string, method: string, params: Record<string, unknown>): void {
  const previous = readLineage(model);
  const lineage: Lineage = {
    base: previous?.base ?? baseSha256,
    steps: [...(previous?.steps ?? []), { method, params, at: new Date().toISOString(), edgefit: edgefitVersion() }],
  };
  model.metadata.set(LINEAGE_KEY, JSON.stringify(lineage));
}
