import type { z } from 'zod';

/**
 * A failed zod check as one line: the path of its first problem and what is
 * wrong there ('options.runs: Number must be greater than or equal to 1').
 * `root` names the value itself when the problem is at the top ('(root)',
 * 'body', 'ref'). Every boundary that validates with zod answers with this.
 */
export function firstIssue(error: z.ZodError, root = '(root)'): string {
  const issue = error.issues[0];
  if (!issue) return `${root}: invalid`;
  return `${issue.path.join('.') || root}: ${issue.message}`;
}
