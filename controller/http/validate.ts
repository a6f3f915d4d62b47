import type { z } from 'zod';
import { firstIssue } from '../../protocol/first-issue.js';
import { EdgefitError } from '../../protocol/errors.js';

/** A request that fails its schema: E_BAD_REQUEST (400) with the first problem named. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new EdgefitError('E_BAD_REQUEST', { reason: firstIssue(parsed.error, 'body') });
  }
  return parsed.data;
}
