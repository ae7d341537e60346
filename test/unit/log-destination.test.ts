/** The batching log destination: every line reaches the fd, whole and in order, in batches of whole lines. */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ATOMIC_WRITE_BYTES, BatchingDestination } from '../../src/ops/log-destination.js';

let dir = '';
afterEach(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function fileDestination(options: { shared?: boolean } = {}): { destination: BatchingDestination; read: () => string; close: () => void } {
  dir = mkdtempSync(path.join(tmpdir(), 'sni-router-log-'));
  const file = path.join(dir, 'log');
  const fd = openSync(file, 'w');
  return { destination: new BatchingDestination({ fd, ...options }), read: () => readFileSync(file, 'utf8'), close: () => closeSync(fd) };
}

const lineOf = (i: number, padding = 0): string => `${JSON.stringify({ n: i, pad: 'x'.repeat(padding), name: 'ünïcödé' })}\n`;

describe('BatchingDestination', () => {
  it('writes every line, whole and in order, by the end of the loop turn (flush callback)', async () => {
    const { destination, read, close } = fileDestination();
    const lines = Array.from({ length: 5_000 }, (_, i) => lineOf(i, i % 97));
    for (const line of lines) destination.write(line);
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve, reject) => destination.flush((error) => (error ? reject(error) : resolve())));
    expect(read()).toBe(lines.join(''));
    close();
  });

  it('flushSync writes what is still collected (the exit paths)', () => {
    const { destination, read, close } = fileDestination();
    destination.write(lineOf(1));
    destination.write(lineOf(2));
    destination.flushSync();
    expect(read()).toBe(lineOf(1) + lineOf(2));
    close();
  });

  it('shared: lines near PIPE_BUF in size still arrive whole, none lost', async () => {
    const { destination, read, close } = fileDestination({ shared: true });
    const lines = Array.from({ length: 200 }, (_, i) => lineOf(i, ATOMIC_WRITE_BYTES - 200 - (i % 50)));
    for (const line of lines) destination.write(line);
    // Through the async path (batches of whole lines, several writes in flight one after another), not flushSync:
    // a flushSync while an async write is in flight may put its bytes ahead of that write's.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve, reject) => destination.flush((error) => (error ? reject(error) : resolve())));
    expect(read()).toBe(lines.join(''));
    close();
  });
});
