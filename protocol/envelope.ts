import { z } from 'zod';
import { SHA256_PATTERN } from './artifacts.js';
import { PROTOCOL_VERSION } from './topics.js';

// The parts every message is made of: the envelope (protocol version and a
// timestamp) and the bounded strings a device may send.

export const envelope = {
  v: z.literal(PROTOCOL_VERSION),
  ts: z.number().int().nonnegative(),
};

// Everything a device sends is kept and shown on every dashboard: bound each string and list.
export const sha256 = z.string().regex(SHA256_PATTERN);
export const shortText = z.string().max(255);
