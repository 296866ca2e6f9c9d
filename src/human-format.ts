/**
 * Numbers and digests as people read them, in tables, notes, logs and the status page. One place,
 * so a size or a digest looks the same wherever it is shown, and user text is shown safely. Imports nothing.
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

/** Options of {@link displayText}. */
export interface DisplayTextOptions {
  /** Longer text is cut here and followed by its length (default 120 characters). */
  maxLength?: number;
  /** Keep line feeds (a multi-line message); by default they are escaped like any control byte. */
  keepNewlines?: boolean;
}

/**
 * User text (a wishlist line, a name from a file) as it may be shown in a log, an error or a
 * table: control bytes cannot act on the terminal or the CI log that shows it, so a line cannot
 * move the cursor, erase itself or paint a fake result over its own error. C0 controls and DEL
 * appear as `\x1b`, C1 controls and the invisible bidirectional and line-separator marks as
 * `\u202e`; text longer than `maxLength` is cut and followed by its full length:
 * `abc… (10000 characters)`. Escaping twice changes nothing, so a message built from escaped
 * parts may pass through it again at the edge.
 */
export function displayText(text: string, options: DisplayTextOptions = {}): string {
  const max = options.maxLength ?? 120;
  const cut = text.length > max ? text.slice(0, max) : text;
  const shown = cut.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g, (c) => {
    if (c === "\n" && options.keepNewlines) return c;
    const code = c.charCodeAt(0);
    return code < 0x80 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
  return cut === text ? shown : `${shown}… (${text.length} characters)`;
}
