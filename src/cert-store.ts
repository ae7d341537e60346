/**
 * Certificate material for terminated names: checked once (for `sni-router check` and start-up), compiled into a
 * node:tls SecureContext, and rebuilt when the files change on disk (certbot renewals, cert-manager's symlink swap).
 *
 *   checkCertMaterial(cert, key)  → problems, each naming the file   (config time, no state)
 *   ServerTlsContext              → current() SecureContext; watches its files; a bad new file keeps the old one
 *
 * One ServerTlsContext per distinct set of settings, shared by every snapshot that uses them (a reload with the
 * same files keeps the context, and re-reads the files if they changed). Connections take `current()` once, at
 * handshake time, so a rebuild never touches a connection that is open.
 *
 * Watching: fs.watch on each file's folder (a rename into place, or a `..data` symlink swap, is an event in the
 * folder, not on the file) plus a stat poll as a fallback where watch events are unreliable (NFS, some
 * containers). Either only schedules a check; the check compares each file's (dev, ino, size, mtime) — through
 * symlinks — with the last attempt, and rebuilds only when something changed. Timers and watchers are unref'd so
 * that they never keep the process alive.
 */
import { constants as cryptoConstants, createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { DEFAULT_TLS_MIN_VERSION, type TerminateSettings } from './config/types.js';
import { CertificateError } from './errors.js';
import { describeFileError } from './config/files.js';

/** Quiet time after the last watch event before the files are read (certbot writes cert, then chain, then key). */
export const RELOAD_DEBOUNCE_MS = 150;
/** Stat poll interval, the fallback for when watch events do not come. */
export const DEFAULT_POLL_INTERVAL_MS = 2_000;
/** Session ticket key material: 16 name + 16 HMAC + 16 AES (node's `ticketKeys`). */
const TICKET_KEY_BYTES = 48;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** What a problem is about, so config validation can point at the right YAML key. */
export type CertFileRole = 'cert' | 'key' | 'client_ca' | 'backend_ca';

export interface CertProblem {
  readonly role: CertFileRole;
  readonly file: string;
  /** One plain sentence naming the file. */
  readonly message: string;
}

/** The PEM certificates of a file, parsed; or a sentence saying why not. */
function readCertificates(file: string, role: CertFileRole, noun: string): { certs: X509Certificate[]; pem: Buffer } | CertProblem {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (error) {
    return { role, file, message: `cannot read the ${noun} file '${file}': ${describeFileError(error)}` };
  }
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return { role, file, message: `the ${noun} file '${file}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)` };
  const certs: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(block));
    } catch (error) {
      const which = blocks.length > 1 ? `certificate ${index + 1} of ` : '';
      return { role, file, message: `${which}the ${noun} file '${file}' cannot be parsed: ${(error as Error).message}` };
    }
  }
  return { certs, pem };
}

function readKey(file: string): { key: KeyObject; pem: Buffer } | CertProblem {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (error) {
    return { role: 'key', file, message: `cannot read the private key file '${file}': ${describeFileError(error)}` };
  }
  try {
    return { key: createPrivateKey(pem), pem };
  } catch (error) {
    const detail = (error as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE' ? 'it is encrypted (give an unencrypted key)' : (error as Error).message;
    return { role: 'key', file, message: `the private key file '${file}' cannot be read as a PEM private key: ${detail}` };
  }
}

function isProblem(value: object): value is CertProblem {
  return 'message' in value;
}

interface Material {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | null;
  readonly leaf: X509Certificate;
}

/** Reads and checks cert + key (+ client CA): the leaf matches the key and is valid now. */
function readMaterial(settings: TerminateSettings, now: Date): Material | CertProblem {
  const certs = readCertificates(settings.certFile, 'cert', 'certificate');
  if (isProblem(certs)) return certs;
  const key = readKey(settings.keyFile);
  if (isProblem(key)) return key;
  const leaf = certs.certs[0]!;
  if (!leaf.checkPrivateKey(key.key)) {
    return {
      role: 'key',
      file: settings.keyFile,
      message: `the private key file '${settings.keyFile}' does not match the certificate in '${settings.certFile}' (${leaf.subject.replace(/\n/g, ', ')})`,
    };
  }
  const notAfter = new Date(leaf.validTo);
  const notBefore = new Date(leaf.validFrom);
  if (notAfter.getTime() < now.getTime()) {
    return { role: 'cert', file: settings.certFile, message: `the certificate in '${settings.certFile}' expired on ${notAfter.toISOString()}` };
  }
  if (notBefore.getTime() > now.getTime()) {
    return { role: 'cert', file: settings.certFile, message: `the certificate in '${settings.certFile}' is not valid before ${notBefore.toISOString()}` };
  }
  let ca: Buffer | null = null;
  if (settings.clientCaFile) {
    const read = readCertificates(settings.clientCaFile, 'client_ca', 'client CA');
    if (isProblem(read)) return read;
    ca = read.pem;
  }
  return { cert: certs.pem, key: key.pem, ca, leaf };
}

/**
 * Every problem with a terminated route's files, each naming its file; [] when the material is usable. Used by
 * config validation (so `sni-router check` reports it at the key's line) — no state, nothing kept.
 */
export function checkCertMaterial(settings: TerminateSettings, now = new Date()): CertProblem[] {
  const problems: CertProblem[] = [];
  const material = readMaterial(settings, now);
  if (isProblem(material)) problems.push(material);
  else {
    try {
      buildContext(settings, material, randomBytes(TICKET_KEY_BYTES));
    } catch (error) {
      problems.push({ role: 'cert', file: settings.certFile, message: `the certificate '${settings.certFile}' and key '${settings.keyFile}' cannot be used for TLS: ${(error as Error).message}` });
    }
  }
  if (settings.backendTls?.caFile) {
    const read = readCertificates(settings.backendTls.caFile, 'backend_ca', 'backend CA');
    if (isProblem(read)) problems.push(read);
  }
  return problems;
}

function buildContext(settings: TerminateSettings, material: Material, ticketKeys: Buffer): tls.SecureContext {
  return tls.createSecureContext({
    cert: material.cert,
    key: material.key,
    ...(material.ca ? { ca: material.ca } : {}),
    minVersion: settings.minVersion ?? DEFAULT_TLS_MIN_VERSION,
    // Ciphers: the runtime's default list (modern AEAD suites first); not set here on purpose.
    // No renegotiation (TLS 1.2; 1.3 has none): OpenSSL answers a client's attempt with a no_renegotiation alert.
    // TLSSocket.disableRenegotiation() alone does not stop a client-initiated one on a socket made without a server.
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
    ticketKeys,
  });
}

/** (dev, ino, size, mtime) of each watched file, through symlinks; 'missing' when a stat fails. */
function signatureOf(files: readonly string[]): string {
  return files
    .map((file) => {
      try {
        const s = statSync(file);
        return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

export interface ServerTlsContextOptions {
  readonly logger?: Logger | null;
  readonly pollIntervalMs?: number;
}

/** The live SecureContext of one terminate setting; see the file comment. */
export class ServerTlsContext {
  readonly settings: TerminateSettings;
  private context: tls.SecureContext;
  private leaf: X509Certificate;
  private readonly files: readonly string[];
  /** Signature of the files at the last attempt, good or bad: a bad file is reported once, not every poll. */
  private attempted: string;
  /** Kept across rebuilds, so sessions resumed with a ticket survive a certificate renewal. */
  private readonly ticketKeys = randomBytes(TICKET_KEY_BYTES);
  private logger: Logger | null;
  private watchers: FSWatcher[] = [];
  private pollTimer: NodeJS.Timeout | null = null;
  private debounceTimer: NodeJS.Timeout | null = null;
  /** How many times the context was rebuilt after start (for tests and the admin side). */
  reloads = 0;

  /** Throws CertificateError (naming the file) when the material cannot be used. */
  constructor(settings: TerminateSettings, options: ServerTlsContextOptions = {}) {
    this.settings = settings;
    this.logger = options.logger ?? null;
    this.files = [settings.certFile, settings.keyFile, ...(settings.clientCaFile ? [settings.clientCaFile] : [])];
    this.attempted = signatureOf(this.files);
    const material = readMaterial(settings, new Date());
    if (isProblem(material)) throw new CertificateError(material.message);
    try {
      this.context = buildContext(settings, material, this.ticketKeys);
    } catch (error) {
      throw new CertificateError(`the certificate '${settings.certFile}' and key '${settings.keyFile}' cannot be used for TLS: ${(error as Error).message}`, { cause: error });
    }
    this.leaf = material.leaf;
    this.watch(options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
  }

  /** The context for a handshake starting now. */
  current(): tls.SecureContext {
    return this.context;
  }

  /** SHA-256 fingerprint of the certificate being served. */
  get fingerprint(): string {
    return this.leaf.fingerprint256;
  }

  useLogger(logger: Logger): void {
    this.logger ??= logger;
  }

  /** Re-reads the files now if they changed since the last attempt; a bad new file keeps the old context. */
  refresh(): void {
    const signature = signatureOf(this.files);
    if (signature === this.attempted) return;
    this.attempted = signature;
    const material = readMaterial(this.settings, new Date());
    if (isProblem(material)) {
      this.logger?.error({ file: material.file, err: material.message, serving: this.fingerprint }, 'certificate reload failed; keeping the previous certificate');
      return;
    }
    try {
      this.context = buildContext(this.settings, material, this.ticketKeys);
    } catch (error) {
      this.logger?.error({ file: this.settings.certFile, err: (error as Error).message, serving: this.fingerprint }, 'certificate reload failed; keeping the previous certificate');
      return;
    }
    this.leaf = material.leaf;
    this.reloads++;
    this.logger?.info(
      { cert: this.settings.certFile, key: this.settings.keyFile, subject: material.leaf.subject.replace(/\n/g, ', '), not_after: new Date(material.leaf.validTo).toISOString(), fingerprint: this.fingerprint },
      'certificate reloaded',
    );
  }

  /** Stops watching (the context stays usable). */
  close(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.pollTimer = null;
    this.debounceTimer = null;
  }

  private watch(pollIntervalMs: number): void {
    const schedule = (): void => {
      if (this.debounceTimer) clearTimeout(this.debounceTimer);
      this.debounceTimer = setTimeout(() => {
        this.debounceTimer = null;
        this.refresh();
      }, RELOAD_DEBOUNCE_MS);
      this.debounceTimer.unref();
    };
    for (const dir of new Set(this.files.map((file) => path.dirname(file)))) {
      try {
        const watcher = watch(dir, { persistent: false }, schedule);
        watcher.on('error', () => watcher.close()); // the folder went away: the poll still covers it
        this.watchers.push(watcher);
      } catch {
        // No inotify (or too many watches): the poll alone will notice changes.
      }
    }
    if (pollIntervalMs > 0) {
      this.pollTimer = setInterval(() => this.refresh(), pollIntervalMs);
      this.pollTimer.unref();
    }
  }
}

/** Identity of a terminate setting: routes and snapshots with equal settings share one context. */
function settingsKey(settings: TerminateSettings): string {
  return JSON.stringify([settings.certFile, settings.keyFile, settings.minVersion ?? null, settings.clientCaFile ?? null]);
}

const shared = new Map<string, ServerTlsContext>();

/**
 * The shared context for `settings`: created on first use (throws CertificateError when the material is bad), else
 * the existing one, refreshed from disk (so a reload re-reads renewed files). A bad file on refresh keeps the
 * running context, so a reload never takes a working name down.
 */
export function acquireServerTlsContext(settings: TerminateSettings, logger: Logger | null): ServerTlsContext {
  const key = settingsKey(settings);
  let context = shared.get(key);
  if (context) {
    if (logger) context.useLogger(logger);
    context.refresh();
    return context;
  }
  context = new ServerTlsContext(settings, { logger });
  shared.set(key, context);
  return context;
}
