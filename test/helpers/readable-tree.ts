/**
 * What a test runs as another user (setpriv to the pod's uid, or to an unprivileged one) must be readable by that
 * user. A checkout inside a 0700 folder (`mktemp -d`, a home directory) is not: node then cannot even find
 * dist/cli.js. When the checkout is not, the runtime tree — dist/, build/ (the native addon), node_modules/,
 * package.json and the named extras — is linked (hard links, a copy across file systems) into a world-readable
 * temporary folder, and the test runs from there.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const RUNTIME_ENTRIES = ['dist', 'build', 'node_modules', 'package.json'];

/** Whether every folder from / down to `dir` lets any user through and list it. */
function isOpenToAll(dir: string): boolean {
  let current = path.resolve(dir);
  for (;;) {
    if ((statSync(current).mode & 0o005) !== 0o005) return false;
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

export interface ReadableTree {
  /** `root` itself when any user can read it, else the world-readable copy. */
  readonly root: string;
  /** Removes the copy (nothing when `root` was used as it is). */
  remove(): void;
}

export function readableByAll(root: string, extras: readonly string[] = []): ReadableTree {
  if (isOpenToAll(root)) return { root, remove: () => undefined };
  const copy = mkdtempSync(path.join(tmpdir(), 'sni-router-readable-'));
  chmodSync(copy, 0o755);
  for (const entry of [...RUNTIME_ENTRIES, ...extras]) {
    const source = path.join(root, entry);
    if (!existsSync(source)) continue;
    try {
      execFileSync('cp', ['-al', source, copy], { stdio: 'ignore' });
    } catch {
      execFileSync('cp', ['-a', source, copy], { stdio: 'ignore' });
    }
  }
  return { root: copy, remove: () => rmSync(copy, { recursive: true, force: true }) };
}
