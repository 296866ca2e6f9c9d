import { humanBytes } from "../human-format.js";
import type { PlanJson, PlanJsonTag } from "./schema.js";

/** Rows listed in full before the table is cut short; GitLab caps a note at 1,000,000 characters. */
export const MAX_NOTE_ROWS = 500;

/**
 * The hidden first line of every plan note: `<!-- cvmfs-image-sync:plan <repo> -->`. Later
 * pipelines of the same merge request find their note by it and edit it in place. The repository
 * name is part of it so that two pipelines publishing to two repositories keep one note each.
 */
export function planNoteMarker(repo: string): string {
  return `<!-- cvmfs-image-sync:plan ${repo} -->`;
}

/** Where the note came from, shown in its footer. All optional. */
export interface PlanNoteContext {
  /** Repository fqrn the plan is for. */
  repo: string;
  pipelineUrl?: string;
  commitSha?: string;
  /** The repository's status page (GitLab Pages), when it has one: the note links to it. */
  statusUrl?: string;
}

const ORDER: Record<PlanJsonTag["action"], number> = { add: 0, update: 1, remove: 2, keep: 3 };

/**
 * Pure: the markdown body of the plan note. First the marker, then a table of every change
 * (image, action, digest, size: for a new image of a read index, what its conversion fetches),
 * changes before unchanged names, then notes (wanted platforms an index lacks), then the image
 * directories that lose their last name, then the summary line. Unchanged names are folded into a `<details>` block
 * so a one-line merge request against a list of thousands stays readable; past MAX_NOTE_ROWS rows
 * the rest is counted, not listed.
 */
export function renderPlanNote(plan: PlanJson, context: PlanNoteContext): string {
  const lines = [planNoteMarker(context.repo), `#### Image plan for \`${context.repo}\``, ""];
  const changes = plan.tags.filter((t) => t.action !== "keep").sort((a, b) => ORDER[a.action] - ORDER[b.action]);
  const kept = plan.tags.filter((t) => t.action === "keep");
  // With `--formats` beyond the sandbox, a column says what each image has and gets.
  const withFormats = plan.tags.some((t) => t.formats !== undefined);
  if (changes.length === 0) lines.push("No image changes: the repository already matches the wishlist.", "");
  else lines.push(...tagTable(changes, withFormats), "");
  if (kept.length > 0) {
    lines.push(`<details><summary>${kept.length} unchanged</summary>`, "", ...tagTable(kept, withFormats), "", "</details>", "");
  }
  // A wanted platform the index lacks: not an error of the line, but the reviewer must see it.
  const notes = plan.tags.filter((t) => t.platformNote !== undefined);
  if (notes.length > 0) {
    lines.push("**Notes**", "");
    for (const t of notes.slice(0, MAX_NOTE_ROWS)) lines.push(`- ${code(t.publicPath)}: ${escapeCell(t.platformNote ?? "")}`);
    if (notes.length > MAX_NOTE_ROWS) lines.push(`- … and ${notes.length - MAX_NOTE_ROWS} more.`);
    lines.push("");
  }
  if (plan.imageRemovals.length > 0) {
    lines.push("| Image directory | Removal | Size | Last names |", "| --- | --- | --- | --- |");
    for (const r of plan.imageRemovals.slice(0, MAX_NOTE_ROWS)) {
      const when = r.due ? "now" : `after ${r.removeAfter ?? "the grace period"}`;
      lines.push(row([code(r.imageDir), when, size(r.bytes), r.lastNames.map(code).join(", ")]));
    }
    if (plan.imageRemovals.length > MAX_NOTE_ROWS) lines.push("", `… and ${plan.imageRemovals.length - MAX_NOTE_ROWS} more.`);
    lines.push("");
  }
  const s = plan.summary;
  lines.push(
    `**${s.add} to add, ${s.update} to update, ${s.remove} to remove, ${s.keep} unchanged**; ` +
      `${s.convert} image(s) to convert, ${s.removeImages} image(s) to delete, ${s.waiting} waiting for their removal date` +
      (s.addFormats ? `; ${s.addFormats} published image(s) get formats they lack.` : "."),
  );
  const origin = [
    context.pipelineUrl ? `[pipeline](${context.pipelineUrl})` : "",
    context.commitSha ? `commit ${context.commitSha.slice(0, 12)}` : "",
  ].filter((p) => p !== "");
  lines.push("", `<sub>Nothing is published from a merge request; this is what the default branch will do${origin.length > 0 ? ` (${origin.join(", ")})` : ""}.</sub>`);
  if (context.statusUrl) lines.push("", `What is published now, and what fails: [status page](${markdownUrl(context.statusUrl)}).`);
  return `${lines.join("\n")}\n`;
}

function tagTable(tags: readonly PlanJsonTag[], withFormats: boolean): string[] {
  const out = withFormats
    ? ["| Image | Action | Digest | Size | Formats |", "| --- | --- | --- | --- | --- |"]
    : ["| Image | Action | Digest | Size |", "| --- | --- | --- | --- |"];
  for (const t of tags.slice(0, MAX_NOTE_ROWS)) {
    // One reference has a row per platform when it is published per architecture.
    const image = t.reference !== undefined && t.arch !== undefined ? `${t.reference} (${t.arch})` : (t.reference ?? t.publicPath);
    const where = t.file !== undefined ? ` <sub>${escapeCell(`${t.file}:${t.line ?? 0}`)}</sub>` : "";
    out.push(row([`${code(image)}${where}`, actionText(t), digestText(t), sizeText(t), ...(withFormats ? [formatsText(t)] : [])]));
  }
  if (tags.length > MAX_NOTE_ROWS) out.push("", `… and ${tags.length - MAX_NOTE_ROWS} more.`);
  return out;
}

/** `sandbox, podman, **+layers**`: what the image has, and in bold what the sync adds. */
function formatsText(t: PlanJsonTag): string {
  if (t.action === "remove") return "";
  const have = ["sandbox", ...(t.formats?.have ?? [])];
  return [...have, ...(t.formats?.add ?? []).map((f) => `**+${f}**`)].map(escapeCell).join(", ");
}

/** A new image's size is what its conversion downloads, when the plan read its manifest. */
function sizeText(t: PlanJsonTag): string {
  if (t.platformNote !== undefined) return "";
  if (!t.convert) return size(t.bytes);
  return t.compressedBytes !== undefined ? `new, ${humanBytes(t.compressedBytes)} to fetch` : "new";
}

function actionText(t: PlanJsonTag): string {
  if (t.platformNote !== undefined) return `${t.action === "add" ? "not added" : "not updated"} (platform missing)`;
  if (t.retained) return "keep (retained)";
  if (t.otherOwners) return `keep (owned by ${t.otherOwners.join(", ")})`;
  return t.action === "add" || t.action === "update" ? `${t.action}${t.convert ? " (convert)" : ""}` : t.action;
}

function digestText(t: PlanJsonTag): string {
  if (t.action === "remove") return short(t.previousManifestDigest);
  // A name of an index: its platform's own manifest too, which is what a published image's
  // metadata (hence previousManifestDigest) records, so an update compares like with like.
  const own = t.platformManifestDigest !== undefined && t.platformManifestDigest !== t.manifestDigest ? t.platformManifestDigest : undefined;
  if (t.action === "update" && t.previousManifestDigest) return `${short(t.previousManifestDigest)} → ${short(own ?? t.manifestDigest)}`;
  if (own !== undefined) return `${short(t.manifestDigest)} (${escapeCell(t.arch ?? "platform")}: ${short(own)})`;
  return short(t.manifestDigest);
}

/** `sha256:` and the first 12 hex digits, as `docker images` shows them. */
function short(digest: string | undefined): string {
  if (digest === undefined) return "";
  const colon = digest.indexOf(":");
  return code(`${digest.slice(0, colon + 1)}${digest.slice(colon + 1, colon + 13)}`);
}

function size(bytes: number | undefined): string {
  return bytes === undefined ? "" : humanBytes(bytes);
}

/** Inline code; backticks inside would end it early, so they are dropped (never in a reference). */
function code(text: string): string {
  return `\`${escapeCell(text.replace(/`/g, ""))}\``;
}

/** A `|` splits a markdown table cell even inside code spans; newlines end the row. */
function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ");
}

/** A URL inside a markdown link: characters that would end the link or the line are percent-encoded. */
function markdownUrl(url: string): string {
  return url.replace(/[\s()<>[\]`|]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

function row(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}
