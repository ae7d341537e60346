/**
 * The one file watcher: the config file (reload when its content changes) and certificate material (rebuild a
 * TLS context when a file changes) both watch through it.
 *
 * How a change is seen, however it was made:
 * - edited in place, or replaced by rename (editors, `mv new.yaml config.yaml`, certbot);
 * - a Kubernetes ConfigMap/Secret update: the mounted file is a symlink to `..data/file`, and the kubelet swaps the
 *   `..data` symlink to a new timestamped folder. The file itself never changes, so watching it (its inode) sees
 *   nothing. Hence each file's *folder* is watched, and the caller re-reads through the path (symlinks followed).
 * - fs.watch is not reliable everywhere (network filesystems, some container overlays), so a slow poll runs too.
 *
 * Events come in bursts (truncate + write + close; certbot writes cert, then chain, then key), so every event and
 * every poll tick only schedules one call after a quiet time. The watcher does not decide what changed: the caller
 * compares what it read before (`digestFile` for content, `signatureOf` for stat identity) and acts only then,
 * so a change seen by both the watch and the poll is acted on once. Timers and watchers are unref'd: they never
 * keep the process alive.
 *
 * Every watch open in the process is counted (`openFileWatches()`, exported as the `sni_router_file_watches`
 * gauge), so a test or an operator can see that reloads give back the watches of files no route uses any more.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, statSync, watch } from 'node:fs';
import path from 'node:path';

/** Quiet time after the last event before the caller is called. */
export const WATCH_DEBOUNCE_MS = 150;
/** Poll interval, the fallback for when watch events do not come. */
export const WATCH_POLL_MS = 2_000;

export interface FileWatchOptions {
  /** 0 turns the poll off (tests that want events only). */
  readonly pollMs?: number;
  readonly debounceMs?: number;
}

let openWatches = 0;

/** How many FileWatch objects are open in this process (each: folder watchers + one poll timer). */
export function openFileWatches(): number {
  return openWatches;
}

/** (dev, ino, size, mtime) of each file, through symlinks; 'missing' when a stat fails. */
export function signatureOf(files: readonly string[]): string {
  return files
    .map((file) => {
      try {
        const s = statSync(file);
        return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

/** The digest of the content behind `file` (symlinks followed), or null when it cannot be read. */
export function digestFile(file: string): string | null {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return null;
  }
}

export class FileWatch {
  private watchers: FSWatcher[] = [];
  private pollTimer: NodeJS.Timeout | null = null;
  private debounceTimer: NodeJS.Timeout | null = null;
  private isClosed = false;

  /** Calls `onChange` (after the quiet time) whenever something may have changed one of `files`. */
  constructor(files: readonly string[], onChange: () => void, options: FileWatchOptions = {}) {
    openWatches++;
    const debounceMs = options.debounceMs ?? WATCH_DEBOUNCE_MS;
    const pollMs = options.pollMs ?? WATCH_POLL_MS;
    const schedule = (): void => {
      if (this.isClosed) return;
      if (this.debounceTimer) clearTimeout(this.debounceTimer);
      this.debounceTimer = setTimeout(() => {
        this.debounceTimer = null;
        if (!this.isClosed) onChange();
      }, debounceMs);
      this.debounceTimer.unref();
    };
    for (const dir of new Set(files.map((file) => path.dirname(file)))) {
      try {
        const watcher = watch(dir, { persistent: false }, schedule);
        // The folder went away (unmounted): the poll still covers it, and the caller sees the file unreadable.
        watcher.on('error', () => {
          watcher.close();
          this.watchers = this.watchers.filter((one) => one !== watcher);
        });
        this.watchers.push(watcher);
      } catch {
        // No inotify here (or too many watches): the poll alone will notice changes.
      }
    }
    if (pollMs > 0) {
      this.pollTimer = setInterval(schedule, pollMs);
      this.pollTimer.unref();
    }
  }

  /** Stops watching; idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    openWatches--;
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.pollTimer = null;
    this.debounceTimer = null;
  }
}

/** The config file's watch: reports a change of content once, whoever noticed it (watch, poll, a reload). */
export interface ConfigFileWatch {
  /** The content now loaded (after a reload from any source), so that it is not reported again. */
  remember(digest: string | null): void;
  close(): void;
}

/**
 * Calls `onChange` when the content behind `file` changes (a file that cannot be read counts as a change too:
 * the reload then logs why it failed and keeps the running config).
 */
export function watchConfigFile(file: string, onChange: () => void, options: FileWatchOptions = {}): ConfigFileWatch {
  let lastDigest = digestFile(file);
  const watch = new FileWatch(
    [file],
    () => {
      const digest = digestFile(file);
      if (digest === lastDigest) return;
      lastDigest = digest;
      onChange();
    },
    options,
  );
  return {
    remember(digest) {
      lastDigest = digest;
    },
    close() {
      watch.close();
    },
  };
}
