/**
 * What the command line contributes to a config: every field optional; flags override or add to the file
 * (src/config/flags.ts says how). Plain data: it crosses to the loader thread on reloads.
 */
export interface CliInput {
  readonly configFile?: string;
  readonly listen?: readonly string[];
  readonly routes?: readonly string[]; // 'name=host:port,host:port'
  readonly defaultBackends?: string; // 'host:port,host:port'
  readonly proxyProtocol?: string; // v2|v1|none for flag-given pools (default: the file's, or none without one)
  readonly terminate?: readonly string[];
  /** `--terminate-http NAME`: as --terminate, and the router is that route's HTTP reverse proxy (terminate.http). */
  readonly terminateHttp?: readonly string[];
  readonly alpn?: string; // 'h2,http/1.1': what the --terminate routes offer
  readonly cert?: string;
  readonly key?: string;
  readonly logLevel?: string;
  readonly admin?: string;
  /** `--quic`: the --listen addresses take UDP (QUIC) too. */
  readonly quic?: boolean;
  /** `--http-redirect ADDR` / `--http-route ADDR` (repeatable): plain-HTTP listen entries added to the list. */
  readonly httpRedirect?: readonly string[];
  readonly httpRoute?: readonly string[];
  /** `--https-port N`: where the --http-redirect listeners send clients (default 443). */
  readonly httpsPort?: string;
}

