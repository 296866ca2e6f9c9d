import { parseArchName } from "../platforms/arch-names.js";
import type { RepositoryLayout } from "../published/layout.js";
import type { PublishedImage, PublishedState } from "../published/published-state.js";
import { formatImageReference, parseImageReference } from "../wishlist/reference.js";
import type { RunReport, RunReportRow, WishlistOrigin } from "./run-report.js";
import { runConfigOf } from "./run-config.js";
import { STATUS_JSON_VERSION, type StatusFailure, type StatusFormat, type StatusImage, type StatusJson, type StatusName, type StatusRun } from "./status-json.js";

/** File bytes of the repository, counted once per file and once per distinct content. */
export interface StorageFigures {
  bytes: number;
  storedBytes: number;
}

/** Everything the status model is made from; all of it already read. */
export interface StatusInput {
  /** Repository fqrn. */
  repository: string;
  layout: RepositoryLayout;
  state: PublishedState;
  revision: number;
  publishedAt?: Date;
  /** Undefined when not measured (`--skip-storage`): the page says so. */
  storage?: StorageFigures;
  /** Run reports in any order; the latest one per shard counts. */
  reports: readonly RunReport[];
  /** The status.json of the previous page, when there is one. */
  previous?: StatusJson;
  now: Date;
}

/** What the repository serves each image as. Only sandboxes exist; the other formats come with their writers. */
function formatsOf(_image: PublishedImage): StatusFormat[] {
  return ["sandbox"];
}

/**
 * Pure: the status model. Names come from the published state (`state.tags`), images from their
 * metadata (the published-state index). Each name's wishlist origin, last check and publication
 * time come from the newest report that names it, else from `previous`, else from what the
 * repository itself says (the image's conversion time); a failure keeps the `since` of the same
 * failure in `previous`, so a page says how long an image has been failing.
 */
export function assembleStatus(input: StatusInput): StatusJson {
  const { state, layout, previous } = input;
  const images = new Map<string, StatusImage>();
  for (const image of state.images.values()) {
    const m = image.metadata;
    if (!m) continue;
    images.set(image.hex, {
      hex: image.hex,
      dir: image.dir,
      configDigest: m.configDigest,
      manifestDigest: m.manifestDigest,
      ...(m.indexDigest !== undefined ? { indexDigest: m.indexDigest } : {}),
      platform: m.platform,
      convertedAt: new Date(m.convertedAt).toISOString(),
      files: m.files,
      bytes: m.bytes,
      references: m.references,
      layers: m.layers,
      config: runConfigOf(m.config),
      formats: formatsOf(image),
    });
  }

  const runs = latestPerShard(input.reports);
  const seen = rowsByPath(runs);
  const failures = failuresOf(runs, previous);
  const failingPaths = new Set(failures.flatMap((f) => (f.publicPath !== undefined ? [f.publicPath] : [])));
  const before = new Map((previous?.names ?? []).map((n) => [n.path, n]));

  const names: StatusName[] = [];
  for (const [path, dir] of [...state.tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const hex = layout.configHexOf(dir);
    if (hex === undefined) continue;
    const image = images.get(hex);
    const last = seen.get(path);
    const old = before.get(path);
    const sameAsBefore = old !== undefined && old.image === hex ? old : undefined;
    const publishedByRun = last && last.row.result === "ok" && (last.row.action === "add" || last.row.action === "update") && last.row.digest === image?.manifestDigest;
    const published = state.images.get(hex);
    // A per-architecture name is named as the usual name it mirrors, and says its architecture.
    const perArch = parseArchName(path);
    names.push({
      path,
      name: (last ? (writtenName(last.row) ?? last.row.image) : undefined) ?? old?.name ?? referenceOf(perArch?.publicPath ?? path, image, layout) ?? path.slice(1),
      tag: path.slice(path.lastIndexOf(":") + 1),
      image: hex,
      formats: published ? formatsOf(published) : [],
      publishedAt: publishedByRun ? last.report.finishedAt : (sameAsBefore?.publishedAt ?? image?.convertedAt ?? null),
      lastChecked: last?.report.finishedAt ?? old?.lastChecked ?? null,
      owners: state.owners.get(path) ?? [],
      origin: last?.row.origin ?? old?.origin ?? null,
      failing: failingPaths.has(path),
      ...(perArch ? { perArch: { arch: perArch.arch, hostPath: perArch.hostPath, clientArch: perArch.clientArch } } : {}),
    });
  }

  const imageList = [...images.values()].sort((a, b) => (a.hex < b.hex ? -1 : a.hex > b.hex ? 1 : 0));
  const bytes = input.storage?.bytes ?? imageList.reduce((sum, i) => sum + i.bytes, 0);
  return {
    version: STATUS_JSON_VERSION,
    generatedAt: input.now.toISOString(),
    repository: {
      name: input.repository,
      mountPath: `/cvmfs/${input.repository}`,
      layout: layout.kind,
      revision: input.revision,
      publishedAt: input.publishedAt ? input.publishedAt.toISOString() : null,
      images: state.images.size,
      names: state.tags.size,
      bytes,
      storedBytes: input.storage?.storedBytes ?? null,
      dedupSavedBytes: input.storage ? Math.max(0, input.storage.bytes - input.storage.storedBytes) : null,
    },
    runs: runs.map(runOf),
    failures,
    names,
    images: imageList,
    problems: [...state.problems],
  };
}

/** The newest report of each shard (a run over the whole list is its own "shard"), oldest first. */
function latestPerShard(reports: readonly RunReport[]): RunReport[] {
  const latest = new Map<string, RunReport>();
  for (const r of reports) {
    const key = r.shard ? `${r.shard.index}/${r.shard.total}` : "all";
    const other = latest.get(key);
    if (!other || Date.parse(other.finishedAt) < Date.parse(r.finishedAt)) latest.set(key, r);
  }
  return [...latest.values()].sort((a, b) => Date.parse(a.finishedAt) - Date.parse(b.finishedAt));
}

/** For each public name, the newest report row that names it. */
function rowsByPath(runs: readonly RunReport[]): Map<string, { row: RunReportRow; report: RunReport }> {
  const out = new Map<string, { row: RunReportRow; report: RunReport }>();
  for (const report of runs) for (const row of report.rows) if (row.publicPath !== undefined) out.set(row.publicPath, { row, report });
  return out;
}

function failuresOf(runs: readonly RunReport[], previous: StatusJson | undefined): StatusFailure[] {
  const keyOf = (f: { publicPath?: string; image: string }): string => f.publicPath ?? f.image;
  const since = new Map((previous?.failures ?? []).map((f) => [keyOf(f), f.since]));
  const out: StatusFailure[] = [];
  for (const report of runs) {
    for (const row of report.rows) {
      if (row.result !== "failed") continue;
      const origin: WishlistOrigin | null = row.origin ?? null;
      out.push({
        image: row.image,
        ...(row.publicPath !== undefined ? { publicPath: row.publicPath } : {}),
        origin,
        code: row.error?.code ?? "E_INTERNAL",
        message: row.error?.message ?? "failed without a message",
        since: since.get(keyOf(row)) ?? report.startedAt,
        lastSeen: report.startedAt,
        shard: report.shard,
      });
    }
  }
  return out;
}

function runOf(r: RunReport): StatusRun {
  return {
    shard: r.shard,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    seconds: r.seconds,
    result: r.result,
    ...(r.revision !== undefined ? { revision: r.revision } : {}),
    ...(r.error ? { error: r.error } : {}),
    summary: r.summary,
  };
}

/**
 * The wishlist line as written when it names exactly this row's reference (`centos:7` for
 * `docker.io/library/centos:7`); not for a tag pattern's line, which names many.
 */
function writtenName(row: RunReportRow): string | undefined {
  const text = row.origin?.text;
  if (text === undefined) return undefined;
  try {
    return formatImageReference(parseImageReference(text)) === row.image ? text : undefined;
  } catch {
    return undefined;
  }
}

/** The reference the image's metadata records for this name, when one of them lands on it. */
function referenceOf(path: string, image: StatusImage | undefined, layout: RepositoryLayout): string | undefined {
  return image?.references.find((r) => {
    try {
      return layout.publicPath(parseImageReference(r)) === path;
    } catch {
      return false;
    }
  });
}
