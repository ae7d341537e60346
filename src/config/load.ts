// CONTRACT STUB — replaced by the config loader implementation. Keep the exported shapes.
import type { Config } from './types.js';

export interface ConfigProblem {
  readonly file: string; // path as given, or '<command line>'
  readonly line: number; // 1-based; 0 when unknown
  readonly col: number; // 1-based; 0 when unknown
  readonly message: string; // one plain sentence
}

/** What the command line contributes; every field optional. Flags override/add to the file. */
export interface CliInput {
  readonly configFile?: string;
  readonly listen?: readonly string[];
  readonly routes?: readonly string[]; // 'name=host:port,host:port'
  readonly defaultBackends?: string; // 'host:port,host:port'
  readonly proxyProtocol?: string; // v2|v1|none for flag-given pools (default none)
  readonly terminate?: readonly string[];
  readonly cert?: string;
  readonly key?: string;
  readonly logLevel?: string;
  readonly admin?: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

export function loadConfig(_input: CliInput): ConfigResult {
  throw new Error('not implemented');
}

export function formatProblem(p: ConfigProblem): string {
  return p.line > 0 ? `${p.file}:${p.line}:${p.col}: ${p.message}` : `${p.file}: ${p.message}`;
}
