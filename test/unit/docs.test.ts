/** docs/access-log.md's vocabularies and the code's must agree: a reason or code added in one place and not the other fails. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CLOSE_REASONS, HTTP_CLOSE_REASONS } from '../../src/ops/close-reason.js';
import { ERROR_CODES } from '../../src/ops/errors.js';

const readme = readFileSync(new URL('../../docs/access-log.md', import.meta.url), 'utf8');

function tableFirstColumn(heading: string): string[] {
  const start = readme.indexOf(heading);
  expect(start, `docs/access-log.md has a "${heading}" section`).toBeGreaterThanOrEqual(0);
  const rows = readme.slice(start).split('\n').slice(1);
  const names: string[] = [];
  let inTable = false;
  for (const row of rows) {
    if (row.startsWith('|')) {
      inTable = true;
      const cell = /^\|\s*`([^`]+)`/.exec(row);
      if (cell?.[1]) names.push(cell[1]);
    } else if (inTable) break;
  }
  return names;
}

describe('docs/access-log.md vocabularies', () => {
  it('documents exactly the close reasons the code uses', () => {
    expect(tableFirstColumn('## Close reasons').sort()).toEqual([...CLOSE_REASONS, ...HTTP_CLOSE_REASONS].sort());
  });

  it('documents exactly the error codes the code defines', () => {
    expect(tableFirstColumn('## Error codes').sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});
