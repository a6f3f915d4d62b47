import { codedError } from '../../protocol/errors.js';
/** A model or a request pruning cannot serve; the message says why, for a person. */
export class PruneError extends codedError('E_PRUNE') {
  override name = 'PruneError';
}
