import { CatalogError } from "../../errors.js";

/**
 * The serialized `XattrList` stored in the catalog's `xattr` column (cvmfs-formats.md §3
 * "xattr blob"): `u8 version = 1`, `u8 count`, then per attribute `u8 key length`,
 * `u8 value length`, key bytes, value bytes; attributes in byte order of their keys.
 *
 * The reader's limits are what the one-byte length fields can carry, so the writer refuses
 * anything larger rather than let a length wrap around and corrupt every following attribute.
 */

const VERSION = 1;
/** A u8 count: 255 attributes at most (CVMFS's own 256 would wrap to 0). */
export const MAX_XATTRS = 255;
export const MAX_XATTR_KEY = 255;
export const MAX_XATTR_VALUE = 255;

/**
 * Serializes extended attributes; `null` for none (the column is then NULL).
 * @throws CatalogError when a key is empty, contains NUL or is too long, a value is too long, or
 *   there are too many attributes.
 */
export function serializeXattrs(xattrs: Record<string, Buffer> | undefined): Buffer | null {
  if (xattrs === undefined) return null;
  const entries = Object.entries(xattrs).map(([k, v]) => [Buffer.from(k, "utf8"), v] as const);
  if (entries.length === 0) return null;
  if (entries.length > MAX_XATTRS) {
    throw new CatalogError(`too many extended attributes: ${entries.length} (at most ${MAX_XATTRS})`);
  }
  // std::map<std::string,...> order: bytewise comparison of the keys.
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  let size = 2;
  for (const [key, value] of entries) {
    const name = key.toString("utf8");
    if (key.length === 0) throw new CatalogError("extended attribute with an empty name");
    if (key.includes(0)) throw new CatalogError(`extended attribute name "${name}" contains NUL`);
    if (key.length > MAX_XATTR_KEY) {
      throw new CatalogError(`extended attribute name "${name.slice(0, 40)}…" is longer than ${MAX_XATTR_KEY} bytes`);
    }
    if (value.length > MAX_XATTR_VALUE) {
      throw new CatalogError(`extended attribute "${name}" has a value of ${value.length} bytes (at most ${MAX_XATTR_VALUE})`);
    }
    size += 2 + key.length + value.length;
  }
  const out = Buffer.alloc(size);
  out[0] = VERSION;
  out[1] = entries.length;
  let pos = 2;
  for (const [key, value] of entries) {
    out[pos++] = key.length;
    out[pos++] = value.length;
    pos += key.copy(out, pos);
    pos += value.copy(out, pos);
  }
  return out;
}

/**
 * Parses a serialized `XattrList`.
 * @throws CatalogError on an unknown version or a truncated blob.
 */
export function parseXattrs(blob: Uint8Array): Record<string, Buffer> {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.length < 2 || buf[0] !== VERSION) {
    throw new CatalogError(`unsupported extended attribute blob (version ${buf[0] ?? "missing"})`);
  }
  const count = buf[1] ?? 0;
  const out: Record<string, Buffer> = {};
  let pos = 2;
  for (let i = 0; i < count; i++) {
    const lk = buf[pos];
    const lv = buf[pos + 1];
    if (lk === undefined || lv === undefined || pos + 2 + lk + lv > buf.length) {
      throw new CatalogError("truncated extended attribute blob");
    }
    pos += 2;
    const key = buf.toString("utf8", pos, pos + lk);
    out[key] = Buffer.from(buf.subarray(pos + lk, pos + lk + lv));
    pos += lk + lv;
  }
  return out;
}
