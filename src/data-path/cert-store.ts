/**
 * Certificate material for terminated names: checked once (for `sni-router check` and start-up), compiled into a
 * node:tls SecureContext, and rebuilt when the files change on disk (certbot renewals, cert-manager's symlink swap).
 *
 *   config/cert-check.ts          → the material read and judged (the same checks `sni-router check` runs)
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
import { constants as cryptoConstants, randomBytes, type X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { certificatePairsOf, type TerminateSettings } from '../config/types.js';
import { dnsNamesOf } from '../config/certificate-warnings.js';
import { CertificateError } from '../ops/errors.js';
import {
  type CertMaterial,
  describeUnusableMaterial,
  isCertProblem,
  readCertificates,
  readCertMaterial,
} from '../config/cert-check.js';
import { FileWatch, signatureOf } from '../ops/file-watch.js';

/** Session ticket key material: 16 name + 16 HMAC + 16 AES (node's `ticketKeys`). */
const TICKET_KEY_BYTES = 48;

function buildContext(settings: TerminateSettings, material: CertMaterial, ticketKeys: Buffer): tls.SecureContext {
  return tls.createSecureContext({
    // Several pairs (ECDSA + RSA) in one context: OpenSSL serves the one the client's signature algorithms allow.
    cert: material.certificates.map((loaded) => loaded.cert),
    key: material.certificates.map((loaded) => loaded.key),
    ...(material.ca ? { ca: material.ca } : {}),
    minVersion: settings.minVersion,
    // Ciphers: the runtime's default list (modern AEAD suites first); not set here on purpose.
    // No renegotiation (TLS 1.2; 1.3 has none): OpenSSL answers a client's attempt with a no_renegotiation alert.
    // TLSSocket.disableRenegotiation() alone does not stop a client-initiated one on a socket made without a server.
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
    ticketKeys,
  });
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
  private material: CertMaterial;
  private readonly files: readonly string[];
  /** Signature of the files at the last attempt, good or bad: a bad file is reported once, not every poll. */
  private attempted: string;
  /** Kept across rebuilds, so sessions resumed with a ticket survive a certificate renewal. */
  private readonly ticketKeys = randomBytes(TICKET_KEY_BYTES);
  private logger: Logger | null;
  private readonly watch: FileWatch;
  /** How many times the context was rebuilt after start (for tests and the admin side). */
  reloads = 0;

  /** Throws CertificateError (naming the file) when the material cannot be used. */
  constructor(settings: TerminateSettings, options: ServerTlsContextOptions = {}) {
    this.settings = settings;
    this.logger = options.logger ?? null;
    this.files = [
      ...certificatePairsOf(settings).flatMap((pair) => [pair.certFile, pair.keyFile, ...(pair.ocspFile ? [pair.ocspFile] : [])]),
      ...(settings.clientCaFile ? [settings.clientCaFile] : []),
    ];
    this.attempted = signatureOf(this.files);
    const material = readCertMaterial(settings, new Date());
    if (isCertProblem(material)) throw new CertificateError(material.message);
    try {
      this.context = buildContext(settings, material, this.ticketKeys);
    } catch (error) {
      throw new CertificateError(describeUnusableMaterial(settings, error), { cause: error });
    }
    this.leaf = material.leaf;
    this.material = material;
    this.watch = new FileWatch(this.files, () => this.refresh(), { pollMs: options.pollIntervalMs });
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

  /** The certificates being served, in the order given (for /routes, the expiry metric and logs). */
  certificates(): readonly ServedCertificate[] {
    return this.material.certificates.map((loaded) => servedCertificateOf(loaded.certFile, loaded.leaf));
  }

  /** The OCSP response to staple now (re-read with the certificate when its file changes), or null. */
  ocspResponse(): Buffer | null {
    return this.material.certificates[0]?.ocsp ?? null;
  }

  /** Re-reads the files now if they changed since the last attempt; a bad new file keeps the old context. */
  refresh(): void {
    const signature = signatureOf(this.files);
    if (signature === this.attempted) return;
    this.attempted = signature;
    const material = readCertMaterial(this.settings, new Date());
    if (isCertProblem(material)) {
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
    this.material = material;
    this.reloads++;
    this.logger?.info(
      { cert: this.settings.certFile, key: this.settings.keyFile, subject: material.leaf.subject.replace(/\n/g, ', '), not_after: new Date(material.leaf.validTo).toISOString(), fingerprint: this.fingerprint },
      'certificate reloaded',
    );
  }

  /** Stops watching (the context stays usable by handshakes already given it). */
  close(): void {
    this.watch.close();
  }
}

/** Identity of a terminate setting: routes and snapshots with equal settings share one context. */
function settingsKey(settings: TerminateSettings): string {
  return JSON.stringify([certificatePairsOf(settings), settings.minVersion, settings.clientCaFile]);
}

/** A certificate as operators ask about it: which file, for which names, until when. */
export interface ServedCertificate {
  readonly file: string;
  readonly subject: string;
  /** DNS names of its subjectAltName, as written (`*.example.com` included). */
  readonly dnsNames: readonly string[];
  readonly notAfter: Date;
  readonly keyType: string;
  readonly fingerprint: string;
}

function servedCertificateOf(file: string, leaf: X509Certificate): ServedCertificate {
  return {
    file,
    subject: leaf.subject.replace(/\n/g, ', '),
    dnsNames: dnsNamesOf(leaf),
    notAfter: new Date(leaf.validTo),
    keyType: leaf.publicKey.asymmetricKeyType ?? 'unknown',
    fingerprint: leaf.fingerprint256,
  };
}

/**
 * The certificates of a terminate setting as served: from its live context when one is held (so a renewal on
 * disk shows at once), else read from the files (a primary process, `check`). Unreadable files give [].
 */
export function servedCertificatesOf(settings: TerminateSettings): readonly ServedCertificate[] {
  const held = serverContexts.peek(settingsKey(settings));
  if (held) return held.certificates();
  const served: ServedCertificate[] = [];
  for (const pair of certificatePairsOf(settings)) {
    const read = readCertificates(pair.certFile, 'cert', 'certificate');
    if (!isCertProblem(read)) served.push(servedCertificateOf(pair.certFile, read.certs[0]!));
  }
  return served;
}

/**
 * A backend CA file (`backend_tls.ca`), read at start and re-read when it changes on disk, like the certificates:
 * a rotated internal CA reaches new backend handshakes without a reload. A bad new file keeps the previous one.
 */
export class BackendCaFile {
  readonly file: string;
  private pem: Buffer;
  private attempted: string;
  private logger: Logger | null;
  private readonly watch: FileWatch;

  /** Throws CertificateError (naming the file) when it cannot be read or holds no certificate. */
  constructor(file: string, options: ServerTlsContextOptions = {}) {
    this.file = file;
    this.logger = options.logger ?? null;
    this.attempted = signatureOf([file]);
    const read = readCertificates(file, 'backend_ca', 'backend CA');
    if (isCertProblem(read)) throw new CertificateError(read.message);
    this.pem = read.pem;
    this.watch = new FileWatch([file], () => this.refresh(), { pollMs: options.pollIntervalMs });
  }

  /** The CA certificates for a backend handshake starting now. */
  current(): Buffer {
    return this.pem;
  }

  useLogger(logger: Logger): void {
    this.logger ??= logger;
  }

  refresh(): void {
    const signature = signatureOf([this.file]);
    if (signature === this.attempted) return;
    this.attempted = signature;
    const read = readCertificates(this.file, 'backend_ca', 'backend CA');
    if (isCertProblem(read)) {
      this.logger?.error({ file: this.file, err: read.message }, 'backend CA reload failed; keeping the previous CA');
      return;
    }
    this.pem = read.pem;
    this.logger?.info({ file: this.file }, 'backend CA reloaded');
  }

  close(): void {
    this.watch.close();
  }
}

interface Watched {
  useLogger(logger: Logger): void;
  refresh(): void;
  close(): void;
}

/**
 * Watched material shared by reference count: every snapshot that uses a key holds it, and the last release
 * closes its watches. A reload acquires the next snapshot's material before it releases the previous one's, so
 * material both use is kept (and re-read if it changed); material only the old one used is let go at once —
 * connections that already hold it keep working, it just is no longer refreshed.
 */
class SharedMaterial<T extends Watched> {
  private readonly entries = new Map<string, { value: T; owners: Set<object> }>();

  acquire(key: string, owner: object, logger: Logger | null, create: () => T): T {
    const entry = this.entries.get(key);
    if (entry) {
      if (logger) entry.value.useLogger(logger);
      if (!entry.owners.has(owner)) entry.value.refresh();
      entry.owners.add(owner);
      return entry.value;
    }
    const value = create();
    this.entries.set(key, { value, owners: new Set([owner]) });
    return value;
  }

  release(owner: object): void {
    for (const [key, entry] of this.entries) {
      if (!entry.owners.delete(owner) || entry.owners.size > 0) continue;
      entry.value.close();
      this.entries.delete(key);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  peek(key: string): T | undefined {
    return this.entries.get(key)?.value;
  }
}

const serverContexts = new SharedMaterial<ServerTlsContext>();
const backendCas = new SharedMaterial<BackendCaFile>();

/**
 * The shared context for `settings`, held for `owner` (a snapshot) until releaseTlsMaterial(owner): created on
 * first use (throws CertificateError when the material is bad), else the existing one, refreshed from disk (so a
 * reload re-reads renewed files). A bad file on refresh keeps the running context, so a reload never takes a
 * working name down.
 */
export function acquireServerTlsContext(settings: TerminateSettings, logger: Logger | null, owner: object): ServerTlsContext {
  return serverContexts.acquire(settingsKey(settings), owner, logger, () => new ServerTlsContext(settings, { logger }));
}

/** The shared, watched backend CA file, held for `owner` like acquireServerTlsContext. */
export function acquireBackendCa(file: string, logger: Logger | null, owner: object): BackendCaFile {
  return backendCas.acquire(file, owner, logger, () => new BackendCaFile(file, { logger }));
}

/** Gives back everything `owner` acquired; what no other owner holds stops being watched. */
export function releaseTlsMaterial(owner: object): void {
  serverContexts.release(owner);
  backendCas.release(owner);
}

/** How many server contexts and backend CA files are held now (for tests and the gauge). */
export function heldTlsMaterial(): { serverContexts: number; backendCas: number } {
  return { serverContexts: serverContexts.size, backendCas: backendCas.size };
}
