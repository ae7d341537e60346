/**
 * Watching a few files for changes, the way certificate material needs it: fs.watch on each file's folder (a
 * rename into place, or a `..data` symlink swap, is an event in the folder, not on the file) plus a stat poll as a
 * fallback where watch events are unreliable (NFS, some containers). Either only schedules `onChange` after a
 * quiet time; the caller compares what it read before and rebuilds only when something changed.
 *
 * Every watch open in the process is counted (`openFileWatches()`, exported as a gauge), so a test or an operator
 * can see that reloads give back the watches of files no route uses any more. Timers and watchers are unref'd so
 * that they never keep the process alive.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

/** Quiet time after the last watch event before the files are read (certbot writes cert, then chain, then key). */
export const RELOAD_DEBOUNCE_MS = 150;
/** Stat poll interval, the fallback for when watch events do not come. */
export const DEFAULT_POLL_INTERVAL_MS = 2_000;

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

export class FileWatch {
  private watchers: FSWatcher[] = [];
  private pollTimer: NodeJS.Timeout | null = null;
  private debounceTimer: NodeJS.Timeout | null = null;
  private isClosed = false;

  constructor(files: readonly string[], onChange: () => void, pollIntervalMs: number = DEFAULT_POLL_INTERVAL_MS) {
    openWatches++;
    const schedule = (): void => {
      if (this.isClosed) return;
      if (this.debounceTimer) clearTimeout(this.debounceTimer);
      this.debounceTimer = setTimeout(() => {
        this.debounceTimer = null;
        if (!this.isClosed) onChange();
      }, RELOAD_DEBOUNCE_MS);
      this.debounceTimer.unref();
    };
    for (const dir of new Set(files.map((file) => path.dirname(file)))) {
      try {
        const watcher = watch(dir, { persistent: false }, schedule);
        watcher.on('error', () => watcher.close()); // the folder went away: the poll still covers it
        this.watchers.push(watcher);
      } catch {
        // No inotify (or too many watches): the poll alone will notice changes.
      }
    }
    if (pollIntervalMs > 0) {
      this.pollTimer = setInterval(() => {
        if (!this.isClosed) onChange();
      }, pollIntervalMs);
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
