import { duration, esc, page, size, text, when, type PageAssets } from "./html.js";
import type { StatusImage, StatusJson, StatusName, StatusRun } from "./status-json.js";

/** Where a name's detail view is, relative to the index page (`i/<hex>.html#n-<k>`). */
export type DetailHref = (name: StatusName) => string;

/**
 * Pure: `index.html`. The repository at a glance, then the failures of the last run, then every
 * published name in one table. The table is written for size: 5,000 names must stay well under
 * 1.5 MB, so its cells close implicitly (`</td>` and `</tr>` are optional in HTML), digests are
 * cut to 12 hex digits, and sort keys are read back from the cells rather than stored twice.
 */
export function renderIndex(status: StatusJson, assets: PageAssets, detailHref: DetailHref): string {
  const repo = status.repository;
  const now = new Date(status.generatedAt);
  const images = new Map(status.images.map((i) => [i.hex, i]));
  const body = [
    `<header>\n<h1>${text(repo.name)}</h1>`,
    `<p class="mute">Container images published in <code>${text(repo.mountPath)}</code>. ` +
      `Page made ${when(status.generatedAt)} UTC from revision ${repo.revision}; ` +
      `the same data as JSON: <a href="status.json">status.json</a>. Times are UTC.</p>\n</header>`,
    facts(status),
    failures(status, now),
    names(status, images, detailHref),
    problems(status.problems),
    `<footer>cvmfs-image-sync status page, <a href="status.json">status.json</a> version ${status.version}.</footer>`,
  ].join("\n");
  return page(`${repo.name}: image status`, body, assets);
}

function facts(status: StatusJson): string {
  const repo = status.repository;
  const saved = repo.dedupSavedBytes === null ? "not measured" : `${size(repo.dedupSavedBytes)}${repo.bytes > 0 ? ` (${Math.round((100 * repo.dedupSavedBytes) / repo.bytes)}%)` : ""}`;
  const last = status.runs.at(-1);
  const items: Array<[string, string]> = [
    ["Revision", String(repo.revision)],
    ["Published", when(repo.publishedAt)],
    ["Images", String(repo.images)],
    ["Names", String(repo.names)],
    ["Files, all images", size(repo.bytes)],
    ["Stored", repo.storedBytes === null ? "not measured" : size(repo.storedBytes)],
    ["Saved by file dedup", saved],
    ["Last run", last ? `${when(last.finishedAt)} ${runResult(last)}` : "no report"],
  ];
  return `<dl class="facts">\n${items.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join("\n")}\n</dl>`;
}

function runResult(run: StatusRun): string {
  return run.result === "ok" ? `<span class="ok">ok</span>` : `<span class="bad">${run.result}</span>`;
}

function shardName(shard: StatusRun["shard"]): string {
  return shard ? `shard ${shard.index}/${shard.total}` : "the run";
}

function failures(status: StatusJson, now: Date): string {
  const out = [`<section id="failures">`, `<h2>Failures of the last run (${status.failures.length})</h2>`];
  for (const run of status.runs) {
    if (!run.error) continue;
    out.push(`<p class="bad">${esc(shardName(run.shard))} ended at ${when(run.finishedAt)} with <code>${text(run.error.code)}</code>: ${text(run.error.message, 2000)}</p>`);
  }
  if (status.runs.length === 0) out.push(`<p class="mute">No run report was given: failures are not known.</p>`);
  else if (status.failures.length === 0) out.push(`<p class="ok">No image failed in the last run.</p>`);
  else {
    out.push(`<table class="fail">\n<thead><tr><th>Image</th><th>Wishlist</th><th>Error</th><th>Failing since</th></tr></thead>\n<tbody>`);
    for (const f of status.failures) {
      const where = f.origin ? `${f.origin.file}:${f.origin.line}` : "-";
      const name = f.origin?.text ?? f.image;
      out.push(
        `<tr><td>${text(name)}${f.publicPath ? `<br><span class="mute m">${text(f.publicPath)}</span>` : ""}</td><td class="m">${text(where)}</td>` +
          `<td><code>${text(f.code)}</code> ${text(f.message, 2000)}</td><td>${when(f.since)} <span class="mute">(${duration(f.since, now)})</span></td></tr>`,
      );
    }
    out.push("</tbody>\n</table>");
  }
  out.push("</section>");
  return out.join("\n");
}

const COLUMNS: Array<[string, string]> = [
  ["Name", ""],
  ["Tag", ""],
  ["Digest", ""],
  ["Platform", ""],
  ["Size", "size"],
  ["Files", "number"],
  ["Formats", ""],
  ["Published", ""],
  ["Checked", ""],
  ["Path", ""],
];

function names(status: StatusJson, images: ReadonlyMap<string, StatusImage>, detailHref: DetailHref): string {
  const mount = status.repository.mountPath;
  const head = COLUMNS.map(([label, sort]) => `<th${sort ? ` data-sort="${sort}"` : ""}>${label}</th>`).join("");
  const rows = status.names.map((n) => {
    const image = images.get(n.image);
    const digest = image ? image.manifestDigest.slice(image.manifestDigest.indexOf(":") + 1, image.manifestDigest.indexOf(":") + 13) : "-";
    const failing = n.failing ? ` <span class="bad">failing</span>` : "";
    // A per-architecture name reads as its usual name; the badge tells the rows apart.
    const arch = n.perArch ? ` <span class="mute">${text(n.perArch.arch)}</span>` : "";
    return (
      `<tr><td><a href=${href(detailHref(n))}>${text(n.name)}</a>${arch}${failing}<td>${text(n.tag, 80)}<td>${digest}<td>${image ? text(image.platform) : "-"}` +
      `<td>${size(image?.bytes)}<td>${image ? image.files : "-"}<td>${n.formats.join(" ")}<td>${when(n.publishedAt)}<td>${when(n.lastChecked)}<td>${text(mount + n.path)}`
    );
  });
  return [
    `<section id="names">`,
    `<h2>Published names (${status.names.length})</h2>`,
    `<div class="filter"><input id="q" type="search" placeholder="Filter: name, tag, digest, platform…" aria-label="Filter the names" autocomplete="off" hidden>` +
      `<span id="count" class="mute">${status.names.length} names</span></div>`,
    `<table id="t">\n<thead><tr>${head}</tr></thead>\n<tbody>`,
    ...rows,
    `</tbody>\n</table>\n</section>`,
  ].join("\n");
}

/** An href written without quotes (bytes, times 5,000) when it is only link-safe characters; else quoted and escaped. */
function href(url: string): string {
  return /^[\w./#-]+$/.test(url) ? url : `"${esc(url)}"`;
}

function problems(list: readonly string[]): string {
  if (list.length === 0) return "";
  const shown = list.slice(0, 200).map((p) => `<li>${text(p, 500)}</li>`);
  const more = list.length > shown.length ? `<li>… and ${list.length - shown.length} more (status.json lists them all)</li>` : "";
  return `<details><summary>${list.length} problem(s) in the repository</summary>\n<ul>\n${shown.join("\n")}${more}\n</ul>\n</details>`;
}
