import type { ProfileOptions, ProfileReport } from '../../protocol/messages.js';
import { readEnvironment } from './environment.js';
import type { CheckFrame } from './check.js';
import { profileIsolated } from './isolate.js';
import type { SourceSpec } from '../source/spec.js';

export type ProfileResult = { ok: true; report: ProfileReport } | { ok: false; error: string };

export interface RunProfileInput {
  modelPath: string;
  options: ProfileOptions;
  framesDir?: string;
  /** A source spec (the agent's --source): supersedes framesDir for the end-to-end phase. */
  source?: SourceSpec;
  /** The agent's state folder (TensorRT engine cache). */
  stateDir?: string;
  /** Reference frames of the on-device check (see check.ts). */
  check?: CheckFrame[];
  /** Serving was paused for this measurement (the agent); false for a local `edgefit profile`. */
  servingPaused?: boolean;
}

/** The one profiling path, shared by `edgefit profile` and the agent's jobs: environment, then the isolated measurement. */
export async function runProfile(input: RunProfileInput): Promise<ProfileResult> {
  const environment = await readEnvironment(input.servingPaused ?? false);
  const outcome = await profileIsolated(input);
  if (!outcome.ok) return outcome;
  return { ok: true, report: { ...outcome.report, environment } };
}
