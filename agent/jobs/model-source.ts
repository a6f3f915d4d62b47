import type { ArtifactRef } from '../../protocol/artifacts.js';

/** Turns an artifact reference into a verified local model file (the agent's artifact cache). */
export interface ArtifactSource {
  /** `signal` withdraws this caller's interest: the download stops once no caller is left. */
  ensure(ref: ArtifactRef, signal?: AbortSignal): Promise<string>;
  /** Keeps an in-use model from eviction. */
  pin?(sha256: string): void;
  unpin?(sha256: string): void;
}

/** An agent started without a controller cannot fetch models: every ref fails with the reason. */
export const noArtifactSource: ArtifactSource = {
  ensure: async (ref) => {
    throw new Error(`cannot fetch model ${ref.sha256}: this agent has no artifact source (start it with --controller URL)`);
  },
};
