import { createHash } from "node:crypto";
import { displayText, humanBytes } from "../human-format.js";

/**
 * The few things every page of the status site needs: escaping of untrusted text, dates, sizes,
 * and the page frame with its Content-Security-Policy. Everything shown comes from image authors,
 * wishlist authors or registries, so every piece of text goes through {@link text} (or
 * {@link esc}) before it reaches the markup; nothing is ever inserted raw.
 */

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text made safe for HTML content and quoted attribute values. */
export function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/**
 * Untrusted text as shown: control and invisible bidirectional characters made visible (`\x1b`),
 * cut past `max` characters with its length said, then escaped.
 */
export function text(value: string, max = 300): string {
  return esc(displayText(value, { maxLength: max }));
}

/** `2026-05-01T12:03:09.123Z` → `2026-05-01 12:03` (UTC, as the page says); `-` for none. */
export function when(iso: string | null | undefined): string {
  if (!iso) return "-";
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? "-" : t.toISOString().slice(0, 16).replace("T", " ");
}

/** A size as a cell shows it; `-` when unknown. */
export function size(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? "-" : humanBytes(bytes);
}

/** `3 days`, `5 hours`, `12 minutes`: how long from `fromIso` to `to`, in the largest whole unit. */
export function duration(fromIso: string, to: Date): string {
  const minutes = Math.max(0, Math.floor((to.getTime() - Date.parse(fromIso)) / 60_000));
  const [n, unit] = minutes >= 2 * 1440 ? [Math.floor(minutes / 1440), "day"] : minutes >= 120 ? [Math.floor(minutes / 60), "hour"] : [minutes, "minute"];
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** A word a POSIX shell reads back as `value`: as is when plain, else single-quoted. */
export function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'"'"'`)}'`;
}

/** The inline style and script every page carries, and the hashes that allow exactly them. */
export interface PageAssets {
  css: string;
  js: string;
}

const sha256 = (s: string): string => createHash("sha256").update(s, "utf8").digest("base64");

/** The policy of each set of assets, computed once: a site has thousands of pages and one set. */
const policies = new WeakMap<PageAssets, string>();

/**
 * A whole page: `body` is markup already escaped. The policy allows the page's own inline style
 * and script (by hash) and nothing else: no request leaves the page, whatever a label holds.
 * The empty icon keeps browsers from asking the server for `/favicon.ico`.
 */
export function page(title: string, body: string, assets: PageAssets): string {
  let csp = policies.get(assets);
  if (csp === undefined) {
    csp = [
      "default-src 'none'",
      `style-src 'sha256-${sha256(assets.css)}'`,
      `script-src 'sha256-${sha256(assets.js)}'`,
      "img-src data:",
      "base-uri 'none'",
      "form-action 'none'",
    ].join("; ");
    policies.set(assets, csp);
  }
  return (
    `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<meta http-equiv="Content-Security-Policy" content="${csp}">\n` +
    `<title>${esc(title)}</title>\n<link rel="icon" href="data:,">\n<style>${assets.css}</style>\n</head>\n<body>\n${body}\n` +
    `<script>${assets.js}</script>\n</body>\n</html>\n`
  );
}
