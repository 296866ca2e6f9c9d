import { z } from "zod";
import { describeError, errorCode } from "../errors.js";
import type { PlannedTag } from "../sync/plan.js";
import type { ResolveFailure } from "../sync/resolve-desired.js";
import type { Shard, SyncResult, SyncRow } from "../sync/sync-repository.js";
import type { WishlistEntry } from "../wishlist/entry.js";

/**
 * The run report `sync --report FILE` writes: what one run (one shard of a sharded run) did, for
 * the status page and any other tool. Version 1; a change that old readers would misread bumps
 * the version, and readers keep accepting the versions before it.
 */
export const RUN_REPORT_VERSION = 1;

const Iso = z.iso.datetime({ offset: true });
const Count = z.number().int().nonnegative();

/** An error as the tool reports it: its stable code (errors.ts) and its one-line message. */
export const ReportError = z.object({ code: z.string().regex(/^E_[A-Z_]+$/), message: z.string() });
export type ReportError = z.infer<typeof ReportError>;

/** The wishlist line a name or a failure comes from; `text` is the line as written, when known. */
export const WishlistOrigin = z.object({ file: z.string(), line: Count, text: z.string().optional() });
export type WishlistOrigin = z.infer<typeof WishlistOrigin>;

/** `--shard I/N` of the run; absent (null) for a run over the whole wishlist. */
export const ShardInfo = z.object({ index: z.number().int().positive(), total: z.number().int().positive() });

/** One row of the summary table `sync` prints (see SyncRow), with its error split into code and message. */
export const RunReportRow = z.object({
  image: z.string(),
  publicPath: z.string().startsWith("/").optional(),
  action: z.string(),
  /** Manifest digest. */
  digest: z.string().optional(),
  files: Count.optional(),
  bytes: Count.optional(),
  newBytes: Count.optional(),
  seconds: z.number().nonnegative().optional(),
  result: z.enum(["ok", "failed", "skipped"]),
  error: ReportError.optional(),
  origin: WishlistOrigin.optional(),
});
export type RunReportRow = z.infer<typeof RunReportRow>;

/** The report file's schema, version 1. */
export const RunReport = z.object({
  version: z.literal(RUN_REPORT_VERSION),
  /** Repository fqrn. */
  repository: z.string(),
  owner: z.string().optional(),
  shard: ShardInfo.nullable(),
  /** Wishlist files as named on the command line. */
  wishlists: z.array(z.string()),
  startedAt: Iso,
  finishedAt: Iso,
  seconds: z.number().nonnegative(),
  /** `ok`: nothing failed; `failed`: some images failed, the rest was published; `error`: the run itself ended with `error`. */
  result: z.enum(["ok", "failed", "error"]),
  /** The revision this run published, when it published one. */
  revision: Count.optional(),
  commits: Count.optional(),
  error: ReportError.optional(),
  summary: z.object({ names: Count, ok: Count, failed: Count, skipped: Count, failedImages: Count }),
  /** Empty when the run ended before its summary (see `error`). */
  rows: z.array(RunReportRow),
});
export type RunReport = z.infer<typeof RunReport>;

/**
 * What a `sync` learns as it goes, recorded for its report: everything but the start is filled in
 * as the run reaches it, so a run that stops early still says how far it got.
 */
export interface RunRecord {
  repository: string;
  startedAt: Date;
  wishlists?: string[];
  owner?: string;
  shard?: Shard;
  entries?: readonly WishlistEntry[];
  tags?: readonly PlannedTag[];
  failures?: readonly ResolveFailure[];
  result?: SyncResult;
}

/**
 * Pure: the report of a run that ended at `finishedAt`, with `error` when it ended by throwing (a
 * run that ended without error and without a result had nothing to do: `ok`, no rows).
 * Each row gets the wishlist line it comes from (by public name from the plan, by reference from
 * the failures that never got a name) and its `[CODE] message` error split in two.
 */
export function assembleRunReport(record: RunRecord, finishedAt: Date, error?: unknown): RunReport {
  const origins = originsOf(record);
  const rows = (record.result?.rows ?? []).map((row) => reportRow(row, origins));
  const count = (result: RunReportRow["result"]): number => rows.filter((r) => r.result === result).length;
  const failedImages = record.result?.failed ?? 0;
  const finished = Math.max(finishedAt.getTime(), record.startedAt.getTime());
  return {
    version: RUN_REPORT_VERSION,
    repository: record.repository,
    ...(record.owner !== undefined ? { owner: record.owner } : {}),
    shard: record.shard && record.shard.total > 1 ? { index: record.shard.index, total: record.shard.total } : null,
    wishlists: record.wishlists ?? [],
    startedAt: record.startedAt.toISOString(),
    finishedAt: new Date(finished).toISOString(),
    seconds: (finished - record.startedAt.getTime()) / 1000,
    result: error !== undefined ? "error" : failedImages > 0 ? "failed" : "ok",
    ...(record.result?.revision !== undefined ? { revision: record.result.revision } : {}),
    ...(record.result ? { commits: record.result.commits } : {}),
    ...(error !== undefined ? { error: { code: errorCode(error), message: describeError(error) } } : {}),
    summary: { names: rows.filter((r) => r.publicPath !== undefined).length, ok: count("ok"), failed: count("failed"), skipped: count("skipped"), failedImages },
    rows,
  };
}

interface Origins {
  byPath: Map<string, WishlistOrigin>;
  byReference: Map<string, WishlistOrigin>;
}

function originsOf(record: RunRecord): Origins {
  const text = new Map((record.entries ?? []).map((e) => [`${e.file}:${e.line}`, e.text]));
  const origin = (file: string, line: number): WishlistOrigin => {
    const written = text.get(`${file}:${line}`);
    return { file, line, ...(written !== undefined ? { text: written } : {}) };
  };
  const byPath = new Map<string, WishlistOrigin>();
  for (const tag of record.tags ?? []) if (tag.file !== undefined && tag.line !== undefined) byPath.set(tag.publicPath, origin(tag.file, tag.line));
  const byReference = new Map<string, WishlistOrigin>();
  for (const f of record.failures ?? []) byReference.set(f.reference, origin(f.entry.file, f.entry.line));
  return { byPath, byReference };
}

function reportRow(row: SyncRow, origins: Origins): RunReportRow {
  const origin = (row.publicPath !== undefined ? origins.byPath.get(row.publicPath) : undefined) ?? origins.byReference.get(row.image);
  const error = row.error !== undefined ? splitError(row.error, origin) : undefined;
  return {
    image: row.image,
    ...(row.publicPath !== undefined ? { publicPath: row.publicPath } : {}),
    action: row.action,
    ...(row.digest !== undefined ? { digest: row.digest } : {}),
    ...(row.files !== undefined ? { files: row.files } : {}),
    ...(row.bytes !== undefined ? { bytes: row.bytes } : {}),
    ...(row.newBytes !== undefined ? { newBytes: row.newBytes } : {}),
    ...(row.seconds !== undefined ? { seconds: row.seconds } : {}),
    result: row.result,
    ...(error ? { error } : {}),
    ...(origin ? { origin } : {}),
  };
}

/**
 * `[E_REGISTRY] images.txt:3: HEAD … 404` → code and message; the `file:line: ` the executor puts
 * in front of a resolve failure goes, since the row says where it comes from on its own.
 */
export function splitError(text: string, origin?: WishlistOrigin): ReportError {
  const m = /^\[(E_[A-Z_]+)\] ([\s\S]*)$/.exec(text);
  if (!m) return { code: "E_INTERNAL", message: text };
  const where = origin ? `${origin.file}:${origin.line}: ` : undefined;
  const message = m[2] ?? "";
  return { code: m[1] ?? "E_INTERNAL", message: where !== undefined && message.startsWith(where) ? message.slice(where.length) : message };
}
