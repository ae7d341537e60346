/**
 * Loads the native data plane, or says in one sentence why it could not: the caller falls back to the node plane.
 * SNI_ROUTER_NATIVE_ADDON points at another build (the sanitizer build in CI).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from './addon.js';

export type NativeLoad = { readonly addon: NativeAddon; readonly path: string } | { readonly error: string };

/** Both src/native and dist/native are two levels below the package root. */
const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DEFAULT_ADDON_PATH = path.join(PACKAGE_DIR, 'build', 'Release', 'sni_router_native.node');

let cached: NativeLoad | null = null;

export function loadNativeAddon(): NativeLoad {
  if (cached !== null) return cached;
  cached = loadFrom(process.env.SNI_ROUTER_NATIVE_ADDON || DEFAULT_ADDON_PATH);
  return cached;
}

function loadFrom(file: string): NativeLoad {
  if (process.platform !== 'linux') return { error: `the native plane needs Linux (epoll, splice); this is ${process.platform}` };
  if (!existsSync(file)) {
    return { error: `${path.relative(process.cwd(), file) || file} is missing (npm install builds it; see its output for why not)` };
  }
  try {
    const required: unknown = createRequire(import.meta.url)(file);
    if (!isNativeAddon(required)) return { error: `${file} is not the sni-router native plane` };
    return { addon: required, path: file };
  } catch (error) {
    return { error: `${file} did not load: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function isNativeAddon(value: unknown): value is NativeAddon {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { createPlane?: unknown; closeReasons?: unknown };
  return typeof candidate.createPlane === 'function' && Array.isArray(candidate.closeReasons);
}
