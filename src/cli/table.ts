/** Plain-text tables for summaries and plans: aligned columns, no colours, safe in CI logs. */
import { displayText } from "../human-format.js";

export interface Column<Row> {
  header: string;
  value(row: Row): string;
  align?: "left" | "right";
}

export function formatTable<Row>(columns: Column<Row>[], rows: Row[]): string {
  // A cell may hold user text (a wishlist line in an error): it must not act on the terminal.
  const cells = rows.map((row) => columns.map((c) => displayText(c.value(row), { maxLength: Number.POSITIVE_INFINITY })));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]): string =>
    values
      .map((v, i) => (columns[i]!.align === "right" ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}
