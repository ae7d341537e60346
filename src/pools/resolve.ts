/**
 * Host-name backends are resolved when a config is loaded (start-up, and every reload), not on every connection:
 * a DNS hiccup must not stall the accept path, and each connection should not cost a getaddrinfo on libuv's small
 * thread pool. Until the first answer arrives, or when a name does not resolve, the name itself is handed to
 * connect (node resolves it then) and the failure is logged once per name.
 *
 * A name with several addresses (IPv4 and IPv6) is one backend, reached at the first address in getaddrinfo's
 * order (the system's preference, as curl would pick): rotating over them would make one dead address mark the
 * whole backend down half the time.
 */
import { lookup } from 'node:dns/promises';
import type { Logger } from 'pino';
import type { BackendAddress, Config } from '../config/types.js';
import { forEachPool } from '../config/for-each-pool.js';
import { ipVersionOf } from '../wire/ip-address.js';

export class Resolver {
  readonly #addresses = new Map<string, { list: readonly string[] }>();
  readonly #failed = new Set<string>();

  /** The address to connect to for this backend: an IP as is, a resolved name's first address, else the name. */
  addressFor(backend: BackendAddress): string {
    if (ipVersionOf(backend.host) !== 0) return backend.host;
    return this.#addresses.get(backend.host)?.list[0] ?? backend.host;
  }

  addressesOf(host: string): readonly string[] {
    return this.#addresses.get(host)?.list ?? [];
  }

  /** Resolves every host-name backend of `config` (IPv4 and IPv6); names that fail keep their old answer. */
  async refresh(config: Config, logger: Logger | null): Promise<void> {
    const names = new Set<string>();
    forEachPool(config, (pool) => {
      for (const backend of pool.backends) if (ipVersionOf(backend.host) === 0) names.add(backend.host);
    });
    for (const name of this.#addresses.keys()) if (!names.has(name)) this.#addresses.delete(name);
    await Promise.all(
      [...names].map(async (name) => {
        try {
          const answers = await lookup(name, { all: true, verbatim: true });
          this.#addresses.set(name, { list: answers.map((answer) => answer.address) });
          this.#failed.delete(name);
        } catch (error) {
          if (!this.#failed.has(name)) {
            this.#failed.add(name);
            const detail = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
            logger?.warn({ backend: name, detail }, 'backend host name does not resolve; connecting by name');
          }
        }
      }),
    );
  }
}
