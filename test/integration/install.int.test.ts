/**
 * The README works as written, in a fresh copy of this tree: after its install step (`npm install`), each
 * `npx sni-router …` command of its quick start runs verbatim, and the documented `npm install -g .` gives a
 * `sni-router` that runs (installed under a temporary prefix, never the machine's own).
 *
 * The commands that start the router run in their own network namespace (unshare --net, as root), so the ports
 * they name (8443) cannot collide with anything else on this machine; they must log "listening" and stop cleanly
 * on SIGTERM. The backends they name get no traffic: no client connects.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const canUnshare = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v unshare && command -v ip']).status === 0;

// npm's update check would try the registry on every npx; in a namespace without a network it waits for a timeout.
const ENV = { ...process.env, NPM_CONFIG_UPDATE_NOTIFIER: 'false', NPM_CONFIG_FUND: 'false' };
let work = '';
let clone = '';

/** The quick start's indented `npx sni-router …` lines, comments removed. */
function readmeCommands(): string[] {
  const quickStart = README.slice(README.indexOf('## Quick start'), README.indexOf('\n## ', README.indexOf('## Quick start') + 1));
  return quickStart
    .split('\n')
    .filter((line) => /^ {4}npx sni-router /.test(line))
    .map((line) => line.replace(/\s+#.*$/, '').trim());
}

function sh(command: string, options: { cwd?: string; timeout?: number } = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('sh', ['-c', command], { cwd: options.cwd ?? clone, env: ENV, encoding: 'utf8', timeout: options.timeout ?? 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'sni-router-install-'));
  clone = path.join(work, 'sni-router');
  // A copy of the tree as git sees it (tracked and new files, not ignored ones such as node_modules and dist).
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '' && existsSync(path.join(ROOT, file)));
  for (const file of files) {
    mkdirSync(path.dirname(path.join(clone, file)), { recursive: true });
    copyFileSync(path.join(ROOT, file), path.join(clone, file));
  }
  // The README's install step. --prefer-offline: the packages are in npm's cache from this checkout's install.
  const install = sh('npm install --prefer-offline --no-audit --no-fund', { timeout: 240_000 });
  expect(install.status, install.stderr).toBe(0);
  expect(existsSync(path.join(clone, 'dist', 'cli.js'))).toBe(true);
}, 300_000);

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe('install and run as the README says', () => {
  it('the quick start shows npx sni-router commands and the npm install -g . step', () => {
    expect(readmeCommands().length).toBeGreaterThanOrEqual(3);
    expect(README).toMatch(/^ {4}npm install -g \.\s/m);
  });

  it('npx sni-router --version (the quick start line) and -V print the package version', () => {
    expect(readmeCommands()).toContain('npx sni-router --version');
    for (const flag of ['--version', '-V']) expect(sh(`npx sni-router ${flag}`)).toMatchObject({ status: 0, stdout: `${VERSION}\n` });
  }, 120_000);

  it('every `npx sni-router check` line of the quick start exits 0', () => {
    const checks = readmeCommands().filter((command) => command.includes(' check '));
    expect(checks.length).toBeGreaterThan(0);
    for (const command of checks) {
      const result = sh(command);
      expect(result.status, `${command}\n${result.stderr}`).toBe(0);
      expect(result.stdout).toContain('is valid');
    }
  }, 120_000); // each npx starts npm, then node: seconds apiece on a loaded 2-core machine

  it.skipIf(!canUnshare)('every run line of the quick start starts listening and stops on SIGTERM', async () => {
    const runs = readmeCommands().filter((command) => !command.includes(' check ') && !command.endsWith(' --version'));
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (const command of runs) {
      // A process group of its own, signalled whole as a terminal's Ctrl-C would be: npx does not pass a SIGTERM
      // sent to it alone on to the router, which would be left running.
      const child = spawn('unshare', ['--net', 'sh', '-c', `ip link set lo up && exec ${command}`], { cwd: clone, env: ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      // 'close': every process holding the pipes (npx, sh, the router) has gone.
      const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
      const listening = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 45_000);
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes('"msg":"listening"')) {
            clearTimeout(timer);
            resolve(true);
          }
        });
        void closed.then(() => resolve(false));
      });
      const signalGroup = (signal: NodeJS.Signals): void => {
        try {
          process.kill(-child.pid!, signal);
        } catch {
          // the group has already gone
        }
      };
      signalGroup('SIGTERM');
      const killer = setTimeout(() => signalGroup('SIGKILL'), 15_000);
      await closed;
      clearTimeout(killer);
      expect(listening, `${command}\n${stdout}\n${stderr}`).toBe(true);
      expect(stdout, `${command}\n${stderr}`).toContain('"msg":"shutdown complete"');
    }
  }, 120_000);

  it('npm install -g . under a temporary prefix gives a sni-router that runs', () => {
    const prefix = path.join(work, 'global');
    const install = sh(`npm install -g --prefix ${prefix} . --no-audit --no-fund`, { timeout: 120_000 });
    expect(install.status, install.stderr).toBe(0);
    const bin = path.join(prefix, 'bin', 'sni-router');
    expect(sh(`${bin} --version`)).toMatchObject({ status: 0, stdout: `${VERSION}\n` });
    const check = sh(`${bin} check -c config/example.yaml`);
    expect(check.status, check.stderr).toBe(0);
  }, 180_000);
});
