/**
 * Headless Chromium for page tests: loads one URL with a throwaway profile, lets the page's scripts run for a
 * virtual-time budget (timers fire fast; virtual time waits while a fetch is in flight), then dumps the DOM or
 * writes a screenshot. Name resolution is off (`MAP * ~NOTFOUND`) except for loopback literals, so the page can
 * reach nothing but the router under test. Chromium runs in a process group of its own, killed by its id at the
 * deadline and once it has exited (its helper processes go with it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';

export const CHROMIUM_BIN = '/usr/bin/chromium';

export const hasChromium = (): boolean => existsSync(CHROMIUM_BIN);

/** Headless, unsandboxed (tests may run as root), and silent: no first-run page, no background or update traffic. */
export const CHROMIUM_HEADLESS_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ChromiumRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ChromiumOptions {
  /** The profile goes in a fresh folder under this one, removed afterwards. */
  readonly tempDir: string;
  /** Virtual time the page gets before the dump (default 5 s: two refreshes of a 2 s page, and then some). */
  readonly budgetMs?: number;
  /** Write a PNG here instead of dumping the DOM. */
  readonly screenshot?: string;
  readonly windowSize?: string;
  readonly timeoutMs?: number;
}

export async function runChromium(url: string, options: ChromiumOptions): Promise<ChromiumRun> {
  const profile = mkdtempSync(path.join(options.tempDir, 'chromium-'));
  const args = [
    ...CHROMIUM_HEADLESS_FLAGS,
    '--disable-extensions',
    `--user-data-dir=${profile}`,
    // IP literals never go through the resolver rules' MAP, but EXCLUDE keeps loopback out of them explicitly.
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    `--virtual-time-budget=${options.budgetMs ?? 5_000}`,
    `--window-size=${options.windowSize ?? '1280,900'}`,
    options.screenshot === undefined ? '--dump-dom' : `--screenshot=${options.screenshot}`,
    url,
  ];
  try {
    return await new Promise<ChromiumRun>((resolve, reject) => {
      const child = spawn(CHROMIUM_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const killGroup = (): void => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      const timer = setTimeout(killGroup, options.timeoutMs ?? 45_000);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        killGroup();
        resolve({ code, stdout, stderr });
      });
    });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The inner HTML of the element with this id in a dumped DOM (elements of that tag nested in it not handled). */
export function elementById(dom: string, id: string): string {
  const open = new RegExp(`<([a-z0-9]+)[^>]*\\bid="${id}"[^>]*>`).exec(dom);
  if (open === null) return '';
  const tag = open[1]!;
  const start = open.index + open[0].length;
  const end = dom.indexOf(`</${tag}>`, start);
  return end < 0 ? dom.slice(start) : dom.slice(start, end);
}

/** The rows of a dumped table body, each as its cells' text (tags stripped, entities of the five kinds decoded). */
export function tableRows(tbody: string): string[][] {
  return tbody
    .split(/<tr[^>]*>/)
    .slice(1)
    .map((row) =>
      row
        .split(/<td[^>]*>/)
        .slice(1)
        .map((cell) => decodeEntities(cell.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim())),
    );
}

export function decodeEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}
