/**
 * Which content is stored uncompressed (compression `none`, cvmfs-formats.md §2 "Uncompressed
 * objects", catalog flags bits 11–13): deflating what is already compressed spends the most CPU
 * of all content (deflate is slowest on data it cannot shrink) to save nothing. Two tests, both
 * made by the compress workers on an object's first bytes so that no byte is read twice:
 * - the magic bytes of a compressed format (below), checked on the first bytes;
 * - otherwise a sample: the first {@link SAMPLE_BYTES} (the whole content when shorter) deflated
 *   at a fast level; content that shrinks by less than {@link MIN_SHRINK} is stored as it is.
 * A file's decision is made once, on its first piece, and its other chunks follow it: the
 * catalog flag is per file.
 */

/** Bytes of a file's start that the sample test deflates. */
export const SAMPLE_BYTES = 64 * 1024;

/** The least fraction a sample must shrink by for the file to be compressed. */
export const MIN_SHRINK = 0.03;

/**
 * Magic bytes of formats that are compressed already: gzip, xz, zstd, bzip2 (with its block-size
 * digit, so text starting "BZh" is not taken for it), zip (and jar, wheel, apk, docx), lz4 frame,
 * 7z, PNG, JPEG, GIF, WOFF2. `null` matches any byte.
 */
export const COMPRESSED_MAGIC: ReadonlyArray<{ format: string; bytes: ReadonlyArray<number | null> }> = [
  { format: "gzip", bytes: [0x1f, 0x8b, 0x08] },
  { format: "xz", bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { format: "zstd", bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  { format: "bzip2", bytes: [0x42, 0x5a, 0x68, null] },
  { format: "zip", bytes: [0x50, 0x4b, 0x03, 0x04] },
  { format: "zip (empty)", bytes: [0x50, 0x4b, 0x05, 0x06] },
  { format: "lz4", bytes: [0x04, 0x22, 0x4d, 0x18] },
  { format: "7z", bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c] },
  { format: "png", bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { format: "jpeg", bytes: [0xff, 0xd8, 0xff] },
  { format: "gif", bytes: [0x47, 0x49, 0x46, 0x38] },
  { format: "woff2", bytes: [0x77, 0x4f, 0x46, 0x32] },
];

/**
 * The compressed format `head` (a file's first bytes) starts with, or null. The bzip2 entry
 * also needs its fourth byte to be a block-size digit `1`–`9`.
 */
export function compressedFormatOf(head: Uint8Array): string | null {
  for (const m of COMPRESSED_MAGIC) {
    if (head.length < m.bytes.length) continue;
    if (m.bytes.every((b, i) => b === null || head[i] === b)) {
      if (m.format === "bzip2" && !((head[3] as number) >= 0x31 && (head[3] as number) <= 0x39)) continue;
      return m.format;
    }
  }
  return null;
}
