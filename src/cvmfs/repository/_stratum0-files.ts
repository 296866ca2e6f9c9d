import { link, mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { HashAlgorithm } from "../../content/content-store.js";
import { debrisName } from "../../debris.js";
import { hashBytes } from "../objects/hash.js";
import type { RepositoryKeys } from "./keys.js";
import { formatManifest, type Manifest } from "./manifest.js";
import { addReflogRefs, createReflog, removeReflogRefs, type ReflogType } from "./reflog.js";
import { signManifestBody } from "./signing.js";
import { certificateFingerprint, createWhitelist, parseWhitelist } from "./whitelist.js";

/**
 * The mutable files of a stratum 0 (`.cvmfsreflog`, `.cvmfswhitelist`, `.cvmfspublished`), each
 * replaced whole: written under `data/txn` (same filesystem), fsynced, renamed into place.
 */
export interface RepoFilesContext {
  dir: string;
  fqrn: string;
  hashAlgorithm: HashAlgorithm;
  keys: RepositoryKeys;
}

/** Where the reflog the published manifest names is kept while a publish replaces it. */
export const REFLOG_BACKUP = "data/txn/reflog.prev";
/** Re-sign the whitelist when fewer days than this remain (it is signed for 30). */
const WHITELIST_RESIGN_DAYS = 7;

/** A fresh temp path in `data/txn`, named so the next run can sweep it should this process die (debris.ts). */
export async function txnPath(dir: string, what: string): Promise<string> {
  const txn = join(dir, "data", "txn");
  await mkdir(txn, { recursive: true });
  return join(txn, debrisName(what));
}

/** Write to `data/txn`, fsync, run `beforeRename` (a fault point), then rename over `path`. */
export async function writeRenamed(dir: string, path: string, bytes: Buffer, beforeRename?: () => Promise<void>): Promise<void> {
  const tmp = await txnPath(dir, "file");
  try {
    const fh = await open(tmp, "w", 0o644);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await beforeRename?.();
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** A new reflog written under `data/txn`, not yet live. */
export interface StagedReflog {
  path: string;
  /** Its hash: the new manifest's `Y`. */
  hash: string;
}

/** Copy the live reflog (or start one) under `data/txn`, remove `drop` and add `refs`; the live file is untouched. */
export async function stageReflog(ctx: RepoFilesContext, refs: { hash: string; type: ReflogType }[], now: Date, drop: ReadonlySet<string> = new Set()): Promise<StagedReflog> {
  const live = join(ctx.dir, ".cvmfsreflog");
  const path = await txnPath(ctx.dir, "reflog");
  try {
    const old = await readFile(live).catch(() => null);
    if (old) await writeFile(path, old);
    else createReflog(path, ctx.fqrn);
    if (drop.size > 0) removeReflogRefs(path, drop);
    addReflogRefs(path, refs, now);
    return { path, hash: hashBytes(await readFile(path), ctx.hashAlgorithm) };
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
}

/**
 * Make a staged reflog live: the current one is hard-linked to {@link REFLOG_BACKUP} first, so
 * a crash before the manifest follows can be undone by {@link recoverReflog}. Called right
 * before the manifest's own rename, which keeps the window between the two as short as it gets.
 */
export async function commitReflog(ctx: RepoFilesContext, staged: StagedReflog): Promise<void> {
  const live = join(ctx.dir, ".cvmfsreflog");
  await rm(join(ctx.dir, REFLOG_BACKUP), { force: true });
  await link(live, join(ctx.dir, REFLOG_BACKUP)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
  await rename(staged.path, live);
}

/** Undo {@link commitReflog} after a failed publish. */
export async function restoreReflog(dir: string): Promise<void> {
  await rename(join(dir, REFLOG_BACKUP), join(dir, ".cvmfsreflog")).catch(() => undefined);
}

/**
 * After a crash between the reflog and the manifest, put back the reflog the manifest's `Y`
 * names. Returns whether anything was restored.
 */
export async function recoverReflog(ctx: RepoFilesContext, m: Manifest): Promise<boolean> {
  const live = await readFile(join(ctx.dir, ".cvmfsreflog")).catch(() => null);
  if (!m.reflogHash || (live && hashBytes(live, ctx.hashAlgorithm) === m.reflogHash)) return false;
  const backup = await readFile(join(ctx.dir, REFLOG_BACKUP)).catch(() => null);
  if (!backup || hashBytes(backup, ctx.hashAlgorithm) !== m.reflogHash) return false;
  await rename(join(ctx.dir, REFLOG_BACKUP), join(ctx.dir, ".cvmfsreflog"));
  return true;
}

/**
 * Sign a new whitelist when `force`, or when the current one is missing, unreadable, expires
 * within 7 days, names another repository or does not list our certificate. A new whitelist is
 * valid for the published manifest too (same certificate), so it may be replaced before it.
 */
export async function refreshWhitelist(ctx: RepoFilesContext, now: Date, force: boolean): Promise<void> {
  const path = join(ctx.dir, ".cvmfswhitelist");
  if (!force) {
    const bytes = await readFile(path).catch(() => null);
    try {
      if (bytes) {
        const wl = parseWhitelist(bytes);
        const fp = certificateFingerprint(ctx.keys.certificateDer, ctx.hashAlgorithm);
        const left = wl.expires.getTime() - now.getTime();
        if (left > WHITELIST_RESIGN_DAYS * 86_400_000 && wl.fingerprints.includes(fp) && wl.fqrn === ctx.fqrn) return;
      }
    } catch {
      // unreadable: sign a new one
    }
  }
  const bytes = createWhitelist({
    fqrn: ctx.fqrn,
    certificateDer: ctx.keys.certificateDer,
    masterKey: ctx.keys.masterKey,
    hashAlgorithm: ctx.hashAlgorithm,
    now,
  });
  await writeRenamed(ctx.dir, path, bytes);
}

/** Sign `m` with the certificate key and rename it in as `.cvmfspublished`. */
export async function writeManifest(ctx: RepoFilesContext, m: Manifest, beforeRename?: () => Promise<void>): Promise<void> {
  const signed = signManifestBody(Buffer.from(formatManifest(m)), ctx.keys.certificateKey, ctx.hashAlgorithm);
  await writeRenamed(ctx.dir, join(ctx.dir, ".cvmfspublished"), signed, beforeRename);
}
