/**
 * QUIC Initial packet protection (RFC 9001 §5), for reading a client's first flight without any secret.
 *
 * The Initial keys are derived from the Destination Connection ID of the client's first Initial and a salt fixed
 * per QUIC version, so anyone who sees the packet can remove its protection; that is what lets a router read the
 * ClientHello and still forward the datagrams untouched. Only the client direction is derived here.
 *
 *   initial_secret        = HKDF-Extract(initial_salt, client_dcid)
 *   client_initial_secret = HKDF-Expand-Label(initial_secret, "client in", "", 32)
 *   key = HKDF-Expand-Label(secret, "quic key", "", 16)     v2 (RFC 9369 §3.3.2): "quicv2 key"
 *   iv  = HKDF-Expand-Label(secret, "quic iv",  "", 12)                             "quicv2 iv"
 *   hp  = HKDF-Expand-Label(secret, "quic hp",  "", 16)                             "quicv2 hp"
 *
 * Initial packets use AEAD_AES_128_GCM and AES-based header protection (RFC 9001 §5.3, §5.4.3). Pure: node:crypto
 * only, no I/O. A failed authentication is an answer (null), never an exception.
 */
import { createCipheriv, createDecipheriv, createHmac, type Cipher } from 'node:crypto';

/** QUIC version 1 (RFC 9000) and version 2 (RFC 9369 §3.1). */
export const QUIC_VERSION_1 = 0x00000001;
export const QUIC_VERSION_2 = 0x6b3343cf;

/** RFC 9001 §5.2 */
const INITIAL_SALT_V1 = Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex');
/** RFC 9369 §3.3.1 */
const INITIAL_SALT_V2 = Buffer.from('0dede3def700a6db819381be6e269dcbf9bd2ed9', 'hex');

const HASH = 'sha256';
const HASH_BYTES = 32;
/** AEAD_AES_128_GCM (RFC 5116 §5.1): 16-byte key, 12-byte nonce, 16-byte tag. */
export const AEAD_KEY_BYTES = 16;
export const AEAD_IV_BYTES = 12;
export const AEAD_TAG_BYTES = 16;
/** AES header protection: a 16-byte key and a 16-byte sample of the ciphertext (RFC 9001 §5.4.2, §5.4.3). */
export const HP_KEY_BYTES = 16;
export const HP_SAMPLE_BYTES = 16;

const TLS13_LABEL_PREFIX = 'tls13 ';
const LABEL_CLIENT_IN = 'client in';

interface VersionLabels {
  readonly salt: Buffer;
  readonly key: string;
  readonly iv: string;
  readonly hp: string;
}

const LABELS_V1: VersionLabels = { salt: INITIAL_SALT_V1, key: 'quic key', iv: 'quic iv', hp: 'quic hp' };
const LABELS_V2: VersionLabels = { salt: INITIAL_SALT_V2, key: 'quicv2 key', iv: 'quicv2 iv', hp: 'quicv2 hp' };

/** True for the versions whose Initial packets this module can read. */
export function isSupportedVersion(version: number): boolean {
  return version === QUIC_VERSION_1 || version === QUIC_VERSION_2;
}

/** The client's Initial protection for one (version, DCID). `hp` is an AES-128-ECB cipher reused for every mask. */
export interface InitialKeys {
  readonly version: number;
  readonly key: Buffer;
  readonly iv: Buffer;
  readonly hpKey: Buffer;
  readonly hp: Cipher;
}

/** HKDF-Extract (RFC 5869 §2.2). */
function hkdfExtract(salt: Buffer, ikm: Uint8Array): Buffer {
  return createHmac(HASH, salt).update(ikm).digest();
}

/**
 * HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, for outputs of at most one hash block (all QUIC Initial
 * outputs are ≤ 32 bytes, so T(1) suffices):
 *   HkdfLabel = uint16 length | uint8 label length | "tls13 " + label | uint8 context length (0)
 */
export function hkdfExpandLabel(secret: Buffer, label: string, length: number): Buffer {
  if (length > HASH_BYTES) throw new RangeError(`hkdfExpandLabel: ${length} bytes is more than one block`);
  const fullLabel = Buffer.from(TLS13_LABEL_PREFIX + label, 'latin1');
  const info = Buffer.allocUnsafe(2 + 1 + fullLabel.length + 1 + 1);
  info.writeUInt16BE(length, 0);
  info[2] = fullLabel.length;
  fullLabel.copy(info, 3);
  info[3 + fullLabel.length] = 0; // context length
  info[4 + fullLabel.length] = 1; // HKDF-Expand counter byte for T(1)
  return createHmac(HASH, secret).update(info).digest().subarray(0, length);
}

/** Client Initial keys for `version` (which must be supported) and the client's first Destination Connection ID. */
export function deriveClientInitialKeys(version: number, dcid: Uint8Array): InitialKeys {
  const labels = version === QUIC_VERSION_2 ? LABELS_V2 : LABELS_V1;
  const initialSecret = hkdfExtract(labels.salt, dcid);
  const clientSecret = hkdfExpandLabel(initialSecret, LABEL_CLIENT_IN, HASH_BYTES);
  const hpKey = hkdfExpandLabel(clientSecret, labels.hp, HP_KEY_BYTES);
  const hp = createCipheriv('aes-128-ecb', hpKey, null);
  hp.setAutoPadding(false);
  return {
    version,
    key: hkdfExpandLabel(clientSecret, labels.key, AEAD_KEY_BYTES),
    iv: hkdfExpandLabel(clientSecret, labels.iv, AEAD_IV_BYTES),
    hpKey,
    hp,
  };
}

/** The 5 mask bytes of header protection (RFC 9001 §5.4.3): AES-ECB(hp_key, sample), first 5 bytes used. */
export function headerProtectionMask(keys: InitialKeys, sample: Uint8Array): Buffer {
  // ECB keeps no state between blocks, so one cipher object serves every packet of the flow.
  return keys.hp.update(sample);
}

/** The AEAD nonce: the IV XORed with the packet number, left-padded to the IV's length (RFC 9001 §5.3). */
export function packetNonce(iv: Buffer, packetNumber: number): Buffer {
  const nonce = Buffer.from(iv);
  let pn = packetNumber;
  // Bounded: 8 bytes at most; packet numbers are below 2^62, but those that reach here fit in a JS safe integer.
  for (let i = nonce.length - 1; i >= nonce.length - 8 && pn > 0; i -= 1) {
    nonce[i] = nonce[i]! ^ pn % 256;
    pn = Math.floor(pn / 256);
  }
  return nonce;
}

/**
 * Opens an Initial packet's payload: `header` (unprotected, packet number included) is the associated data,
 * `sealed` is ciphertext followed by the 16-byte tag. Returns the plaintext, or null when authentication fails.
 */
export function openPayload(keys: InitialKeys, packetNumber: number, header: Uint8Array, sealed: Uint8Array): Buffer | null {
  if (sealed.length < AEAD_TAG_BYTES) return null;
  const cipherEnd = sealed.length - AEAD_TAG_BYTES;
  try {
    const decipher = createDecipheriv('aes-128-gcm', keys.key, packetNonce(keys.iv, packetNumber), {
      authTagLength: AEAD_TAG_BYTES,
    });
    decipher.setAAD(header);
    decipher.setAuthTag(sealed.subarray(cipherEnd));
    const head = decipher.update(sealed.subarray(0, cipherEnd));
    const tail = decipher.final(); // throws when the tag does not authenticate
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    return null;
  }
}

/** Seals a payload (the inverse of openPayload): ciphertext followed by the tag. For tests, fixtures and probes. */
export function sealPayload(keys: InitialKeys, packetNumber: number, header: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-128-gcm', keys.key, packetNonce(keys.iv, packetNumber), {
    authTagLength: AEAD_TAG_BYTES,
  });
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([body, cipher.getAuthTag()]);
}
