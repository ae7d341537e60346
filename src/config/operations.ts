/**
 * The operational settings: `shutdown_grace`, `workers`, `data_plane`, and the admin
 * listener's loopback rule. Pure: validate.ts (the file) and cli.ts (the flags) share these readers.
 *
 *   shutdown_grace: 30s                       how long open connections may finish after SIGTERM/SIGINT
 *   workers: 4 | auto                         processes sharing the listeners; auto = the machine's cores
 *   data_plane: auto | native | node          which plane carries connections; auto = native where it loads
 *   admin: 127.0.0.1:9901                     short form: loopback only
 *   admin: { listen: "0.0.0.0:9901", allow_non_loopback: true }   long form: anything, said explicitly
 */
import { availableParallelism } from 'node:os';
import { type DataPlaneChoice, MAX_WORKERS } from './types.js';
import { ipVersionOf } from '../wire/ip-address.js';

export const DATA_PLANE_CHOICES: readonly DataPlaneChoice[] = ['auto', 'native', 'node'];

export type DataPlaneResult = { readonly ok: true; readonly dataPlane: DataPlaneChoice } | { readonly ok: false; readonly reason: string };

/** `data_plane` / `--data-plane`. `reason` finishes "data_plane …". */
export function parseDataPlane(value: unknown): DataPlaneResult {
  if (typeof value === 'string' && (DATA_PLANE_CHOICES as readonly string[]).includes(value)) return { ok: true, dataPlane: value as DataPlaneChoice };
  return { ok: false, reason: `must be one of ${DATA_PLANE_CHOICES.join(', ')}, not '${String(value)}'` };
}

/**
 * The plane when neither the file nor a flag names one: SNI_ROUTER_DATA_PLANE when it holds a valid choice (the
 * test suite runs once per plane with it), else auto.
 */
export function defaultDataPlane(): DataPlaneChoice {
  const fromEnvironment = parseDataPlane(process.env.SNI_ROUTER_DATA_PLANE);
  return fromEnvironment.ok ? fromEnvironment.dataPlane : 'auto';
}

export const ADMIN_KEYS = ['listen', 'allow_non_loopback'];

export type WorkersResult = { readonly ok: true; readonly workers: number } | { readonly ok: false; readonly reason: string };

/** `auto`, or a whole number from 1 to MAX_WORKERS. `reason` finishes "workers …". */
export function parseWorkers(value: unknown): WorkersResult {
  if (value === 'auto') return { ok: true, workers: Math.min(availableParallelism(), MAX_WORKERS) };
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number === 'number' && Number.isInteger(number) && number >= 1 && number <= MAX_WORKERS) {
    return { ok: true, workers: number };
  }
  return { ok: false, reason: `must be 'auto' or a whole number from 1 to ${MAX_WORKERS}, not '${String(value)}'` };
}

/** 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`: addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  const version = ipVersionOf(bare);
  if (version === 4) return bare.startsWith('127.');
  if (version === 6) return bare === '::1' || /^(?:0{1,4}:){5}ffff:127\./.test(bare.replace(/^::/, '0:0:0:0:0:')) || bare.startsWith('::ffff:127.');
  return false;
}

/** The sentence for an admin address that is not loopback and not explicitly allowed; null when it is fine. */
export function describeAdminBindProblem(label: string, host: string, allowNonLoopback: boolean): string | null {
  if (allowNonLoopback || isLoopbackHost(host)) return null;
  return (
    `admin address '${label}' is not a loopback address; the admin API reloads the config and shows every route, ` +
    `so bind it to 127.0.0.1 or [::1], or say so explicitly with admin: { listen: "${label}", allow_non_loopback: true }`
  );
}
