/**
 * Calls `onChange` when the config file's content changes on disk, however it changed:
 *
 * - edited in place or replaced by rename (editors, `mv new.yaml config.yaml`);
 * - a Kubernetes ConfigMap update: the mounted `config.yaml` is a symlink to `..data/config.yaml`, and the kubelet
 *   swaps the `..data` symlink to a new timestamped folder. The file itself never changes, so watching it (its
 *   inode) sees nothing. Hence we watch the *folder*, and on any event re-resolve the path (realpath) and compare
 *   the content's digest with the last one.
 *
 * Events come in bursts (truncate + write + close), so they are debounced. fs.watch is not reliable everywhere
 * (network filesystems, some container overlays), so a slow poll runs too; both end in the same digest check,
 * so a change is reported once. A file that cannot be read (mid-swap, deleted) is reported as a change too; the
 * reload then logs why it failed and keeps the running config.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { dirname } from 'node:path';

export const WATCH_DEBOUNCE_MS = 150;
export const WATCH_POLL_MS = 2_000;

export interface ConfigWatcher {
  /** Tell the watcher the content now loaded (after a reload from any source), so it is not reported again. */
  remember(digest: string | null): void;
  close(): void;
}

/** The digest of the file behind `path` (symlinks followed), or null when it cannot be read. */
export function digestFile(path: string): string | null {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return null;
  }
}

export function watchConfigFile(path: string, onChange: () => void, options: { pollMs?: number; debounceMs?: number } = {}): ConfigWatcher {
  let lastDigest = digestFile(path);
  let timer: NodeJS.Timeout | null = null;
  let isClosed = false;

  const check = (): void => {
    timer = null;
    if (isClosed) return;
    const digest = digestFile(path);
    if (digest === lastDigest) return;
    lastDigest = digest;
    onChange();
  };
  const schedule = (): void => {
    if (isClosed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(check, options.debounceMs ?? WATCH_DEBOUNCE_MS);
  };

  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dirname(path), { persistent: false }, schedule);
    watcher.on('error', () => {
      // The folder went away (unmounted); the poll carries on and reports the file as unreadable.
      watcher?.close();
      watcher = null;
    });
  } catch {
    watcher = null; // no inotify here: the poll alone
  }
  const poll = setInterval(schedule, options.pollMs ?? WATCH_POLL_MS);
  poll.unref();

  return {
    remember(digest) {
      lastDigest = digest;
    },
    close() {
      isClosed = true;
      if (timer) clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
    },
  };
}
