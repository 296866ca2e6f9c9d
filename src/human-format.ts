/**
 * Numbers and digests as people read them, in tables, notes, logs and the status page. One place,
 * so a size or a digest looks the same wherever it is shown. Imports nothing.
 */

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/** `1536` → `1.5 KiB` (binary units, one decimal; whole bytes below 1 KiB). */
export function humanBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** As {@link humanBytes}, with `-` for an unknown size (a table cell that has no value). */
export function formatBytes(bytes: number | undefined): string {
  return bytes === undefined ? "-" : humanBytes(bytes);
}

/** `830` → `830ms`, `8_300` → `8.3s`, `83_400` → `1m23s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
}

/**
 * `sha256:abcdef…` → `sha256:abcdef012345` (12 hex digits), for narrow columns; `missing` when
 * there is no digest.
 */
export function shortDigest(digest: string | undefined, missing = "-"): string {
  if (!digest) return missing;
  const colon = digest.indexOf(":");
  return `${digest.slice(0, colon + 1)}${digest.slice(colon + 1, colon + 13)}`;
}
