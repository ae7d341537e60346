import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { RouteTable } from '../../src/routing/route-table.js';
import { decideByRouteTable } from '../../src/data-path/quic/route-decision.js';
import type { QuicHelloContext } from '../../src/data-path/quic/flow-types.js';

function tableFor(routes: string[], defaultBackends?: string): RouteTable {
  const loaded = loadConfig({ listen: ['127.0.0.1:0'], routes, defaultBackends });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return RouteTable.compile(loaded.config.routes, loaded.config.defaultPool);
}

function context(sni: string | null, alpn: string[] = ['h3']): QuicHelloContext {
  return {
    hello: { sni, alpn, supportedVersions: [0x0304], legacyVersion: 0x0303, byteLength: 300 },
    initial: { version: 1, dcid: Buffer.alloc(8), scid: Buffer.alloc(0) },
    client: { address: '127.0.0.1', port: 5555 },
  };
}

describe('decideByRouteTable: QUIC routes with the TCP rules', () => {
  it('uses the same precedence and normalisation, and default for the rest', () => {
    const decide = decideByRouteTable(() => tableFor(['app.example.com=10.0.0.1:443', '*.example.com=10.0.0.2:443,10.0.0.3:443'], '10.0.0.9:443'));
    expect(decide(context('APP.example.com.'))).toEqual({ backends: [{ host: '10.0.0.1', port: 443 }], route: 'app.example.com' });
    expect(decide(context('x.y.example.com'))).toEqual({
      backends: [{ host: '10.0.0.2', port: 443 }, { host: '10.0.0.3', port: 443 }],
      route: '*.example.com',
    });
    expect(decide(context('example.com'))).toEqual({ backends: [{ host: '10.0.0.9', port: 443 }], route: 'default' });
    expect(decide(context(null))?.route).toBe('default');
  });

  it('returns null when nothing matches and there is no default', () => {
    const decide = decideByRouteTable(() => tableFor(['app.example.com=10.0.0.1:443']));
    expect(decide(context('other.example.com'))).toBeNull();
    expect(decide(context('bad name'))).toBeNull();
  });

  it('reads the table through the getter, so a swapped table routes new flows only', () => {
    let table = tableFor(['app.example.com=10.0.0.1:443']);
    const decide = decideByRouteTable(() => table);
    const before = decide(context('app.example.com'));
    table = tableFor(['app.example.com=10.0.0.5:443']);
    expect(decide(context('app.example.com'))?.backends).toEqual([{ host: '10.0.0.5', port: 443 }]);
    expect(before?.backends).toEqual([{ host: '10.0.0.1', port: 443 }]);
  });
});
