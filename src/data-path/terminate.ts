/**
 * Terminate mode, per connection: the peeked ClientHello goes to a server-side TLS session on the client's own
 * socket, so the handshake completes without the client sending anything twice; and, where a route asks for it,
 * a TLS session towards the backend (re-encryption).
 *
 *   raw client socket ─ paused, its 'data' handler gone ─► unshift(peeked) ─► new TLSSocket({ isServer })
 *                                                                           'secure' ─► plaintext to splice
 *
 * node's TLS wrap reads what is already buffered on the socket first ("emulate receiving it" in _tls_wrap), then
 * reads the socket's handle itself. From then on the raw socket must not be resumed or read by anyone else.
 */
import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { acquireBackendCa, acquireServerTlsContext, type BackendCaFile, type ServerTlsContext } from './cert-store.js';
import type { TerminateSettings } from '../config/types.js';
import { settleWithDeadline } from '../ops/settle.js';
import { HttpProfile } from './http/http-proxy.js';

/** One terminated route, compiled once per snapshot. */
export interface TerminateProfile {
  readonly context: ServerTlsContext;
  readonly alpn: readonly string[];
  readonly requireClientCert: boolean;
  readonly backendTls: BackendTlsProfile | null;
  /** HTTP mode (terminate.http): the route's reverse proxy; null = byte stream to the backend. */
  readonly http: HttpProfile | null;
  /**
   * Where node looks for the 'OCSPRequest' listener when a client asks for a stapled response (status_request):
   * node emits it on the TLSSocket's `server` option only, so a route with `ocsp` has a tls.Server that never
   * listens and only answers with the context's current response. Null = no stapling.
   */
  readonly ocspServer: tls.Server | null;
}

export interface BackendTlsProfile {
  /** The CA file's certificates as they are now (the file is watched), or null to use the system's. */
  readonly ca: Buffer | null;
  readonly servername: string | null;
  readonly verify: boolean;
}

/** What the handshake settled, for the access line and the PROXY header. */
export interface NegotiatedTls {
  /** 'TLSv1.3', 'TLSv1.2'. */
  readonly version: string;
  readonly cipher: string;
  /** The ALPN protocol both sides agreed on, or null. */
  readonly alpn: string | null;
  readonly hasClientCert: boolean;
  readonly clientCertVerified: boolean;
}

/**
 * Throws CertificateError (naming the file) when the route's material cannot be used. The files are held for
 * `owner` (the snapshot) until it calls releaseTlsMaterial.
 */
export function compileTerminate(settings: TerminateSettings, logger: Logger | null, owner: object): TerminateProfile {
  const context = acquireServerTlsContext(settings, logger, owner);
  let backendTls: BackendTlsProfile | null = null;
  if (settings.backendTls) {
    const caFile: BackendCaFile | null = settings.backendTls.caFile ? acquireBackendCa(settings.backendTls.caFile, logger, owner) : null;
    const { servername, verify } = settings.backendTls;
    backendTls = {
      get ca() {
        return caFile?.current() ?? null;
      },
      servername,
      verify,
    };
  }
  return {
    context,
    alpn: settings.alpn,
    requireClientCert: Boolean(settings.clientCaFile),
    backendTls,
    http: settings.http ? new HttpProfile(settings.http) : null,
    ocspServer: settings.ocspFile || settings.certs?.some((pair) => pair.ocspFile) ? ocspServerFor(context) : null,
  };
}

function ocspServerFor(context: ServerTlsContext): tls.Server {
  const server = new tls.Server({});
  server.on('OCSPRequest', (_certificate: Buffer, _issuer: Buffer, done: (error: Error | null, response?: Buffer) => void) => {
    const response = context.ocspResponse();
    if (response) done(null, response);
    else done(null);
  });
  return server;
}

/**
 * Starts the server side of TLS on `raw` with the bytes already read from it. `raw` must be paused and have no
 * 'data' listener. The caller listens for 'secure' (handshake done) and 'error' on the returned socket.
 */
export function acceptTls(raw: net.Socket, peeked: readonly Buffer[], profile: TerminateProfile): tls.TLSSocket {
  if (peeked.length > 0) raw.unshift(peeked.length === 1 ? peeked[0]! : Buffer.concat(peeked));
  const socket = new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: profile.context.current(),
    ...(profile.alpn.length > 0 ? { ALPNProtocols: [...profile.alpn] } : {}),
    requestCert: profile.requireClientCert,
    rejectUnauthorized: profile.requireClientCert,
    ...(profile.ocspServer ? { server: profile.ocspServer } : {}),
  });
  // Renegotiation is a client-initiated DoS vector and has no use here (TLS 1.3 has none at all).
  socket.disableRenegotiation();
  return socket;
}

/**
 * Why the client's certificate chain failed verification against client_ca, or null when it passed. OpenSSL
 * checked it during the handshake; node only reads the verdict into `authorized` for sockets of a tls.Server
 * (onServerSocketSecure), not for a TLSSocket made directly, so read it the way that code does. Fails closed: a
 * runtime without the call refuses every client certificate rather than accepting unverified ones.
 */
function verifyErrorOf(socket: tls.TLSSocket): string | null {
  const handle = (socket as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
  if (typeof handle?.verifyError !== 'function') return 'cannot read the verification result';
  const error = handle.verifyError();
  return error ? ((error as NodeJS.ErrnoException).code ?? error.message) : null;
}

/**
 * After 'secure': null when the session may go on, else why not. A bare TLSSocket does not enforce
 * rejectUnauthorized itself (tls.Server does), so an untrusted client certificate is refused here; a missing one
 * already failed the handshake (OpenSSL's FAIL_IF_NO_PEER_CERT).
 */
export function refusalOf(socket: tls.TLSSocket, profile: TerminateProfile, negotiated: NegotiatedTls): string | null {
  if (!profile.requireClientCert || negotiated.clientCertVerified) return null;
  if (!negotiated.hasClientCert) return 'client certificate refused: none given';
  return `client certificate refused: ${verifyErrorOf(socket) ?? 'not verified'}`;
}

export function negotiatedOf(socket: tls.TLSSocket, profile: TerminateProfile): NegotiatedTls {
  const alpn = socket.alpnProtocol;
  const hasClientCert = profile.requireClientCert && Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
  return {
    version: socket.getProtocol() ?? 'unknown',
    cipher: socket.getCipher()?.standardName ?? 'unknown',
    alpn: typeof alpn === 'string' && alpn.length > 0 ? alpn : null,
    hasClientCert,
    clientCertVerified: hasClientCert && verifyErrorOf(socket) === null,
  };
}

export type BackendTlsCallback = (error: Error | null, socket: tls.TLSSocket | null) => void;

/**
 * TLS towards a backend over an already-connected socket (a PROXY header, if any, already written on it). The
 * callback fires exactly once: with the secured socket, or with an error after everything was destroyed.
 * `alpn` is the protocol the client negotiated, offered to the backend so both ends speak the same one.
 */
export function connectBackendTls(
  socket: net.Socket,
  profile: BackendTlsProfile,
  clientServername: string | null,
  alpn: string | null,
  timeoutMs: number,
  callback: BackendTlsCallback,
): tls.TLSSocket {
  const servername = profile.servername ?? clientServername ?? undefined;
  const secured = tls.connect({
    socket,
    ...(servername !== undefined ? { servername } : {}),
    ...(profile.ca ? { ca: profile.ca } : {}),
    rejectUnauthorized: profile.verify,
    ...(alpn !== null ? { ALPNProtocols: [alpn] } : {}),
  });
  const handshake = settleWithDeadline<Error | null>(timeoutMs, () => new Error(`backend TLS handshake did not finish within ${timeoutMs} ms`), (error) => {
    if (error) {
      secured.destroy();
      socket.destroy();
      callback(error, null);
    } else callback(null, secured);
  });
  secured.once('secureConnect', () => handshake.settle(null));
  // Stays attached for the socket's life (an 'error' without a listener would crash the process).
  secured.on('error', (error) => handshake.settle(new Error(`backend TLS: ${error.message}`)));
  return secured;
}
