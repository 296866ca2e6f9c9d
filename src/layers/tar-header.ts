import { LayerError } from "../errors.js";

/**
 * Pure decoding of tar headers: ustar and GNU header blocks, numbers in octal or base-256, pax
 * extended records (POSIX.1-2001 `pax` format) and the GNU long-name records. tar-stream would
 * do most of this, but it decodes pax values as UTF-8 (binary `SCHILY.xattr.security.capability`
 * values would be mangled) and ignores pax `mtime` fractions, `uid`, `gid` and xattrs, so the
 * header is decoded here in full.
 */

/** Tar block size: headers are one block, bodies are padded to whole blocks. */
export const BLOCK = 512;

/** One tar entry's header, with pax and GNU long records already folded in. */
export interface TarHeader {
  name: string;
  linkname: string;
  /** The typeflag character: "0" file, "1" hardlink, "2" symlink, "3" char, "4" block, "5" dir, "6" fifo, … */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  mtimeNs: number;
  devMajor: number;
  devMinor: number;
  xattrs?: Record<string, Buffer>;
}

/** A raw header block, before extensions are applied. `null` for an all-zero (end) block. */
export interface RawHeader extends TarHeader {
  /** ustar, GNU (`ustar  \0`), or pre-POSIX v7. */
  format: "ustar" | "gnu" | "v7";
}

function cString(block: Buffer, start: number, length: number): Buffer {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

/** A numeric field: octal ASCII (NUL/space padded) or GNU base-256 (high bit of the first byte set). */
export function decodeNumber(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  const first = field[0] ?? 0;
  if (first & 0x80) {
    // Base-256, big-endian two's complement; 0xff starts a negative number.
    const negative = first === 0xff;
    let value = 0;
    for (let i = 0; i < field.length; i++) {
      let b = field[i]!;
      if (i === 0) b &= 0x7f;
      if (negative) b = 0xff - b + (i === 0 ? 0x80 : 0);
      value = value * 256 + b;
    }
    return negative ? -(value + 1) : value;
  }
  const text = field.toString("latin1").replace(/[\0 ]+$/, "").replace(/^[\0 ]+/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new LayerError(`tar header: invalid number "${text}"`);
  return parseInt(text, 8);
}

/** Whether a block is all zeros (the end-of-archive marker). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Decode one 512-byte header block, checking its checksum. */
export function decodeHeader(block: Buffer): RawHeader {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  const stored = decodeNumber(block, 148, 8);
  if (stored !== unsigned && stored !== signed) throw new LayerError("tar header: checksum mismatch (not a tar stream, or corrupted)");

  const magic = block.subarray(257, 265).toString("latin1");
  const format = magic.startsWith("ustar\0") ? "ustar" : magic === "ustar  \0" ? "gnu" : "v7";
  let name = cString(block, 0, 100).toString("utf8");
  if (format === "ustar") {
    const prefix = cString(block, 345, 155).toString("utf8");
    if (prefix !== "") name = `${prefix}/${name}`;
  }
  let typeflag = block[156] === 0 ? "0" : String.fromCharCode(block[156]!);
  // Pre-POSIX archives mark directories with a trailing slash on a regular entry.
  if ((typeflag === "0" || typeflag === "7") && name.endsWith("/")) typeflag = "5";
  const hasDev = format !== "v7";
  return {
    format,
    name,
    linkname: cString(block, 157, 100).toString("utf8"),
    typeflag,
    mode: decodeNumber(block, 100, 8),
    uid: decodeNumber(block, 108, 8),
    gid: decodeNumber(block, 116, 8),
    size: decodeNumber(block, 124, 12),
    mtime: decodeNumber(block, 136, 12),
    mtimeNs: 0,
    devMajor: hasDev ? decodeNumber(block, 329, 8) : 0,
    devMinor: hasDev ? decodeNumber(block, 337, 8) : 0,
  };
}

/** pax records as key → raw value bytes (values may be binary: xattrs). */
export function decodePaxRecords(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // padding after the last record
    const space = data.indexOf(0x20, pos);
    if (space === -1) throw new LayerError("tar pax header: record without length");
    const length = Number(data.subarray(pos, space).toString("latin1"));
    if (!Number.isInteger(length) || length <= space - pos + 1 || pos + length > data.length) {
      throw new LayerError("tar pax header: bad record length");
    }
    const record = data.subarray(space + 1, pos + length - 1); // drop the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq === -1) throw new LayerError("tar pax header: record without '='");
    out.set(record.subarray(0, eq).toString("utf8"), record.subarray(eq + 1));
    pos += length;
  }
  return out;
}

/** A pax time (`1700000000.123456789`, maybe negative) as whole seconds and nanoseconds. */
export function parsePaxTime(text: string): { sec: number; ns: number } {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text.trim());
  if (!m) throw new LayerError(`tar pax header: bad time "${text}"`);
  let sec = Number(m[2]);
  let ns = Number(((m[3] ?? "") + "000000000").slice(0, 9));
  if (m[1] === "-") {
    sec = -sec;
    if (ns > 0) {
      sec -= 1;
      ns = 1_000_000_000 - ns;
    }
  }
  return { sec, ns };
}

/** libarchive writes `LIBARCHIVE.xattr.<url-encoded name>=<base64 value>`. */
function percentDecode(name: string): string {
  return decodeURIComponent(name.replace(/%(?![0-9a-fA-F]{2})/g, "%25"));
}

/**
 * Fold pax records (global first, then the entry's own) and GNU long names into a header.
 * Unsupported extensions that change the meaning of the bytes (GNU sparse files) throw.
 */
export function applyExtensions(
  raw: RawHeader,
  ext: { pax?: Map<string, Buffer>; globalPax?: Map<string, Buffer>; longName?: string; longLink?: string },
): TarHeader {
  const h: TarHeader = { ...raw };
  delete (h as Partial<RawHeader>).format;
  if (ext.longName !== undefined) h.name = ext.longName;
  if (ext.longLink !== undefined) h.linkname = ext.longLink;
  const records = new Map([...(ext.globalPax ?? []), ...(ext.pax ?? [])]);
  for (const [key, value] of records) {
    const text = (): string => value.toString("utf8");
    if (key === "path") h.name = text();
    else if (key === "linkpath") h.linkname = text();
    else if (key === "size") h.size = Number(text());
    else if (key === "uid") h.uid = Number(text());
    else if (key === "gid") h.gid = Number(text());
    else if (key === "mtime") {
      const t = parsePaxTime(text());
      h.mtime = t.sec;
      h.mtimeNs = t.ns;
    } else if (key === "SCHILY.devmajor") h.devMajor = Number(text());
    else if (key === "SCHILY.devminor") h.devMinor = Number(text());
    else if (key.startsWith("SCHILY.xattr.")) {
      (h.xattrs ??= {})[key.slice("SCHILY.xattr.".length)] = Buffer.from(value);
    } else if (key.startsWith("LIBARCHIVE.xattr.")) {
      (h.xattrs ??= {})[percentDecode(key.slice("LIBARCHIVE.xattr.".length))] = Buffer.from(text(), "base64");
    } else if (key.startsWith("GNU.sparse.")) {
      throw new LayerError(`tar entry "${h.name}": GNU sparse files are not supported`);
    }
  }
  for (const n of ["size", "uid", "gid", "devMajor", "devMinor"] as const) {
    if (!Number.isSafeInteger(h[n]) || h[n] < 0) throw new LayerError(`tar entry "${h.name}": bad ${n}`);
  }
  if (h.typeflag === "0" && h.name.endsWith("/")) h.typeflag = "5";
  return h;
}
