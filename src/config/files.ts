/**
 * Certificate and key files are checked when the config is loaded, so that `sni-router check` and a SIGHUP reload
 * catch a missing file with its position instead of the router failing later. Reading the PEM itself belongs to
 * src/terminate.ts.
 */
import { accessSync, constants, statSync } from 'node:fs';

/** Why `path` cannot be read as a file, finishing "cannot read the certificate file 'x': <reason>", or null. */
export function describeUnreadableFile(path: string): string | null {
  try {
    if (!statSync(path).isFile()) return 'it is not a regular file';
    accessSync(path, constants.R_OK);
    return null;
  } catch (error) {
    return describeFileError(error);
  }
}

export function describeFileError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'it does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a folder, not a file';
    case 'ENOTDIR':
      return 'a part of the path is not a folder';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
