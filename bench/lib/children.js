/**
 * Every process the benchmark starts goes through here: pinned to CPUs with `taskset` when asked, tracked by
 * PID, stopped by PID (SIGTERM, then SIGKILL to the process and its children), and killed on exit or SIGINT.
 * Nothing is ever stopped by name.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { waitForPort } from './ports.js';
import { processTree } from './proc.js';

/** @typedef {{ code: number | null, signal: NodeJS.Signals | null }} ExitStatus */

/**
 * @typedef {object} Child
 * @property {string} name
 * @property {number} pid
 * @property {import('node:child_process').ChildProcess} process
 * @property {Promise<ExitStatus>} exited
 * @property {Promise<ExitStatus>} closed  exited, and its stdout and stderr read to the end
 * @property {() => boolean} isRunning
 * @property {(pattern: RegExp, timeoutMs: number) => Promise<RegExpMatchArray>} waitForLine  stdout lines
 * @property {(listener: (line: string) => void) => void} onLine
 * @property {() => string} stderrText
 * @property {(graceMs?: number, signal?: NodeJS.Signals) => Promise<ExitStatus>} stop
 */

/** @type {Map<number, Child>} */
const running = new Map();
let hooksInstalled = false;

const DEFAULT_GRACE_MS = 5_000;
const MAX_STDERR_CHARS = 64 * 1024;

/** @param {number} pid @param {NodeJS.Signals} signal */
function killQuietly(pid, signal) {
  // -1 (a spawn that failed) or 0 would signal every process we may signal, or our own group: never.
  if (!(pid > 0)) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** SIGKILL a process and its descendants; the parent is stopped first so it cannot respawn a child meanwhile. */
export function killTreeNow(pid) {
  if (!(pid > 0)) return;
  killQuietly(pid, 'SIGSTOP');
  const tree = processTree(pid);
  for (const member of tree.reverse()) killQuietly(member, 'SIGKILL');
}

export function killAllNow() {
  for (const child of running.values()) killTreeNow(child.pid);
  running.clear();
}

function installHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAllNow);
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}: stopping ${running.size} child process(es)\n`);
      killAllNow();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

/**
 * @param {string} name  for messages
 * @param {string} command
 * @param {readonly string[]} args
 * @param {{ cpus?: string | null, stdin?: 'pipe' | 'ignore', stdout?: 'pipe' | 'ignore' | number,
 *           stderr?: 'pipe' | 'inherit', cwd?: string, env?: NodeJS.ProcessEnv }} [options]
 *        stderr 'pipe' (the default) keeps its last 64 KiB for stderrText(); 'inherit' shows it as it comes
 * @returns {Child}
 */
export function startChild(name, command, args, options = {}) {
  installHooks();
  const pinned = options.cpus ? ['taskset', ['-c', options.cpus, command, ...args]] : [command, args];
  const child = spawn(/** @type {string} */ (pinned[0]), /** @type {string[]} */ (pinned[1]), {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: [options.stdin ?? 'ignore', options.stdout ?? 'pipe', options.stderr ?? 'pipe'],
  });
  let exitStatus = /** @type {ExitStatus | null} */ (null);
  const exited = /** @type {Promise<ExitStatus>} */ (new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exitStatus = { code, signal };
      if (child.pid !== undefined) running.delete(child.pid);
      resolve(exitStatus);
    });
    child.once('error', (error) => {
      exitStatus = { code: -1, signal: null };
      stderr += `spawn failed: ${error.message}\n`;
      if (child.pid !== undefined) running.delete(child.pid);
      resolve(exitStatus);
    });
  }));
  /** Resolves once the process has exited and its stdout/stderr are fully read. */
  const closed = new Promise((resolve) => {
    child.once('close', resolve);
    child.once('error', resolve);
  }).then(() => exited);
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk.toString('utf8');
    if (stderr.length > MAX_STDERR_CHARS) stderr = stderr.slice(-MAX_STDERR_CHARS);
  });
  /** @type {((line: string) => void)[]} */
  const listeners = [];
  const seen = /** @type {string[]} */ ([]);
  if (child.stdout) {
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      if (seen.length < 10_000) seen.push(line);
      for (const listener of listeners) listener(line);
    });
  }
  const pid = child.pid ?? -1;

  /** @type {Child} */
  const handle = {
    name,
    pid,
    process: child,
    exited,
    closed,
    isRunning: () => exitStatus === null,
    stderrText: () => stderr,
    onLine: (listener) => listeners.push(listener),
    waitForLine(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        for (const line of seen) {
          const match = line.match(pattern);
          if (match) return resolve(match);
        }
        const timer = setTimeout(() => done(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms\n${stderr}`)), timeoutMs);
        let isDone = false;
        const done = (/** @type {Error | RegExpMatchArray} */ outcome) => {
          if (isDone) return;
          isDone = true;
          clearTimeout(timer);
          if (outcome instanceof Error) reject(outcome);
          else resolve(outcome);
        };
        listeners.push((line) => {
          const match = line.match(pattern);
          if (match) done(match);
        });
        void closed.then(async () => {
          const status = await exited;
          done(new Error(`${name} exited (${status.signal ?? status.code}) before printing ${pattern}\n${stderr}`));
        });
      });
    },
    async stop(graceMs = DEFAULT_GRACE_MS, signal = 'SIGTERM') {
      if (exitStatus !== null) return exitStatus;
      killQuietly(pid, signal);
      const timer = new Promise((resolve) => setTimeout(resolve, graceMs, null));
      const status = await Promise.race([exited, timer]);
      if (status === null) {
        killTreeNow(pid);
        return exited;
      }
      return status;
    },
  };
  if (pid > 0 && exitStatus === null) running.set(pid, handle);
  return handle;
}

/**
 * Waits until the child's port accepts; when it does not within `timeoutMs` or the child exits first, stops the
 * child and throws with what it printed.
 * @param {Child} child
 * @param {number} port
 * @param {number} timeoutMs
 * @param {() => string} [extraLogs]  more to show on failure (e.g. the tail of its log file)
 */
export async function waitUntilListening(child, port, timeoutMs, extraLogs = () => '') {
  try {
    await waitForPort(port, timeoutMs, () => (child.isRunning() ? null : `${child.name} exited before listening`));
  } catch (error) {
    await child.stop(1_000, 'SIGKILL');
    throw new Error(`${child.name} did not start: ${/** @type {Error} */ (error).message}\n${child.stderrText()}${extraLogs()}`);
  }
}

/**
 * Runs a helper process to its end (stderr shown as it comes) and parses its whole stdout as JSON: a bench's load
 * or flood process reporting its counts. Past `timeoutMs` its tree is killed, and the parse fails.
 * @param {string} name
 * @param {string} command
 * @param {readonly string[]} args
 * @param {number} timeoutMs
 * @returns {Promise<any>}
 */
export async function runForJson(name, command, args, timeoutMs) {
  const child = startChild(name, command, args, { stderr: 'inherit' });
  /** @type {string[]} */
  const lines = [];
  child.onLine((line) => lines.push(line));
  const timer = setTimeout(() => killTreeNow(child.pid), timeoutMs);
  const status = await child.closed;
  clearTimeout(timer);
  if (status.code !== 0) console.error(`${name} exited with ${status.signal ?? status.code}`);
  return JSON.parse(lines.join('\n'));
}
