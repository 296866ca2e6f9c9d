import { humanBytes, shortDigest } from "../human-format.js";
import type { Plan, PlannedTag } from "./plan.js";

/** Version of the JSON form, for consumers (merge-request notes, scripts). */
export const PLAN_JSON_VERSION = 1;

/**
 * The plan as plain JSON (what `plan --format json` prints and a merge-request note embeds):
 * `{ version, layout, summary, tags[], conversions[], imageRemovals[] }`, every field a string,
 * number, boolean or array; optional fields are left out rather than null. The removal schedule
 * is the executor's business and not part of it.
 */
export function planToJson(plan: Plan): Record<string, unknown> {
  return {
    version: PLAN_JSON_VERSION,
    layout: plan.layout,
    summary: { ...plan.summary },
    tags: plan.tags.map((t) => ({ ...t })),
    conversions: plan.conversions.map((c) => ({ ...c, references: [...c.references], publicPaths: [...c.publicPaths] })),
    imageRemovals: plan.imageRemovals.map((r) => ({ ...r, lastNames: [...r.lastNames] })),
  };
}

/**
 * The plan as a fixed-width text table, one row per public name, then the images left without a
 * name, then one summary line. Digests are shortened to 12 hex characters; sizes come from the
 * published metadata and are blank when unknown (not yet converted).
 */
export function formatPlanTable(plan: Plan): string {
  // A plan with per-architecture names says each one's platform and, when known, the digest of
  // that platform's own manifest and what converting it fetches (MANIFEST is the tag's, an
  // index's for a multi-platform image); a platform the index lacks is listed under "Notes:".
  const perArch = plan.tags.some((t) => t.arch !== undefined);
  // With `--formats` beyond the sandbox: what each name's image has, and `+format` for what this run adds.
  const withFormats = plan.tags.some((t) => t.formats !== undefined);
  const header = ["ACTION", "PUBLIC NAME", "REFERENCE", "MANIFEST", ...(perArch ? ["PLATFORM"] : []), "IMAGE", "SIZE", ...(withFormats ? ["FORMATS"] : []), "SOURCE"];
  const rows = plan.tags.map((t) => [
    t.action + (t.retained ? " (retained)" : "") + (t.otherOwners ? ` (owned by ${t.otherOwners.join(", ")})` : ""),
    t.publicPath,
    t.reference ?? "",
    shortDigest(t.action === "remove" ? t.previousManifestDigest : t.manifestDigest, ""),
    ...(perArch ? [platformColumn(t)] : []),
    imageColumn(t),
    t.bytes !== undefined ? humanBytes(t.bytes) : "",
    ...(withFormats ? [formatsColumn(t)] : []),
    t.file !== undefined ? `${t.file}:${t.line ?? 0}` : "",
  ]);
  const lines = rows.length > 0 ? table([header, ...rows]) : ["(no public names)"];
  if (plan.imageRemovals.length > 0) {
    lines.push("", "Images without a name:");
    const removal = plan.imageRemovals.map((r) => [
      r.due ? "remove now" : `keep until ${r.removeAfter ?? "?"}`,
      r.imageDir,
      r.bytes !== undefined ? humanBytes(r.bytes) : "",
      r.lastNames.length > 0 ? `was ${r.lastNames.join(", ")}` : "",
    ]);
    lines.push(...table(removal).map((l) => `  ${l}`));
  }
  // A platform the index lacks is not an error of the line, but the reviewer must see it.
  const notes = plan.tags.filter((t) => t.platformNote !== undefined);
  if (notes.length > 0) lines.push("", "Notes:", ...notes.map((t) => `  ${t.publicPath}: ${t.platformNote ?? ""}`));
  const s = plan.summary;
  lines.push(
    "",
    `${s.add} to add, ${s.update} to update, ${s.keep} to keep${s.others > 0 ? ` (${s.others} owned by others)` : ""}, ${s.remove} to remove; ` +
      `${s.convert} image(s) to convert; ${s.removeImages} image(s) to delete, ${s.waiting} waiting for their removal date` +
      (s.addFormats ? `; ${s.addFormats} published image(s) get formats they lack` : ""),
  );
  return `${lines.join("\n")}\n`;
}

function platformColumn(t: PlannedTag): string {
  const platform = t.arch ?? t.platform ?? "";
  if (t.platformNote !== undefined) return `${platform} not in the index`;
  const own = t.platformManifestDigest !== undefined && t.platformManifestDigest !== t.manifestDigest ? shortDigest(t.platformManifestDigest, "") : "";
  const download = t.compressedBytes !== undefined ? `(${humanBytes(t.compressedBytes)} to fetch)` : "";
  return [platform, own, download].filter((p) => p !== "").join(" ");
}

/** `sandbox,podman +layers`: the formats the name's image has, then those this run adds. */
function formatsColumn(t: PlannedTag): string {
  if (t.action === "remove") return "";
  const have = ["sandbox", ...(t.formats?.have ?? [])].join(",");
  const add = (t.formats?.add ?? []).map((f) => `+${f}`).join(" ");
  return add === "" ? have : `${have} ${add}`;
}

function imageColumn(t: PlannedTag): string {
  if (t.action === "remove" || t.platformNote !== undefined) return "";
  if (t.convert) return t.imageDir ? `convert → ${shortDir(t.imageDir)}` : "convert";
  return t.imageDir ? shortDir(t.imageDir) : "";
}

function shortDir(dir: string): string {
  const parts = dir.split("/");
  const last = parts.pop() ?? "";
  return `${parts.join("/")}/${last.slice(0, 10)}…`;
}

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}
