// CONTRACT STUB — replaced by the ClientHello reader implementation. Keep the exported shapes.
export interface ClientHello {
  /** server_name (host_name type) decoded as latin1 exactly as sent, or null when the extension is absent. */
  readonly sni: string | null;
  /** ALPN protocol names offered, in order (latin1). Empty when the extension is absent. */
  readonly alpn: readonly string[];
  /** supported_versions offered (e.g. 0x0304), GREASE values included as sent. Empty when absent. */
  readonly supportedVersions: readonly number[];
  /** legacy_version field of the ClientHello body (0x0303 for TLS 1.2/1.3 hellos). */
  readonly legacyVersion: number;
  /** Bytes of the TLS records (headers included) that carried the hello, from the first byte of the stream. */
  readonly byteLength: number;
}

export type HelloResult =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'hello'; readonly hello: ClientHello }
  | { readonly kind: 'not_tls' }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'malformed'; readonly reason: string };

export interface ClientHelloReaderOptions {
  /** Cap on bytes of TLS records carrying the hello; past it the answer is `too_large`. */
  readonly maxHelloBytes: number;
}

/** Incremental reader: push chunks as they arrive; the first answer other than need_more is final. */
export class ClientHelloReader {
  constructor(_options: ClientHelloReaderOptions) {}
  push(_chunk: Uint8Array): HelloResult {
    throw new Error('not implemented');
  }
}
