// CONTRACT STUB — being implemented (composition root). Keep the exported shapes.
import type { Logger } from 'pino';
import type { Config } from './config/types.js';

export interface BoundListener {
  /** As configured, e.g. '127.0.0.1:8443' or ':8443'. */
  readonly label: string;
  readonly address: string;
  readonly port: number;
}

export interface RunningRouter {
  readonly listeners: readonly BoundListener[];
  /** Swap in a new validated config: new connections use it; open ones finish on theirs. */
  reload(next: Config): Promise<void>;
  /** Stop accepting; wait up to graceMs for open connections, then close the rest (reason shutdown). */
  close(graceMs?: number): Promise<void>;
}

export interface RouterOptions {
  readonly logger: Logger;
}

/** Opens every listener; rejects with ListenError (naming the address) when one cannot be opened. */
export async function startRouter(_config: Config, _options: RouterOptions): Promise<RunningRouter> {
  throw new Error('not implemented');
}
