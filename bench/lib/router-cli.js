/**
 * The router's CLI (dist/cli.js) started as an operator runs it, for the benches that measure one router on its
 * own (hostile, slowloris, terminate-handshakes, http-terminate): from flags, or from a YAML config written into a
 * temporary folder. Started and stopped by PID through children.js; ready once its listener accepts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChild, waitUntilListening } from './children.js';
import { CLI_JS } from './paths.js';

const READY_TIMEOUT_MS = 10_000;

/**
 * Starts `node [nodeArgs] dist/cli.js ARGS` (stdout ignored) and resolves once 127.0.0.1:port accepts; throws with
 * what it printed when it exits or does not listen within 10 s.
 * @param {readonly string[]} args
 * @param {{ port: number, nodeArgs?: readonly string[], stderr?: 'pipe' | 'inherit' }} options
 *        stderr 'inherit' (the default) shows the router's warnings as they come; 'pipe' keeps them for the error
 * @returns {Promise<import('./children.js').Child>}
 */
export async function startRouterCli(args, options) {
  const child = startChild('sni-router', process.execPath, [...(options.nodeArgs ?? []), CLI_JS, ...args], {
    stdout: 'ignore',
    stderr: options.stderr ?? 'inherit',
  });
  await waitUntilListening(child, options.port, READY_TIMEOUT_MS);
  return child;
}

/**
 * Writes `lines` as router.yaml into a new temporary folder `<prefix>XXXXXX`; `remove()` deletes the folder.
 * @param {string} prefix
 * @param {readonly string[]} lines
 */
export function writeRouterConfig(prefix, lines) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const file = path.join(dir, 'router.yaml');
  writeFileSync(file, [...lines, ''].join('\n'));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
