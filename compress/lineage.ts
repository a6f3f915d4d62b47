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
  /**
   * sha256 of the base model file's bytes; null when the chain starts from no
   * file but from `edgefit model build`, whose 'build' step (scale, head, nc,
   * imgsz, seed) rebuilds the same weights.
   */
  base: string | null;
  steps: LineageStep[];
}

export const LINEAGE_KEY = 'edgefit.lineage';

/** Names a model that edgefit wrote, so the source exporter's name no longer passes for it. */
export const PRODUCER_NAME = 'edgefit';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStep(value: unknown): value is LineageStep {
  return isRecord(value) && typeof value.method === 'string' && isRecord(value.params);
}

/** The model's lineage, or null when it has none or the stored one is not a lineage (a file can carry anything). */
export function readLineage(model: Model): Lineage | null {
  const raw = model.metadata.get(LINEAGE_KEY);
  if (!raw) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isRecord(parsed) || !(typeof parsed.base === 'string' || parsed.base === null)) return null;
  return Array.isArray(parsed.steps) && parsed.steps.every(isStep) ? (parsed as unknown as Lineage) : null;
}

function step(method: string, params: Record<string, unknown>): LineageStep {
  return { method, params, at: new Date().toISOString(), edgefit: edgefitVersion() };
}

function writeLineage(model: Model, lineage: Lineage): void {
  model.metadata.set(LINEAGE_KEY, JSON.stringify(lineage));
  model.producerName = PRODUCER_NAME;
  model.producerVersion = edgefitVersion();
}

/**
 * Records one more step on `model` (mutating its metadata, and naming edgefit
 * as its producer). `baseSha256` is the hash of the file the chain started
 * from; a model that already carries a lineage keeps its original base (null
 * for a built model).
 */
export function addLineageStep(model: Model, baseSha256: string, method: string, params: Record<string, unknown>): void {
  const previous = readLineage(model);
  writeLineage(model, {
    base: previous ? previous.base : baseSha256,
    steps: [...(previous?.steps ?? []), step(method, params)],
  });
}

/** Starts the lineage of a model made from nothing but `params` (the builder's synthetic weights): no base file. */
export function startBuildLineage(model: Model, params: Record<string, unknown>): void {
  writeLineage(model, { base: null, steps: [step('build', params)] });
}
