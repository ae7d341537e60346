/** The PROXY header a backend of a pool is sent for a connection: what the connection learnt, on the wire. */
import type { Pool } from '../pools/pool.js';
import { normalizeServerName } from '../wire/host-name.js';
import { encodeProxyHeader } from '../wire/proxy-header.js';
import type { ConnectionRecord } from './access-line.js';

/** Null when the pool takes none; in terminate mode with the negotiated ALPN and TLS version (PP2_TYPE_SSL). */
export function outboundProxyHeader(pool: Pool, record: ConnectionRecord, id: string): Buffer | null {
  if (pool.config.proxyProtocol === 'none') return null;
  const { tls, sni, clientAddress, clientPort, localAddress, localPort } = record;
  return encodeProxyHeader(pool.config.proxyProtocol, {
    source: { address: clientAddress, port: clientPort },
    destination: { address: localAddress, port: localPort },
    authority: sni === null ? null : normalizeServerName(sni),
    uniqueId: id,
    alpn: tls?.alpn ?? null,
    ssl: tls ? { version: tls.version, hasClientCert: tls.hasClientCert, clientCertVerified: tls.clientCertVerified } : null,
  });
}
