/**
 * One client request through an HTTP-mode route: pick a backend in balancer order, send the request over the
 * route's kept-alive pool (HTTP/1.1, or h2c where the pool says so), stream the body both ways, and write one
 * access line. When no backend answers, the client gets a short 502/503/504 and the line says why:
 *
 *   503 service_unavailable  every backend of the pool is down (health) before any was tried
 *   502 bad_gateway          every backend refused the connection, or one broke before its response head
 *   504 gateway_timeout      no response head within response_timeout
 *
 * A connect failure is retried on the next backend (the body is not read from the client until a backend's
 * connection is up, so nothing is lost); so is a kept-alive socket the backend had closed, for bodiless requests.
 */
import http, { type OutgoingHttpHeaders } from 'node:http';
import type http2 from 'node:http2';
import type net from 'node:net';
import type { Readable, Writable } from 'node:stream';
export type { ClientRequest, ClientResponse } from './exchange.js';
import type { CloseReason } from '../../ops/close-reason.js';
import { backendRequestHeaders, clientResponseHeaders, type ForwardedFor } from './forwarded-headers.js';
import type { HttpConnectionContext } from './context.js';
import { sendOverH2c } from './h2c-request.js';
import { formatEndpoint } from '../../wire/address.js';
import type { BackendAnswer, BackendTarget, ClientRequest, ClientResponse, ProxyParts, RequestRecord, SendCallbacks } from './exchange.js';

const SHORT_BODIES: Readonly<Record<number, string>> = {
  408: 'request timeout\n',
  413: 'request body too large\n',
  502: 'bad gateway: no backend answered\n',
  503: 'service unavailable: no backend is up\n',
  504: 'gateway timeout: the backend did not answer in time\n',
};

function hostOf(request: ClientRequest): string {
  const authority = request.headers[':authority'] ?? request.headers.host;
  return typeof authority === 'string' ? authority : '';
}

function hasBodyOf(request: ClientRequest): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return length !== '0';
  if (request.headers['transfer-encoding'] !== undefined) return true;
  // Over h2 a body is whatever DATA frames come; the stream says whether it already ended.
  return request.httpVersionMajor === 2 && !(request as http2.Http2ServerRequest).stream.endAfterHeaders;
}

export function forwardedFor(context: HttpConnectionContext): ForwardedFor {
  return { clientAddress: context.clientAddress, isPeerTrusted: context.isPeerTrusted, localPort: context.localPort };
}

export function forwardRequest(request: ClientRequest, response: ClientResponse, context: HttpConnectionContext, profile: ProxyParts): void {
  const startedAt = performance.now();
  const settings = profile.settings;
  const record: RequestRecord = { status: 0, bytesIn: 0, bytesOut: 0, backend: null, reason: 'done', detail: null };
  const host = hostOf(request);
  const method = request.method ?? 'GET';
  const path = request.url ?? '/';
  let isLogged = false;
  let timer: NodeJS.Timeout | null = null;
  let sink: Writable | null = null;
  const writeLine = (): void => {
    if (isLogged) return;
    isLogged = true;
    if (timer) clearTimeout(timer);
    context.countBytes(record.bytesIn, record.bytesOut);
    const line: Record<string, unknown> = {
      id: context.connectionId,
      client: formatEndpoint(context.clientAddress, context.clientPort),
      route: context.route,
      protocol: request.httpVersionMajor === 2 ? 'h2' : `http/${request.httpVersion}`,
      method,
      host,
      path: path.length > 1024 ? `${path.slice(0, 1024)}…` : path,
      status: record.status,
      bytes_in: record.bytesIn,
      bytes_out: record.bytesOut,
      duration_ms: Math.round((performance.now() - startedAt) * 1000) / 1000,
      backend: record.backend,
      reason: record.reason,
    };
    if (record.detail !== null) line.detail = record.detail;
    context.logger.info(line, 'request');
  };
  const answer = (status: number, reason: CloseReason, detail: string): void => {
    record.reason = reason;
    record.detail = detail;
    sink?.destroy();
    if (response.headersSent) {
      response.destroy();
      return;
    }
    record.status = status;
    const body = SHORT_BODIES[status] ?? `${status}\n`;
    const headers: OutgoingHttpHeaders = { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) };
    if (settings.hsts !== null) headers['strict-transport-security'] = settings.hsts;
    response.writeHead(status, headers);
    response.end(body);
  };
  response.on('close', () => {
    if (!response.writableFinished && record.reason === 'done') {
      record.reason = 'client_reset';
      record.detail = 'client left before the response was complete';
      sink?.destroy();
    }
    writeLine();
  });

  const declared = Number(request.headers['content-length']);
  if (settings.maxBodyBytes > 0 && declared > settings.maxBodyBytes) {
    answer(413, 'request_too_large', `content-length ${declared} over max_body_bytes ${settings.maxBodyBytes}`);
    return;
  }
  const order = context.pool.dialOrder(context.clientAddress);
  if (order.length === 0) {
    answer(503, 'service_unavailable', 'every backend of the pool is down');
    return;
  }
  const headers = backendRequestHeaders(request.headers, host, forwardedFor(context));
  const hasBody = hasBodyOf(request);
  timer = setTimeout(() => answer(504, 'gateway_timeout', `no response head within ${settings.responseTimeoutMs} ms`), settings.responseTimeoutMs);

  const attempt = (index: number, isRetry: boolean): void => {
    const backend = context.pool.backendAt(order[index]!);
    record.backend = backend.label;
    context.usedBackend(backend.label);
    const target: BackendTarget = {
      label: backend.label,
      host: context.addressFor(backend),
      port: backend.port,
      method,
      path,
      authority: host,
      headers,
      hasBody,
    };
    const callbacks: SendCallbacks = {
      onConnected(connected) {
        context.pool.health.reportDialSuccess(backend.label);
        sink = connected;
        pipeBody(request, connected, record, settings.maxBodyBytes, () =>
          answer(413, 'request_too_large', `body over max_body_bytes ${settings.maxBodyBytes}`),
        );
      },
      onAnswer(backendAnswer) {
        if (record.reason !== 'done') {
          backendAnswer.body.destroy();
          return;
        }
        if (timer) clearTimeout(timer);
        timer = null;
        record.status = backendAnswer.status;
        response.writeHead(backendAnswer.status, clientResponseHeaders(backendAnswer.headers, settings.hsts));
        backendAnswer.body.on('data', (chunk: Buffer) => {
          record.bytesOut += chunk.length;
        });
        backendAnswer.body.on('error', () => {
          record.reason = 'backend_reset';
          record.detail = 'the backend broke off its response';
          response.destroy();
        });
        backendAnswer.body.pipe(response as unknown as Writable);
      },
      onFailed(message, beforeConnect, retryable) {
        if (record.reason !== 'done') return;
        if (beforeConnect) context.pool.health.reportDialFailure(backend.label, message);
        const next = index + 1 < order.length;
        if ((beforeConnect && next) || (retryable && !hasBody && !isRetry)) {
          attempt(beforeConnect && next ? index + 1 : index, !beforeConnect || isRetry);
          return;
        }
        answer(502, 'bad_gateway', message);
      },
    };
    if (context.pool.config.protocol === 'h2c') sendOverH2c(profile.upstreams, target, callbacks);
    else sendOverH1(profile, target, callbacks);
  };
  attempt(0, false);
}

/** The client's body to the backend, counted and held to max_body_bytes (0 = no limit). */
function pipeBody(request: ClientRequest, sink: Writable, record: RequestRecord, maxBytes: number, onTooLarge: () => void): void {
  request.on('data', (chunk: Buffer) => {
    record.bytesIn += chunk.length;
    if (maxBytes > 0 && record.bytesIn > maxBytes) {
      request.unpipe(sink);
      onTooLarge();
    }
  });
  (request as Readable).pipe(sink);
}

function sendOverH1(profile: ProxyParts, target: BackendTarget, callbacks: SendCallbacks): void {
  let isConnected = false;
  const outgoing = http.request({
    host: target.host,
    port: target.port,
    method: target.method,
    path: target.path,
    headers: target.headers,
    agent: profile.upstreams.agentFor(target.label),
    setHost: false,
  });
  outgoing.on('socket', (socket: net.Socket) => {
    socket.setNoDelay(true);
    const connected = (): void => {
      isConnected = true;
      callbacks.onConnected(outgoing);
    };
    if (socket.connecting) socket.once('connect', connected);
    else connected();
  });
  outgoing.on('response', (answer: http.IncomingMessage) => {
    callbacks.onAnswer({ status: answer.statusCode ?? 502, headers: answer.headers, body: answer });
  });
  outgoing.on('error', (error: NodeJS.ErrnoException) => {
    const code = error.code ?? error.message;
    // A kept-alive socket the backend closed just as we reused it: not the backend's fault, try a fresh one.
    const retryable = outgoing.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE');
    callbacks.onFailed(`${target.label}: ${code}`, !isConnected, retryable);
  });
}

/**
 * A WebSocket (or any HTTP/1.1 Upgrade) handshake: passed to a backend on a connection of its own; after its 101
 * the two sockets are spliced until either side closes.
 */
export function forwardUpgrade(request: http.IncomingMessage, client: net.Socket, head: Buffer, context: HttpConnectionContext, profile: ProxyParts): void {
  const startedAt = performance.now();
  const host = hostOf(request);
  const order = context.pool.dialOrder(context.clientAddress);
  const record: RequestRecord = { status: 0, bytesIn: head.length, bytesOut: 0, backend: null, reason: 'done', detail: null };
  const log = (): void => {
    context.countBytes(record.bytesIn, record.bytesOut);
    const line = {
      id: context.connectionId,
      client: formatEndpoint(context.clientAddress, context.clientPort),
      route: context.route,
      protocol: `http/${request.httpVersion}`,
      method: request.method,
      host,
      path: request.url,
      status: record.status,
      bytes_in: record.bytesIn,
      bytes_out: record.bytesOut,
      duration_ms: Math.round((performance.now() - startedAt) * 1000) / 1000,
      backend: record.backend,
      reason: record.reason,
      upgrade: request.headers.upgrade ?? null,
      ...(record.detail !== null ? { detail: record.detail } : {}),
    };
    context.logger.info(line, 'request');
  };
  const refuse = (status: number, reason: CloseReason, detail: string): void => {
    record.status = status;
    record.reason = reason;
    record.detail = detail;
    const body = SHORT_BODIES[status] ?? `${status}\n`;
    client.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    log();
  };
  const first = order[0];
  if (first === undefined) {
    refuse(503, 'service_unavailable', 'every backend of the pool is down');
    return;
  }
  const backend = context.pool.backendAt(first);
  record.backend = backend.label;
  context.usedBackend(backend.label);
  const outgoing = http.request({
    host: context.addressFor(backend),
    port: backend.port,
    method: request.method,
    path: request.url,
    headers: backendRequestHeaders(request.headers, host, forwardedFor(context), true),
    agent: false,
    setHost: false,
  });
  outgoing.on('upgrade', (answer: http.IncomingMessage, upstream: net.Socket, upstreamHead: Buffer) => {
    record.status = answer.statusCode ?? 101;
    const lines = [`HTTP/1.1 ${record.status} ${answer.statusMessage ?? 'Switching Protocols'}`];
    for (let i = 0; i < answer.rawHeaders.length; i += 2) lines.push(`${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}`);
    client.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (upstreamHead.length > 0) client.write(upstreamHead);
    if (head.length > 0) upstream.write(head);
    upstream.on('data', (chunk: Buffer) => void (record.bytesOut += chunk.length));
    client.on('data', (chunk: Buffer) => void (record.bytesIn += chunk.length));
    upstream.pipe(client);
    client.pipe(upstream);
    let isDone = false;
    const finish = (): void => {
      if (isDone) return;
      isDone = true;
      upstream.destroy();
      client.destroy();
      log();
    };
    // Sockets here allow half-close, so a FIN is passed on (pipe ends the other side); once both sides ended, or
    // either closed, the tunnel is over.
    let ends = 0;
    const ended = (): void => {
      if (++ends === 2) finish();
    };
    upstream.on('end', ended);
    client.on('end', ended);
    upstream.on('close', finish);
    client.on('close', finish);
    upstream.on('error', () => undefined);
    client.on('error', () => undefined);
  });
  outgoing.on('response', (answer: http.IncomingMessage) => {
    // The backend declined the upgrade: its answer goes back as is, and the connection closes after it.
    record.status = answer.statusCode ?? 502;
    const lines = [`HTTP/1.1 ${record.status} ${answer.statusMessage ?? ''}`];
    const headers = clientResponseHeaders(answer.headers, profile.settings.hsts);
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}`);
    lines.push('connection: close');
    client.write(`${lines.join('\r\n')}\r\n\r\n`);
    answer.on('data', (chunk: Buffer) => void (record.bytesOut += chunk.length));
    answer.pipe(client);
    answer.on('end', log);
  });
  outgoing.on('error', (error: NodeJS.ErrnoException) => {
    context.pool.health.reportDialFailure(backend.label, error.code ?? error.message);
    refuse(502, 'bad_gateway', `${backend.label}: ${error.code ?? error.message}`);
  });
  outgoing.end();
}
