import { z } from 'zod';
import { envelope, sha256 } from './envelope.js';
import { Coordinate, FrameSide } from './ranges.js';

// Detections out and the annotated snapshot (issue #19): what the serving
// model found, per frame. Re-exported by protocol/messages.ts.

/** One box the serving model found, in the source frame's own pixels, with its class. */
export const DetectionBox = z.object({
  /** x1, y1, x2, y2 in the source frame's pixels (not the model input's). */
  box: z.tuple([Coordinate, Coordinate, Coordinate, Coordinate]),
  classId: z.number().int().min(0).max(100_000),
  /** From the model's ultralytics `names` metadata; the id as text when the model carries none. */
  className: z.string().max(64),
  score: z.number().min(0).max(1),
});
export type DetectionBox = z.infer<typeof DetectionBox>;

/** What identifies one served frame: the serving model, the frame's number and its size (the boxes' pixel space). */
const servedFrame = {
  ...envelope,
  /** The serving candidate (desired state's candidateId); null when the desired state named none. */
  candidateId: z.string().max(128).nullable(),
  sha256,
  /** Frames served since the agent started, this one included (one counter across model changes). */
  seq: z.number().int().nonnegative(),
  /** The source frame's size. */
  frame: z.object({ width: FrameSide, height: FrameSide }),
};

/** What the serving model found on one served frame: a line of `--detections`, an MQTT `detections` message, an SSE event. */
export const DetectionsMessage = z.object({
  ...servedFrame,
  // the detector keeps at most 300 per frame (ultralytics' max_det)
  boxes: z.array(DetectionBox).max(300),
});
export type DetectionsMessage = z.infer<typeof DetectionsMessage>;

/** Cap of a snapshot's JPEG: small enough to send every few seconds from a Pi on a slow uplink. */
export const SNAPSHOT_MAX_BYTES = 64 * 1024;

/** A served frame with its boxes and class names drawn on, as a JPEG (see compress/detect/annotate.ts). */
export const SnapshotMessage = z.object({
  // seq as in the frame's detections record
  ...servedFrame,
  /** The JPEG's own size: smaller than the frame's when it was scaled to fit the cap. */
  image: z.object({ width: FrameSide, height: FrameSide, quality: z.number().int().min(1).max(100) }),
  boxes: z.number().int().min(0).max(300),
  /** The JPEG, base64; at most SNAPSHOT_MAX_BYTES decoded. */
  jpeg: z
    .string()
    .max(Math.ceil(SNAPSHOT_MAX_BYTES / 3) * 4)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'jpeg must be base64')
    .refine((s) => s.startsWith('/9j/'), 'jpeg is not a JPEG (no SOI marker)'),
});
export type SnapshotMessage = z.infer<typeof SnapshotMessage>;
