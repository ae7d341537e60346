/**
 * Whether a terminated route's files make usable certificate material: the PEM parses, the key matches the leaf,
 * the leaf is valid now, the client and backend CA files hold certificates. Config validation runs it so that
 * `sni-router check` and a reload report bad material at the key's line; the TLS context store (data-path) reads
 * its material through the same functions, so both judge a file alike. No state, nothing kept.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { describeFileError } from './files.js';
import { certificatePairsOf, type CertificatePair } from './types.js';

/** What a problem is about, so config validation can point at the right YAML key. */
export type CertFileRole = 'cert' | 'key' | 'client_ca' | 'backend_ca' | 'ocsp';

export interface CertProblem {
  readonly role: CertFileRole;
  readonly file: string;
  /** One plain sentence naming the file. */
  readonly message: string;
}

/** The files of a `terminate:` setting that hold certificate material. */
export interface CertMaterialFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly ocspFile?: string | null;
  /** Several certificates (terminate `certs:`); absent = the one pair above. */
  readonly certs?: readonly CertificatePair[] | null;
  readonly clientCaFile?: string | null;
  readonly backendTls?: { readonly caFile: string | null } | null;
}

/** One certificate of a terminate setting, read and checked. */
export interface LoadedCertificate {
  readonly certFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly leaf: X509Certificate;
  /** The DER OCSP response to staple, or null. */
  readonly ocsp: Buffer | null;
}

/** Every cert + key (+ OCSP) and the client CA as read and checked: what a server SecureContext is built from. */
export interface CertMaterial {
  readonly certificates: readonly LoadedCertificate[];
  readonly ca: Buffer | null;
  /** The first certificate's leaf (logs, fingerprint). */
  readonly leaf: X509Certificate;
}

/** ASN.1 SEQUENCE: every DER OCSPResponse (RFC 6960 §4.2.1) starts with it. */
const DER_SEQUENCE = 0x30;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function isCertProblem(value: object): value is CertProblem {
  return 'message' in value && 'role' in value;
}

/** The PEM certificates of a file, parsed; or a sentence saying why not. */
export function readCertificates(file: string, role: CertFileRole, noun: string): { certs: X509Certificate[]; pem: Buffer } | CertProblem {
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

/** Reads and checks one cert + key pair (+ its OCSP response): the leaf matches the key and is valid at `now`. */
function readCertificate(pair: CertificatePair, now: Date): LoadedCertificate | CertProblem {
  const certs = readCertificates(pair.certFile, 'cert', 'certificate');
  if (isCertProblem(certs)) return certs;
  const key = readKey(pair.keyFile);
  if (isCertProblem(key)) return key;
  const leaf = certs.certs[0]!;
  if (!leaf.checkPrivateKey(key.key)) {
    return {
      role: 'key',
      file: pair.keyFile,
      message: `the private key file '${pair.keyFile}' does not match the certificate in '${pair.certFile}' (${leaf.subject.replace(/\n/g, ', ')})`,
    };
  }
  const notAfter = new Date(leaf.validTo);
  const notBefore = new Date(leaf.validFrom);
  if (notAfter.getTime() < now.getTime()) {
    return { role: 'cert', file: pair.certFile, message: `the certificate in '${pair.certFile}' expired on ${notAfter.toISOString()}` };
  }
  if (notBefore.getTime() > now.getTime()) {
    return { role: 'cert', file: pair.certFile, message: `the certificate in '${pair.certFile}' is not valid before ${notBefore.toISOString()}` };
  }
  let ocsp: Buffer | null = null;
  if (pair.ocspFile) {
    try {
      ocsp = readFileSync(pair.ocspFile);
    } catch (error) {
      return { role: 'ocsp', file: pair.ocspFile, message: `cannot read the OCSP response file '${pair.ocspFile}': ${describeFileError(error)}` };
    }
    if (ocsp.length === 0 || ocsp[0] !== DER_SEQUENCE) {
      return { role: 'ocsp', file: pair.ocspFile, message: `the OCSP response file '${pair.ocspFile}' is not a DER OCSP response (openssl ocsp -respout writes one)` };
    }
  }
  return { certFile: pair.certFile, cert: certs.pem, key: key.pem, leaf, ocsp };
}

/** Reads and checks every certificate (+ client CA) of a terminate setting at `now`. */
export function readCertMaterial(settings: CertMaterialFiles, now: Date): CertMaterial | CertProblem {
  const pairs = certificatePairsOf(settings);
  const stapled = pairs.filter((pair) => pair.ocspFile);
  if (pairs.length > 1 && stapled.length > 0) {
    // OpenSSL picks among several certificates after node's OCSP hook has run, so a response could go out with
    // the wrong certificate; refuse rather than staple a response that the client will find does not match.
    return { role: 'ocsp', file: stapled[0]!.ocspFile!, message: `OCSP stapling ('${stapled[0]!.ocspFile}') needs a route with one certificate; this one has ${pairs.length}` };
  }
  const certificates: LoadedCertificate[] = [];
  for (const pair of pairs) {
    const read = readCertificate(pair, now);
    if (isCertProblem(read)) return read;
    certificates.push(read);
  }
  let ca: Buffer | null = null;
  if (settings.clientCaFile) {
    const read = readCertificates(settings.clientCaFile, 'client_ca', 'client CA');
    if (isCertProblem(read)) return read;
    ca = read.pem;
  }
  return { certificates, ca, leaf: certificates[0]!.leaf };
}

/** The sentence for material that parses and matches but that OpenSSL still refuses (a key too small, say). */
export function describeUnusableMaterial(settings: CertMaterialFiles, error: unknown): string {
  return `the certificate '${settings.certFile}' and key '${settings.keyFile}' cannot be used for TLS: ${(error as Error).message}`;
}

/**
 * Every problem with a terminated route's files, each naming its file; [] when the material is usable. OpenSSL
 * has the last word on cert and key (a throwaway context is built and dropped), so what passes here also loads.
 */
export function checkCertMaterial(settings: CertMaterialFiles, now = new Date()): CertProblem[] {
  const problems: CertProblem[] = [];
  const material = readCertMaterial(settings, now);
  if (isCertProblem(material)) problems.push(material);
  else {
    try {
      const cert = material.certificates.map((loaded) => loaded.cert);
      const key = material.certificates.map((loaded) => loaded.key);
      createSecureContext({ cert, key, ...(material.ca ? { ca: material.ca } : {}) });
    } catch (error) {
      problems.push({ role: 'cert', file: settings.certFile, message: describeUnusableMaterial(settings, error) });
    }
  }
  if (settings.backendTls?.caFile) {
    const read = readCertificates(settings.backendTls.caFile, 'backend_ca', 'backend CA');
    if (isCertProblem(read)) problems.push(read);
  }
  return problems;
}
