/**
 * The connections an HTTP-mode route keeps to its backends: per backend, an http.Agent with keep-alive (bounded
 * by max_backend_connections; more requests queue in the agent) or, for `protocol: h2c` pools, one HTTP/2
 * session by prior knowledge that multiplexes every request. node:http and node:http2 do this well enough that
 * no client library is needed (undici would add a dependency for the same pool).
 *
 * Held per snapshot; close() when the snapshot retires: idle connections close at once, busy ones when done.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { HttpTerminateSettings } from '../../config/types.js';

export class Upstreams {
  private readonly agents = new Map<string, http.Agent>();
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  private isClosed = false;

  constructor(private readonly settings: HttpTerminateSettings) {}

  /** The keep-alive agent for one backend (by its label). */
  agentFor(label: string): http.Agent {
    let agent = this.agents.get(label);
    if (!agent) {
      agent = new http.Agent({
        keepAlive: true,
        maxSockets: this.settings.maxBackendConnections,
        maxFreeSockets: this.settings.maxBackendConnections,
        // Idle kept-alive sockets close after keep_alive: the backend's own keep-alive is usually about as long, and
        // a socket it closed first costs one failed request.
        timeout: this.settings.keepAliveMs,
        scheduling: 'lifo',
      });
      this.agents.set(label, agent);
    }
    return agent;
  }

  /** The h2c session to one backend, opened on first use and again after it closed or failed. */
  sessionFor(label: string, host: string, port: number): http2.ClientHttp2Session {
    const existing = this.sessions.get(label);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const authority = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const session = http2.connect(authority);
    // An error fails the streams open on it (each answers 502); the next request opens a new session.
    session.on('error', () => undefined);
    session.on('close', () => {
      if (this.sessions.get(label) === session) this.sessions.delete(label);
    });
    session.setTimeout(this.settings.keepAliveMs, () => {
      // Idle: nothing in flight for keep_alive. Streams in flight keep the session busy (and the timer reset).
      session.close();
    });
    session.unref();
    this.sessions.set(label, session);
    return session;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  close(): void {
    this.isClosed = true;
    for (const agent of this.agents.values()) {
      // Requests in flight finish on the old snapshot's sockets; idle ones close now, the rest when they free up.
      for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
      agent.on('free', (socket: import('node:net').Socket) => socket.destroy());
    }
    for (const session of this.sessions.values()) session.close();
    this.agents.clear();
    this.sessions.clear();
  }
}
