import { readModel } from '../../compress/onnx/read.js';
import { ultralyticsMetadata } from '../../compress/onnx/metadata.js';
import { readLineage, type Lineage } from '../../compress/lineage.js';
import type { Desired } from '../../protocol/messages.js';

/** DIR/current.json: what the application needs to run DIR/current.onnx, and what it is. */
export interface ModelDescriptor {
  candidateId: string | null;
  sha256: string;
  generation: number;
  rolloutId: string | null;
  /** ISO time the agent handed the file over. */
  deployedAt: string;
  /** The model's first input: NCHW, width and height in pixels (null where the file leaves them symbolic). */
  input: { name: string; width: number | null; height: number | null };
  /** Class id → name from the model's ultralytics metadata; null when the file carries none. */
  classNames: string[] | null;
  lineage: Lineage | null;
  executionProvider: string;
  providerOptions: Record<string, unknown> | null;
  threads: number | null;
}

const dim = (d: unknown): number | null => (typeof d === 'number' && d > 0 ? d : null);

/** The descriptor of a verified model file's bytes for the desired state that names it. */
export function describeModel(bytes: Uint8Array, sha256: string, desired: Desired, deployedAt = new Date()): ModelDescriptor {
  const model = readModel(bytes);
  const initializers = new Set(model.graph.initializers.keys());
  const input = model.graph.inputs.find((v) => !initializers.has(v.name));
  if (!input) throw new Error('the model has no input');
  const names = ultralyticsMetadata(model).names;
  const ids = names ? Object.keys(names).map(Number) : [];
  return {
    candidateId: desired.candidateId ?? null,
    sha256,
    generation: desired.generation,
    rolloutId: desired.rolloutId ?? null,
    deployedAt: deployedAt.toISOString(),
    input: { name: input.name, height: dim(input.shape?.[2]), width: dim(input.shape?.[3]) },
    classNames: names ? Array.from({ length: Math.max(...ids) + 1 }, (_, i) => names[i] ?? String(i)) : null,
    lineage: readLineage(model),
    executionProvider: desired.ep ?? 'cpu',
    providerOptions: (desired.providerOptions as Record<string, unknown> | undefined) ?? null,
    threads: desired.threads ?? null,
  };
}
