import { humanBytes } from "../sync/plan-format.js";

/** Plain-text tables for summaries and plans: aligned columns, no colours, safe in CI logs. */

export interface Column<Row> {
  header: string;
  value(row: Row): string;
  align?: "left" | "right";
}

export function formatTable<Row>(columns: Column<Row>[], rows: Row[]): string {
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]): string =>
    values
      .map((v, i) => (columns[i]!.align === "right" ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

/** 1536 → "1.5 KiB"; "-" when unknown. */
export function formatBytes(bytes: number | undefined): string {
  return bytes === undefined ? "-" : humanBytes(bytes);
}

/** 83_400 ms → "1m23s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
}

/** `sha256:abcdef…` → `sha256:abcdef012345` (12 hex), for narrow columns. */
export function shortDigest(digest: string | undefined): string {
  if (!digest) return "-";
  const [algo, hex] = digest.split(":");
  return hex ? `${algo}:${hex.slice(0, 12)}` : digest.slice(0, 12);
}
