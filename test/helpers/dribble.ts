/**
 * A loopback relay that hands the router its client's first bytes one TCP write at a time (Nagle off, a macrotask
 * between writes), so a real TLS client's hello reaches the router in many segments.
 */
import net from 'node:net';
import { once } from 'node:events';

export interface Dribbler {
  readonly port: number;
  /** Writes made towards the target for the first connection's dribbled prefix. */
  writes: number;
  close(): Promise<void>;
}

export async function startDribbler(targetPort: number, dribbleBytes: number): Promise<Dribbler> {
  const sockets = new Set<net.Socket>();
  const state = { writes: 0 };
  const server = net.createServer((client) => {
    const target = net.connect({ port: targetPort, host: '127.0.0.1', noDelay: true });
    for (const s of [client, target]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.on('close', () => target.destroy());
    target.on('close', () => client.destroy());
    target.pipe(client);
    let remaining = dribbleBytes;
    const queue: Buffer[] = [];
    let pumping = false;
    const pump = (): void => {
      if (pumping) return;
      pumping = true;
      const step = (): void => {
        const head = queue[0];
        if (!head) {
          pumping = false;
          return;
        }
        if (remaining > 0) {
          target.write(head.subarray(0, 1));
          state.writes++;
          remaining--;
          if (head.length === 1) queue.shift();
          else queue[0] = head.subarray(1);
          setTimeout(step, 0);
        } else {
          target.write(head);
          queue.shift();
          step();
        }
      };
      step();
    };
    client.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      pump();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    get writes() {
      return state.writes;
    },
    set writes(v: number) {
      state.writes = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
