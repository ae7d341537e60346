#!/usr/bin/env node
/**
 * Builds the native data plane (native/*.c) at `npm install`. It never fails the install: when the addon cannot
 * be built it prints one line saying why and exits 0, and the router runs on the node plane.
 *
 *   node scripts/build-native.mjs              node-gyp → build/Release/sni_router_native.node
 *   node scripts/build-native.mjs --sanitize   gcc with ASAN + UBSAN → build/sanitize/sni_router_native.node
 *                                              (exits 1 on failure: CI asked for it)
 *
 * node-gyp is the one bundled with npm; it is pointed at Node's own headers (npm's `nodedir`, else
 * <prefix>/include/node next to this node binary) so it never downloads anything. Without local headers, the
 * build is skipped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NATIVE_DIR = path.join(REPO_DIR, 'native');
const SANITIZE_OUT = path.join(REPO_DIR, 'build', 'sanitize', 'sni_router_native.node');
const WARNINGS = ['-Wall', '-Wextra', '-Werror', '-std=gnu11'];

function say(line) {
  process.stdout.write(`sni-router native plane: ${line}\n`);
}

/** The folder that holds include/node/node_api.h, or null. */
function findNodeDir() {
  const candidates = [process.env.npm_config_nodedir, path.resolve(path.dirname(process.execPath), '..')];
  for (const dir of candidates) {
    if (dir && existsSync(path.join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  return null;
}

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(REPO_DIR, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((file) => file && existsSync(file)) ?? null;
}

function firstErrorLine(error) {
  const output = `${error.stdout ?? ''}\n${error.stderr ?? ''}`;
  const line = output.split('\n').find((text) => /error/i.test(text) && !/^gyp (info|ERR! (stack|System|command|cwd|node))/.test(text));
  return (line ?? String(error.message ?? error)).trim().slice(0, 240);
}

function buildRelease(nodeDir) {
  const nodeGyp = findNodeGyp();
  if (nodeGyp === null) return 'node-gyp was not found (it comes with npm)';
  try {
    execFileSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`, '--loglevel=error'], {
      cwd: REPO_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    return null;
  } catch (error) {
    return `node-gyp failed: ${firstErrorLine(error)}`;
  }
}

function buildSanitized(nodeDir) {
  const sources = readdirSync(NATIVE_DIR).filter((file) => file.endsWith('.c')).map((file) => path.join(NATIVE_DIR, file));
  mkdirSync(path.dirname(SANITIZE_OUT), { recursive: true });
  const flags = [...WARNINGS, '-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined'];
  try {
    execFileSync('gcc', [...flags, '-shared', '-fPIC', '-DNAPI_VERSION=8', '-DNODE_GYP_MODULE_NAME=sni_router_native',
      `-I${path.join(nodeDir, 'include', 'node')}`, ...sources, '-o', SANITIZE_OUT], { stdio: ['ignore', 'inherit', 'inherit'] });
    return null;
  } catch (error) {
    return `gcc failed: ${error.message}`;
  }
}

function main() {
  const isSanitize = process.argv.includes('--sanitize');
  if (process.platform !== 'linux') {
    say(`not built: it needs Linux (epoll, splice), this is ${process.platform}; the router uses the node plane`);
    return isSanitize ? 1 : 0;
  }
  if (process.env.SNI_ROUTER_SKIP_NATIVE === '1' && !isSanitize) {
    say('not built: SNI_ROUTER_SKIP_NATIVE=1; the router uses the node plane');
    return 0;
  }
  const nodeDir = findNodeDir();
  if (nodeDir === null) {
    say(`not built: no Node headers (include/node/node_api.h) next to ${process.execPath} or in npm's nodedir; the router uses the node plane`);
    return isSanitize ? 1 : 0;
  }
  const failure = isSanitize ? buildSanitized(nodeDir) : buildRelease(nodeDir);
  if (failure !== null) {
    say(`not built: ${failure}; the router uses the node plane`);
    return isSanitize ? 1 : 0;
  }
  say(isSanitize ? `built with ASAN + UBSAN: ${path.relative(REPO_DIR, SANITIZE_OUT)}` : 'built build/Release/sni_router_native.node');
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  // Whatever happens, npm install goes on.
  say(`not built: ${error instanceof Error ? error.message : String(error)}; the router uses the node plane`);
  process.exitCode = process.argv.includes('--sanitize') ? 1 : 0;
}
