/** The access line of a connection that was gone before accept completed. */
import net from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/data-path/connection.js';
import { Snapshot } from '../../src/serve/snapshot.js';
import { TLS_SNIFFER } from '../../src/wire/sniffer.js';
import { loadYaml } from '../helpers/router-harness.js';

describe('access line', () => {
  it('a client reset before accept completed is logged with client null, not ":0"', () => {
    // Failed: node reports no remote address for a socket reset before accept completed, and the line showed
    // `"client":":0"`. With no address there is nothing to show: the field is null, the detail says why.
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) });
    const snapshot = new Snapshot(loadYaml('listen: ["127.0.0.1:0"]\nroutes: { a.test: [127.0.0.1:9] }\n'));
    const socket = new net.Socket(); // never connected: no remote address, as after an early reset
    let closed = 0;
    new Connection(socket, { snapshot, sniffer: TLS_SNIFFER, listenerLabel: '127.0.0.1:0', logger, connectionClosed: () => closed++ });
    expect(closed).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ client: null, reason: 'client_reset', detail: 'closed before accept completed' });
    snapshot.dispose();
  });
});
