/** A model or a request pruning cannot serve; the message says why, for a person. */
export class PruneError extends Error {
  override name = 'PruneError';
}
