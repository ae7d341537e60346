// CONTRACT STUB — replaced by the PROXY protocol encoder implementation. Keep the exported shapes.
export interface ProxyEndpoint {
  /** As node reports it: '1.2.3.4', '::1', or '::ffff:1.2.3.4' (sent as IPv4). */
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeaderInput {
  readonly source: ProxyEndpoint;
  readonly destination: ProxyEndpoint;
  /** PP2_TYPE_AUTHORITY: the SNI, when present. */
  readonly authority?: string | null;
  /** PP2_TYPE_UNIQUE_ID: the connection id (≤ 128 bytes). */
  readonly uniqueId?: string | null;
  /** PP2_TYPE_ALPN: the negotiated protocol (terminate mode). */
  readonly alpn?: string | null;
  /** PP2_TYPE_SSL with PP2_SUBTYPE_SSL_VERSION (terminate mode). */
  readonly ssl?: { readonly version: string; readonly clientCertVerified?: boolean; readonly hasClientCert?: boolean } | null;
}

/** Encodes a PROXY header: v2 binary with TLVs, or v1 text (which carries addresses only). */
export function encodeProxyHeader(_version: 'v1' | 'v2', _input: ProxyHeaderInput): Buffer {
  throw new Error('not implemented');
}

/** A v2 LOCAL header (no addresses): for health checks towards backends that require PROXY. */
export function encodeProxyV2Local(): Buffer {
  throw new Error('not implemented');
}
