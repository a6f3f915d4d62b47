// Per-op shape rules for shapes.ts, one file per op family, assembled here
// into the table shapes.ts looks ops up in.
import type { Model } from '../ir.js';
import { constantOps } from './constants.js';
import { convPoolOps } from './conv-pool.js';
import { elementwiseOps } from './elementwise.js';
import { matmulOps } from './matmul.js';
import { quantizeOps } from './quantize.js';
import { reduceOps } from './reduce.js';
import type { Rule } from './rule.js';
import { tensorLayoutOps } from './tensor-layout.js';

export function opsetVersion(model: Model, domain: string): number {
  const o = model.opsetImports.find((x) => x.domain === domain || (domain === '' && x.domain === 'ai.onnx'));
  return o?.version ?? 0;
}

export const shapeOps = new Map<string, Rule>([
  ...elementwiseOps,
  ...convPoolOps,
  ...matmulOps,
  ...tensorLayoutOps,
  ...constantOps,
  ...reduceOps,
  ...quantizeOps,
]);
