/** `npm run demo` works as printed: every curl line it prints, run as printed, reaches the backend it names. */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './helpers/clients.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let demo: ChildProcess | null = null;
afterEach(() => {
  if (demo && demo.exitCode === null) demo.kill('SIGTERM');
  demo = null;
});

describe('demo', () => {
  it('prints curl lines that work as printed', async () => {
    demo = spawn(process.execPath, [path.join(ROOT, 'dist/demo.js'), '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo did not print its instructions: ${out}`)), 15_000);
      demo!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ctrl-C')) {
          clearTimeout(timer);
          resolve();
        }
      });
      demo!.on('exit', (code) => reject(new Error(`demo exited ${code}: ${out}`)));
    });
    expect(out).toContain('routes, in the order a lookup tries them');
    const curls = out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('curl '));
    expect(curls.length).toBeGreaterThanOrEqual(2);
    for (const line of curls) {
      const args = line.split(/\s+/).slice(1);
      const name = /https:\/\/([^:/]+)/.exec(line)![1]!;
      const result = await run('curl', ['-sS', '--max-time', '10', ...args]);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(new RegExp(`^hello from backend ${name.replace(/\./g, '\\.')}; PROXY v2 says client 127\\.0\\.0\\.1:\\d+, sni ${name.replace(/\./g, '\\.')}`));
    }
  });
});
