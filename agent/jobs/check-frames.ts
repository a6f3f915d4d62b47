import { refKind } from '../../protocol/artifacts.js';
import type { CheckRequest } from '../../protocol/messages.js';
import type { CheckFrame } from '../profile/check.js';
import type { ArtifactSource } from './model-source.js';

/**
 * The reference frames of a job's on-device check, fetched and verified like
 * models (signature, manifest, sha256) through the agent's artifact source,
 * and pinned as they arrive so that the next one's download cannot evict them:
 * the caller unpins them (unpinCheckFrames) once the job is done. A ref signed
 * as anything but a frame is refused: the check must not decode a model file
 * as an image, nor a job turn an image into a model.
 */
export async function fetchCheckFrames(artifacts: ArtifactSource, request: CheckRequest, signal?: AbortSignal): Promise<CheckFrame[]> {
  const frames: CheckFrame[] = [];
  try {
    for (const ref of request.frames) {
      const path = await artifacts.ensure(ref, signal);
      if (refKind(ref) !== 'frame') throw new Error(`check frame ${ref.sha256} is signed as a ${refKind(ref) ?? 'unknown kind'}, not a frame`);
      artifacts.pin?.(ref.sha256);
      frames.push({ sha256: ref.sha256, path });
    }
  } catch (err) {
    unpinCheckFrames(artifacts, frames);
    throw err;
  }
  return frames;
}

export function unpinCheckFrames(artifacts: ArtifactSource, frames: readonly CheckFrame[] | undefined): void {
  for (const f of frames ?? []) artifacts.unpin?.(f.sha256);
}
