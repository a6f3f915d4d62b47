import { refKind } from '../../protocol/artifacts.js';
import type { CheckRequest } from '../../protocol/messages.js';
import type { CheckFrame } from '../profile/check.js';
import type { ArtifactSource } from './model-source.js';

/**
 * The reference frames of a job's on-device check, fetched and verified like
 * models (signature, manifest, sha256) through the agent's artifact source.
 * A ref signed as anything but a frame is refused: the check must not decode
 * a model file as an image, nor a job turn an image into a model.
 */
export async function fetchCheckFrames(artifacts: ArtifactSource, request: CheckRequest, signal?: AbortSignal): Promise<CheckFrame[]> {
  const frames: CheckFrame[] = [];
  for (const ref of request.frames) {
    const path = await artifacts.ensure(ref, signal);
    if (refKind(ref) !== 'frame') throw new Error(`check frame ${ref.sha256} is signed as a ${refKind(ref) ?? 'unknown kind'}, not a frame`);
    frames.push({ sha256: ref.sha256, path });
  }
  return frames;
}
