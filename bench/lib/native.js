/**
 * The C tools (load generator, echo backend) are compiled at bench time into bench/.build, and again only when a
 * source is newer than its binary.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, BUILD_DIR } from './paths.js';

const TOOLS = /** @type {const} */ (['loadgen', 'echo-backend']);
const CFLAGS = ['-O2', '-Wall', '-Wextra', '-std=gnu11'];

/** @returns {{ loadgen: string, echoBackend: string }} absolute paths of the binaries */
export function buildNativeTools() {
  mkdirSync(BUILD_DIR, { recursive: true });
  /** @type {Record<string, string>} */
  const built = {};
  for (const tool of TOOLS) {
    const source = path.join(BENCH_DIR, 'c', `${tool}.c`);
    const binary = path.join(BUILD_DIR, tool);
    if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
      try {
        execFileSync('gcc', [...CFLAGS, '-o', binary, source], { stdio: ['ignore', 'inherit', 'pipe'] });
      } catch (error) {
        const stderr = /** @type {{ stderr?: Buffer }} */ (error).stderr?.toString() ?? '';
        throw new Error(`could not compile ${source} with gcc (is gcc installed?): ${stderr || String(error)}`);
      }
    }
    built[tool] = binary;
  }
  return { loadgen: /** @type {string} */ (built.loadgen), echoBackend: /** @type {string} */ (built['echo-backend']) };
}
