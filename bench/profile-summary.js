/**
 * Top self-time frames of .cpuprofile files (from `node --cpu-prof`, e.g. bench/.build/profiles/):
 *
 *   node bench/profile-summary.js FILE.cpuprofile [...] [--top 15] [--json]
 */
import { parseArgs } from 'node:util';
import { formatProfileSummary, summarizeProfileFile } from './lib/cpu-profile.js';
import { REPO_DIR } from './lib/paths.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '15' }, json: { type: 'boolean', default: false } },
});
if (positionals.length === 0) {
  process.stderr.write('usage: node bench/profile-summary.js FILE.cpuprofile [...] [--top 15] [--json]\n');
  process.exit(1);
}
for (const file of positionals) {
  const summary = summarizeProfileFile(file, { top: Number(values.top), root: REPO_DIR });
  process.stdout.write(values.json ? `${JSON.stringify({ file, ...summary })}\n` : `${formatProfileSummary(summary, file)}\n\n`);
}
