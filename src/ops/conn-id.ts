import { randomBytes } from 'node:crypto';

// A per-process prefix keeps ids unique across restarts and workers; the counter keeps them cheap and ordered.
const PROCESS_PREFIX = randomBytes(4).toString('hex');
let counter = 0;

/** The connection id: in the access log's `id` and in the PROXY v2 PP2_TYPE_UNIQUE_ID TLV. */
export function nextConnectionId(): string {
  counter++;
  return `${PROCESS_PREFIX}-${counter.toString(36)}`;
}
