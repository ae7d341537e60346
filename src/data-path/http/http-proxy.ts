/**
 * HTTP termination (`terminate: { cert, key, http: … }`): the router is the route's HTTP reverse proxy, as a
 * load balancer's HTTPS listener is. The Connection has done the TLS handshake on the client's socket; the
 * socket is handed here and served by node's own HTTP/1.1 or HTTP/2 server code (by the negotiated ALPN), the
 * servers never listening themselves:
 *
 *   TLSSocket ─ alpn h2 ─► http2.Server.emit('connection') ─┐
 *             ─ else ───► http.Server.emit('connection') ───┴► 'request' ─► forwardRequest (backend-request.ts)
 *                                                            'upgrade' ─► forwardUpgrade (WebSocket, HTTP/1.1)
 *
 * One profile per route and snapshot; close() when the snapshot retires.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';
import type { HttpTerminateSettings } from '../../config/types.js';
import type { CloseReason } from '../../ops/close-reason.js';
import { forwardRequest, forwardUpgrade, type ClientRequest, type ClientResponse } from './backend-request.js';
import { Upstreams } from './upstreams.js';
import type { HttpConnectionContext } from './context.js';

const kContext = Symbol('sni-router.http-context');
type ContextSocket = net.Socket & { [kContext]?: HttpConnectionContext };
type ContextSession = http2.ServerHttp2Session & { [kContext]?: HttpConnectionContext };

export class HttpProfile {
  readonly settings: HttpTerminateSettings;
  readonly upstreams: Upstreams;
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  /** Set around h2.emit('connection') so the 'session' listener can tag the session it creates. */
  private pendingContext: HttpConnectionContext | null = null;

  constructor(settings: HttpTerminateSettings) {
    this.settings = settings;
    this.upstreams = new Upstreams(settings);
    this.h1 = http.createServer({
      maxHeaderSize: settings.maxHeaderBytes,
      headersTimeout: settings.headersTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      keepAliveTimeout: settings.keepAliveMs,
      // Sweeps for head/request timeouts at a tenth of the shortest, at least every second.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(settings.headersTimeoutMs / 10))),
    });
    // node starts that sweep on 'listening'; this server never listens (its sockets come already terminated).
    this.h1.emit('listening');
    this.h1.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
      const context = (request.socket as ContextSocket)[kContext];
      if (context) forwardRequest(request, response, context, this);
      else response.destroy();
    });
    this.h1.on('upgrade', (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const context = (socket as ContextSocket)[kContext];
      if (context) forwardUpgrade(request, socket, head, context, this);
      else socket.destroy();
    });
    this.h1.on('clientError', (error: NodeJS.ErrnoException, socket: net.Socket) => onClientError(error, socket));

    this.h2 = http2.createServer({
      maxSessionMemory: 10,
      settings: { maxHeaderListSize: settings.maxHeaderBytes, maxConcurrentStreams: 128 },
      // Limits for a single h2 session: the same header budget, and no unbounded settings/ping floods (node's own).
      maxHeaderListPairs: 256,
    });
    this.h2.on('session', (session: ContextSession) => {
      if (this.pendingContext) session[kContext] = this.pendingContext;
      session.setTimeout(settings.keepAliveMs + settings.requestTimeoutMs, () => session.close());
    });
    this.h2.on('request', (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => {
      const context = (request.stream.session as ContextSession | undefined)?.[kContext];
      if (context) forwardRequest(request as unknown as ClientRequest, response as unknown as ClientResponse, context, this);
      else response.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
  }

  /**
   * Serves HTTP on `socket` (handshake done, nothing read from it yet). The socket closes when the client leaves
   * or a timeout cuts it; the caller watches its 'close'. `leftover`: plaintext the caller read before the hand-over.
   */
  serve(socket: tls.TLSSocket, context: HttpConnectionContext, leftover: Buffer | null): void {
    (socket as ContextSocket)[kContext] = context;
    if (leftover !== null && leftover.length > 0) {
      socket.unshift(leftover);
      // node's HTTP/1.1 server reads the TLS handle directly and would skip bytes already in the JS buffer; marked
      // consumed, it reads through 'data' events instead, which deliver them first.
      const handle = (socket as unknown as { _handle?: { _consumed?: boolean } })._handle;
      if (handle && socket.alpnProtocol !== 'h2') handle._consumed = true;
    }
    if (socket.alpnProtocol === 'h2') {
      // Only tls.Server clears this (onServerSocketSecure); on a TLSSocket made directly it stays true, and an
      // h2 session would wait for a 'secureConnect' that a server-side socket never emits.
      (socket as tls.TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      this.pendingContext = context;
      try {
        this.h2.emit('connection', socket);
      } finally {
        this.pendingContext = null;
      }
    } else this.h1.emit('connection', socket);
  }

  close(): void {
    this.h1.close();
    this.upstreams.close();
  }
}

/**
 * A client's HTTP/1.1 broke the rules or a limit (node's server found it): answer what it can and record why on
 * the connection's line. A head over max_header_bytes is 431; a head or request too slow is 408.
 */
function onClientError(error: NodeJS.ErrnoException, socket: net.Socket): void {
  const context = (socket as ContextSocket)[kContext];
  let status = 400;
  let reason: CloseReason = 'client_reset';
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    reason = 'request_too_large';
  } else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'HPE_HEADERS_TIMEOUT') {
    status = 408;
    reason = 'request_timeout';
  } else if (error.code === 'ECONNRESET' || error.code === 'EPIPE') {
    context?.setCloseReason(null, error.code);
    socket.destroy();
    return;
  }
  context?.setCloseReason(reason, `${error.code ?? error.message}`);
  if (socket.writable && !(socket as net.Socket & { _httpMessage?: unknown })._httpMessage) {
    const body = `${status} ${http.STATUS_CODES[status] ?? ''}\n`;
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    socket.destroySoon?.();
  } else socket.destroy();
}
