// Prints the one line CI reads, "N passed, N failed", from vitest's JSON report.
// A run that produced no report (crash, build failure) counts as one failure, never as green.
import { readFileSync } from 'node:fs';

const [file, status] = process.argv.slice(2);
let passed = 0;
let failed = 0;
try {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  // Files that failed to load count no tests but are failures all the same.
  for (const suite of report.testResults ?? []) {
    if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) failed++;
  }
} catch {
  failed = Math.max(failed, 1);
}
if (failed === 0 && status !== undefined && status !== '0') failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
