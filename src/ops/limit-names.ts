/**
 * Every limit that refuses or evicts a connection: the vocabulary of the `limit` label of
 * sni_router_limited_connections_total and of the refusal log line. It lives with the other vocabularies (close
 * reasons) so that metrics, below the serving layer, can name limits without importing it.
 */
export const LIMIT_NAMES = [
  'max_connections',
  'max_connections_per_client',
  'max_hello_connections',
  'max_hello_connections_per_client',
  'max_hello_bytes_total',
  'max_connection_rate_per_client',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];
