/**
 * The PROXY headers the native plane sends, from templates (wire/proxy-header-template.ts) built the first time a
 * route's name (the AUTHORITY TLV), address family and id length are seen, and kept until the next reload. v1
 * headers and v2 headers with TLS details are encoded whole, as the node plane does.
 */
import { addressPair, encodeProxyHeader, PP2_AUTHORITY_MAX_BYTES, PP2_UNIQUE_ID_MAX_BYTES, type ProxyHeaderInput } from '../wire/proxy-header.js';
import { ProxyV2Template } from '../wire/proxy-header-template.js';

/** Wildcard and regex routes see many names: past this many templates the cache starts over. */
const MAX_TEMPLATES = 4096;

export class ProxyHeaderTemplates {
  readonly #templates = new Map<string, ProxyV2Template>();

  encode(version: 'v1' | 'v2', input: ProxyHeaderInput): Buffer {
    const uniqueId = input.uniqueId ?? '';
    if (version === 'v1' || input.alpn || input.ssl || uniqueId.length === 0 || uniqueId.length > PP2_UNIQUE_ID_MAX_BYTES) {
      return encodeProxyHeader(version, input);
    }
    const raw = input.authority ?? '';
    const authority = raw !== '' && raw.length <= PP2_AUTHORITY_MAX_BYTES ? raw : null;
    const isIPv4 = addressPair(input).isIPv4;
    const key = `${isIPv4 ? 4 : 6}|${uniqueId.length}|${authority ?? ''}`;
    let template = this.#templates.get(key);
    if (template === undefined) {
      if (this.#templates.size >= MAX_TEMPLATES) this.#templates.clear();
      template = new ProxyV2Template({ isIPv4, authority, uniqueIdBytes: uniqueId.length });
      this.#templates.set(key, template);
    }
    return template.fill(input.source, input.destination, uniqueId);
  }

  /** A reload: routes (and their names) may have changed. */
  clear(): void {
    this.#templates.clear();
  }
}
