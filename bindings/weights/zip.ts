// A reader for the ZIP archives torch.save writes (its default format since torch 1.6): every entry stored, not
// compressed, so an entry's bytes are a plain range of the file and can be used in place, without a copy.
//
// The layout, in our words (PKWARE APPNOTE 6.3): the file ends with an "end of central directory" record (EOCD,
// 22 bytes + a comment) that says where the central directory starts and how many entries it has. Archives over
// 4 GiB or 65535 entries put 0xFFFF.. there and keep the real numbers in a ZIP64 EOCD record, found through a
// 20-byte locator just before the EOCD. Each central directory entry gives the name, method, CRC-32, sizes and
// the offset of the entry's local header; the local header repeats the name and has its own extra field (torch
// pads it so that tensor data starts 64-byte aligned), and the data follows it.
//
// Everything is checked against the file's size before it is used; a file cut short has no EOCD and is refused
// (never read as a partial archive), as are encrypted, compressed, multi-disk and duplicate entries.

import { UnsupportedError, WeightsError } from '../errors.js';

export interface ZipEntry {
  readonly name: string;
  /** Absolute offset of the entry's data in the archive. */
  readonly start: number;
  readonly size: number;
  readonly crc32: number;
}

const EOCD = 0x06054b50, EOCD64 = 0x06064b50, LOCATOR64 = 0x07064b50, CENTRAL = 0x02014b50, LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;

/** True when the bytes start like a ZIP archive (a local file header, or an empty archive's EOCD). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6));
}

/**
 * The entries of a stored-only ZIP archive, by name, with their data ranges checked to lie inside the file.
 * `label` names the file in error messages.
 */
export function readZip(bytes: Uint8Array, label: string): Map<string, ZipEntry> {
  const fail = (msg: string): never => { throw new WeightsError(`${label}: ${msg}`); };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = bytes.length;
  const u16 = (p: number) => dv.getUint16(p, true), u32 = (p: number) => dv.getUint32(p, true);
  // u64 as two halves; anything at or above 2^53 cannot be an offset into a file we hold, so it is refused.
  const u64 = (p: number, what: string) => {
    const hi = u32(p + 4), v = hi * 2 ** 32 + u32(p);
    if (hi >= 2 ** 21) fail(`${what} ${BigInt(hi) * 2n ** 32n + BigInt(u32(p))} is not a valid size`);
    return v;
  };

  // The EOCD is the last record: its comment must end exactly at the end of the file.
  let eocd = -1;
  for (let p = size - 22; p >= Math.max(0, size - 22 - MAX_COMMENT); p--) {
    if (u32(p) === EOCD && p + 22 + u16(p + 20) === size) { eocd = p; break; }
  }
  if (eocd < 0) {
    fail('not a complete zip archive: no end-of-central-directory record at its end (the file is truncated or ' +
      'not a zip); refusing to read a partial archive');
  }
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) throw new UnsupportedError(`${label}: multi-disk zip archives are not supported`);
  let count = u16(eocd + 10), cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16);
  if (u16(eocd + 8) !== count) fail(`end-of-central-directory record counts ${u16(eocd + 8)} entries on this disk but ${count} in all`);
  let cdEnd = eocd; // where the central directory must end: at the EOCD, or at the ZIP64 EOCD record
  if (eocd >= 20 && u32(eocd - 20) === LOCATOR64) {
    const rec = u64(eocd - 12, 'ZIP64 end-of-central-directory offset');
    if (u32(eocd - 16) !== 0 || u32(eocd - 4) > 1) throw new UnsupportedError(`${label}: multi-disk zip archives are not supported`);
    if (rec + 56 > eocd - 20) fail(`ZIP64 end-of-central-directory record at byte ${rec} does not fit before its locator (byte ${eocd - 20})`);
    if (u32(rec) !== EOCD64) fail(`no ZIP64 end-of-central-directory record at byte ${rec}, where its locator points`);
    if (u32(rec + 16) !== 0 || u32(rec + 20) !== 0) throw new UnsupportedError(`${label}: multi-disk zip archives are not supported`);
    const count64 = u64(rec + 32, 'ZIP64 entry count');
    if (u64(rec + 24, 'ZIP64 entry count on this disk') !== count64) fail('ZIP64 record: entry counts disagree');
    count = count64;
    cdSize = u64(rec + 40, 'ZIP64 central directory size');
    cdOffset = u64(rec + 48, 'ZIP64 central directory offset');
    cdEnd = rec;
  }
  if (cdOffset + cdSize !== cdEnd) {
    fail(`central directory (${cdSize} bytes at byte ${cdOffset}) does not end where the end-of-central-directory ` +
      `record starts (byte ${cdEnd})`);
  }
  if (count > cdSize / 46) fail(`central directory of ${cdSize} bytes cannot hold the ${count} entries it claims`);

  const entries = new Map<string, ZipEntry>();
  const names = new TextDecoder('utf-8');
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdEnd || u32(p) !== CENTRAL) fail(`central directory entry ${i} (byte ${p}) is malformed or missing`);
    const flags = u16(p + 8), method = u16(p + 10), crc32 = u32(p + 16);
    let csize = u32(p + 20), usize = u32(p + 24), local = u32(p + 42);
    const nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdEnd) fail(`central directory entry ${i} (byte ${p}) runs past the end of the central directory`);
    const name = names.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field (id 1): the 64-bit values of the fields saturated at 0xFFFFFFFF, in this order.
    for (let e = p + 46 + nameLen, end = e + extraLen; e + 4 <= end;) {
      const id = u16(e), len = u16(e + 2);
      if (e + 4 + len > end) fail(`entry "${name}": extra field at byte ${e} runs past its end`);
      if (id === 1) {
        let q = e + 4;
        const take = (what: string) => {
          if (q + 8 > e + 4 + len) fail(`entry "${name}": ZIP64 extra field lacks the ${what}`);
          const v = u64(q, `entry "${name}": ZIP64 ${what}`);
          q += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = take('uncompressed size');
        if (csize === 0xffffffff) csize = take('compressed size');
        if (local === 0xffffffff) local = take('local header offset');
      }
      e += 4 + len;
    }
    if (entries.has(name)) fail(`entry "${name}" appears twice in the central directory`);
    if (flags & 1) throw new UnsupportedError(`${label}: entry "${name}" is encrypted`);
    if (method !== 0) {
      throw new UnsupportedError(`${label}: entry "${name}" is compressed (method ${method}); torch.save stores ` +
        'entries uncompressed, and only such archives are read');
    }
    if (csize !== usize) fail(`entry "${name}" is stored but its compressed size ${csize} differs from its size ${usize}`);
    if (local + 30 > cdOffset || u32(local) !== LOCAL) fail(`entry "${name}": no local header at byte ${local}`);
    const localName = u16(local + 26), localExtra = u16(local + 28);
    const start = local + 30 + localName + localExtra;
    if (localName !== nameLen || names.decode(bytes.subarray(local + 30, local + 30 + localName)) !== name) {
      fail(`entry "${name}": its local header (byte ${local}) names a different file`);
    }
    if (start + usize > cdOffset) {
      fail(`entry "${name}": its ${usize} bytes at byte ${start} run past the start of the central directory (byte ${cdOffset})`);
    }
    entries.set(name, { name, start, size: usize, crc32 });
    p = next;
  }
  if (p !== cdEnd) fail(`${cdEnd - p} unexplained bytes after the last central directory entry`);
  return entries;
}

let crcTables: Uint32Array | undefined;

/** CRC-32 (the ZIP polynomial 0xEDB88320, reflected), eight bytes per step ("slicing-by-8"): ~1.3 GB/s in V8. */
export function crc32(bytes: Uint8Array): number {
  let T = crcTables;
  if (!T) {
    T = crcTables = new Uint32Array(256 * 8);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      T[n] = c >>> 0;
    }
    for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) T[k * 256 + n] = (T[(k - 1) * 256 + n] >>> 8) ^ T[T[(k - 1) * 256 + n] & 0xff];
  }
  let c = 0xffffffff, i = 0;
  const n = bytes.length, head = Math.min(n, (4 - (bytes.byteOffset & 3)) & 3);
  for (; i < head; i++) c = T[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  // little-endian 32-bit words (the host check is the caller's: every JS engine we target is little-endian)
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset + i, ((n - i) >>> 3) << 1);
  for (let w = 0; w < words.length; w += 2) {
    const a = words[w] ^ c, b = words[w + 1];
    c = T[1792 + (a & 0xff)] ^ T[1536 + ((a >>> 8) & 0xff)] ^ T[1280 + ((a >>> 16) & 0xff)] ^ T[1024 + (a >>> 24)] ^
      T[768 + (b & 0xff)] ^ T[512 + ((b >>> 8) & 0xff)] ^ T[256 + ((b >>> 16) & 0xff)] ^ T[b >>> 24];
  }
  for (i += words.length * 4; i < n; i++) c = T[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
