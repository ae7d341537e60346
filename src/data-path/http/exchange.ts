/**
 * The shapes one proxied request passes between its parts (backend-request.ts, h2c-request.ts, http-proxy.ts),
 * kept here so that those files import each other in one direction only.
 */
import type http from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type http2 from 'node:http2';
import type { Readable, Writable } from 'node:stream';
import type { CloseReason } from '../../ops/close-reason.js';
import type { HttpTerminateSettings } from '../../config/types.js';
import type { Upstreams } from './upstreams.js';

/** What a request needs of its route's proxy: the settings and the backend connections. */
export interface ProxyParts {
  readonly settings: HttpTerminateSettings;
  readonly upstreams: Upstreams;
}

export type ClientRequest = http.IncomingMessage | http2.Http2ServerRequest;
export type ClientResponse = http.ServerResponse | http2.Http2ServerResponse;

/** What one request's access line says; filled in as the exchange goes. */
export interface RequestRecord {
  status: number;
  bytesIn: number;
  bytesOut: number;
  backend: string | null;
  reason: CloseReason;
  detail: string | null;
}

/** The backend's answer, whichever protocol carried it. */
export interface BackendAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable;
}

/** What sendOverH1/sendOverH2c report back; exactly one of onAnswer / onFailed fires. */
export interface SendCallbacks {
  /** The connection to the backend is up: the body may flow. */
  onConnected(sink: Writable): void;
  onAnswer(answer: BackendAnswer): void;
  /** `beforeConnect`: no connection was made, so the next backend may be tried. */
  onFailed(message: string, beforeConnect: boolean, retryable: boolean): void;
}

export interface BackendTarget {
  readonly label: string;
  readonly host: string;
  readonly port: number;
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly headers: OutgoingHttpHeaders;
  readonly hasBody: boolean;
}

