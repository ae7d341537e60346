/**
 * A minimal, independent PROXY v2 reader for tests (written from haproxy's doc/proxy-protocol.txt, not from our
 * encoder), so a test checks the bytes a backend receives rather than our own idea of them.
 */
export const PP2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export interface DecodedV2 {
  readonly command: 'LOCAL' | 'PROXY';
  readonly family: 'TCP4' | 'TCP6' | 'UNSPEC';
  readonly source: { address: string; port: number } | null;
  readonly destination: { address: string; port: number } | null;
  readonly tlvs: Map<number, Buffer>;
  /** Header length in bytes (16 + length field). */
  readonly headerLength: number;
}

function ipv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

export function decodeV2(data: Buffer): DecodedV2 {
  if (data.length < 16 || !data.subarray(0, 12).equals(PP2_SIGNATURE)) throw new Error('no PROXY v2 signature');
  const verCmd = data[12]!;
  if (verCmd >> 4 !== 2) throw new Error(`bad version ${verCmd >> 4}`);
  const command = (verCmd & 0x0f) === 1 ? 'PROXY' : 'LOCAL';
  const famByte = data[13]!;
  const length = data.readUInt16BE(14);
  const headerLength = 16 + length;
  if (data.length < headerLength) throw new Error('truncated PROXY v2 header');
  const body = data.subarray(16, headerLength);
  let family: DecodedV2['family'] = 'UNSPEC';
  let source = null;
  let destination = null;
  let offset = 0;
  if (famByte === 0x11) {
    family = 'TCP4';
    source = { address: [...body.subarray(0, 4)].join('.'), port: body.readUInt16BE(8) };
    destination = { address: [...body.subarray(4, 8)].join('.'), port: body.readUInt16BE(10) };
    offset = 12;
  } else if (famByte === 0x21) {
    family = 'TCP6';
    source = { address: ipv6(body.subarray(0, 16)), port: body.readUInt16BE(32) };
    destination = { address: ipv6(body.subarray(16, 32)), port: body.readUInt16BE(34) };
    offset = 36;
  }
  const tlvs = new Map<number, Buffer>();
  while (offset < body.length) {
    if (offset + 3 > body.length) throw new Error('truncated TLV header');
    const type = body[offset]!;
    const len = body.readUInt16BE(offset + 1);
    if (offset + 3 + len > body.length) throw new Error('TLV overruns header');
    tlvs.set(type, body.subarray(offset + 3, offset + 3 + len));
    offset += 3 + len;
  }
  return { command, family, source, destination, tlvs, headerLength };
}
