/**
 * The addon loads where it must: in CI (CI=true, or SNI_ROUTER_REQUIRE_NATIVE=1 as .ci/run sets) a missing or broken build fails here, loudly, instead of every
 * other native test skipping. Elsewhere the reason it did not load is printed and the native tests skip.
 */
import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { connect } from 'node:net';
import { CLOSE_REASONS } from '../../../src/ops/close-reason.js';
import { addon, loadError } from './harness.js';

describe('native addon', () => {
  it.runIf(process.env.CI === 'true' || process.env.SNI_ROUTER_REQUIRE_NATIVE === '1')('loads in CI', () => {
    expect(loadError).toBeNull();
    expect(addon).not.toBeNull();
  });

  it.skipIf(addon === null)('speaks the router close-reason vocabulary, in order', () => {
    expect(addon!.closeReasons).toEqual([...CLOSE_REASONS]);
  });

  it.skipIf(addon === null)('refuses bad arguments with a TypeError-like error, not a crash', () => {
    const plane = addon!.createPlane(() => {});
    try {
      expect(() => plane.listen({ host: 'not-an-ip', port: 0 })).toThrow(/EINVAL|invalid/i);
      expect(() => plane.route(1, [{ host: 'example', port: 1 }], null, 0, 0)).toThrow(/IP literal/);
      expect(() => plane.close(1, 'no_such_reason' as never)).toThrow(/unknown close reason/);
      expect(plane.close(12345, 'done')).toBe(false); // unknown connection: nothing to do
      expect(plane.handoff(12345)).toBeNull();
      const { port } = plane.listen({ host: '127.0.0.1', port: 0 });
      expect(() => plane.listen({ host: '127.0.0.1', port })).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    } finally {
      plane.destroy();
    }
    expect(() => plane.stats()).toThrow(/destroyed/);
  });
});

describe.skipIf(addon === null)('native addon: destroy from inside a handler', () => {
  it('delivers the shutdown events of a destroy() called from onEvents, then nothing more', async () => {
    const seen: string[] = [];
    let calls = 0;
    const plane = addon!.createPlane((events) => {
      calls++;
      for (const event of events) {
        seen.push(event.kind === 'closed' ? `closed:${event.reason}` : event.kind);
        if (event.kind === 'accepted') plane.destroy();
      }
    });
    const { port } = plane.listen({ host: '127.0.0.1', port: 0 });
    const client = connect(port, '127.0.0.1');
    client.on('error', () => {});
    await once(client, 'close');
    expect(seen).toEqual(['accepted', 'closed:shutdown']);
    expect(calls).toBe(2);
  });
});
