/** Where things are, relative to this file, so `npm run bench` works from any working directory. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = path.resolve(BENCH_DIR, '..');
export const DIST_DIR = path.join(REPO_DIR, 'dist');
export const CLI_JS = path.join(DIST_DIR, 'cli.js');
export const BUILD_DIR = path.join(BENCH_DIR, '.build');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
export const PROFILES_DIR = path.join(BUILD_DIR, 'profiles');
export const HELLOS_DIR = path.join(REPO_DIR, 'fixtures', 'hellos');
export const DEFAULT_HELLO = path.join(HELLOS_DIR, 'curl.bin');
/** The test CA and router.test certificate (ca.pem, router.test.pem, router.test.key). */
export const CERTS_DIR = path.join(REPO_DIR, 'fixtures', 'certs');
