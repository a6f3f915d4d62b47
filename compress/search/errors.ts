import { codedError } from '../../protocol/errors.js';

/** A search space or genome that does not fit its model (bad sizes, a genome read from a file for another space). */
export class SearchSpaceError extends codedError('E_SEARCH_SPACE') {
  override name = 'SearchSpaceError';
}
