import { setMaxListeners } from "node:events";
import { AbortedError, GatewayError } from "../errors.js";
import { debug, info, silentLogger, warn, type Logger } from "../logger.js";
import { CatalogEditor } from "../cvmfs/catalog/editor.js";
import type { LocalContentStore } from "../cvmfs/objects/local-content-store.js";
import { catalogPath, parentPath } from "../cvmfs/catalog/md5-path.js";
import { RepositoryReader } from "../cvmfs/repository/repository-reader.js";
import type { AcquireOptions, GatewayClient } from "./gateway-client.js";
import type { PackFileObject } from "./object-pack.js";
import { listStagedObjects, missingObjects } from "./_staged-objects.js";

/** What {@link publishThroughGateway} needs. */
export interface GatewayPublishOptions {
  client: GatewayClient;
  fqrn: string;
  /** The stratum 0 over HTTP, `http://host/cvmfs/<fqrn>`: published state and object presence. */
  repoUrl: string;
  /** Master public key to check the manifest with (recommended). */
  pubkeyPath?: string;
  /** Repository path of the lease, as narrow as the change (e.g. `/.images/ab/cdef…`). */
  leasePath: string;
  /**
   * A fresh staging store for this publish: the caller's new objects (file contents, nested
   * catalogs from writeImageCatalogs) are already in it, new catalogs are written to it, and
   * every object in it that the repository lacks is uploaded.
   */
  staging: LocalContentStore;
  /** The change, made on an editor opened on the published root; only paths under the lease count. */
  edit: (editor: CatalogEditor) => Promise<void>;
  tagName?: string;
  tagDescription?: string;
  /** Commit attempts after the first, each on a new lease with the objects uploaded again (default 2). */
  commitRetries?: number;
  acquire?: Omit<AcquireOptions, "signal">;
  maxPackBytes?: number;
  maxObjects?: number;
  /** Parallel HEAD requests (default 16). */
  concurrency?: number;
  /** Drop the lease and stop on SIGINT/SIGTERM while it is held (default true). */
  handleSignals?: boolean;
  signal?: AbortSignal;
  logger?: Logger;
}

/** The outcome of a publish. */
export interface GatewayPublishResult {
  revision: number;
  /** The published root (the gateway's merge result, read back from the manifest). */
  rootHash: string;
  uploadedObjects: number;
  uploadedBytes: number;
}

/**
 * Publish one change through a gateway (cvmfs-formats.md §5, §8): take a lease on `leasePath`
 * (or, when its parent directory is missing, on the nearest missing ancestor, whose parent
 * exists: the gateway never creates ancestors of a lease, and creating them in the same commit
 * keeps a publish at one commit), read the published root C_O, apply
 * `edit` on it, write the new catalogs to the staging store, upload what the repository lacks,
 * commit C_O → C_N, and read the new root from the manifest.
 *
 * Whatever fails while a lease is held — an error, an abort, SIGINT/SIGTERM — the lease is
 * dropped before the error propagates, so no lease outlives a failed run. A failed commit
 * poisons the lease on the real gateway (§8.5): the publisher drops it, takes a new one,
 * uploads again and commits again, up to `commitRetries` times. A commit already sent is never
 * aborted: an interruption then returns the published result, and the caller stops after it.
 */
export async function publishThroughGateway(opts: GatewayPublishOptions): Promise<GatewayPublishResult> {
  const logger = opts.logger ?? silentLogger;
  const requested = catalogPath(opts.leasePath);
  const lease = requested === "" ? "" : await nearestLeasable(opts, requested);
  if (lease !== requested) debug(logger, "gateway.widen", `${opts.fqrn}${requested}: parent missing, leasing ${opts.fqrn}${lease || "/"}`);
  return withLease(opts, lease, async ({ token: tokenRef, signal, retake }) => {
    const reader = await RepositoryReader.open({ url: opts.repoUrl }, { fqrn: opts.fqrn, pubkeyPath: opts.pubkeyPath });
    let editor: CatalogEditor | undefined;
    try {
      const base = reader.manifest;
      editor = await CatalogEditor.open(base.catalogHash, reader.catalogLoader);
      await opts.edit(editor);
      const finished = await editor.finish(opts.staging, { revision: base.revision + 1 });
      const staged = await listStagedObjects(opts.staging.rootDir);
      const missing = await missingObjects(opts.repoUrl, staged, { concurrency: opts.concurrency, signal });
      info(logger, "gateway.upload", `uploading ${missing.length} of ${staged.length} staged object(s)`, {
        missing: missing.length,
        staged: staged.length,
      });
      const commit = { oldRootHash: `${base.catalogHash}C`, newRootHash: `${finished.rootHash}C`, tagName: opts.tagName, tagDescription: opts.tagDescription };
      let uploadedBytes = 0;
      let current = tokenRef();
      for (let attempt = 0; ; attempt++) {
        uploadedBytes += await upload(opts, current, missing, signal);
        // The publish window: an interruption before the commit leaves the old revision; once the
        // commit is sent it is let finish (not aborted mid-flight, which would leave the revision
        // unknown), so the caller learns the new revision and stops after it.
        signal.throwIfAborted();
        try {
          const revision = await opts.client.commit(current, commit);
          const after = await RepositoryReader.open({ url: opts.repoUrl }, { fqrn: opts.fqrn, pubkeyPath: opts.pubkeyPath });
          const rootHash = after.manifest.catalogHash;
          await after.close();
          info(logger, "gateway.published", `published revision ${revision} through ${opts.fqrn}${lease || "/"}`, { revision, rootHash });
          return { revision, rootHash, uploadedObjects: missing.length * (attempt + 1), uploadedBytes };
        } catch (err) {
          if (signal.aborted || !(err instanceof GatewayError) || attempt >= (opts.commitRetries ?? 2)) throw err;
          warn(logger, "gateway.commit_retry", `commit failed (${err.reason ?? err.message}); taking a new lease`, { attempt: attempt + 1 });
          current = await retake();
        }
      }
    } finally {
      editor?.close();
      await reader.close();
    }
  });
}

/** Upload `objects` under `token`, always at least one (possibly empty) pack so the lease has a payload. */
async function upload(opts: GatewayPublishOptions, token: string, objects: PackFileObject[], signal: AbortSignal): Promise<number> {
  if (objects.length === 0) return opts.client.submitPayload(token, [], signal);
  const r = await opts.client.upload(token, objects, { maxPackBytes: opts.maxPackBytes, maxObjects: opts.maxObjects, signal });
  return r.bytes;
}

/**
 * The path to lease for a change at `path`: `path` itself when its parent directory exists in the
 * published repository, else the nearest missing ancestor (whose own parent exists), so that the
 * change can create the missing directories inside its lease. The edit creates them (the catalog
 * editor makes parents as it goes). Only the first image of a new fan-out directory widens its
 * lease this way; disjoint images keep disjoint leases.
 */
async function nearestLeasable(opts: GatewayPublishOptions, path: string): Promise<string> {
  const reader = await RepositoryReader.open({ url: opts.repoUrl }, { fqrn: opts.fqrn, pubkeyPath: opts.pubkeyPath });
  try {
    let lease = path;
    for (let p = parentPath(path); p !== ""; p = parentPath(p)) {
      const e = await reader.lookup(p);
      if (e?.kind === "dir") break;
      lease = p;
    }
    return lease;
  } finally {
    await reader.close();
  }
}

/** A held lease, as {@link withLease} hands it over. */
interface LeaseContext {
  /** The current session token (changes after `retake`). */
  token(): string;
  signal: AbortSignal;
  /** Drop the lease and take a new one on the same path. */
  retake(): Promise<string>;
}

/**
 * Run `fn` holding a lease on `path`. `retake` drops the current lease and takes a new one (after
 * a failed commit). Unless `fn` commits successfully, the lease is dropped before returning or
 * rethrowing; SIGINT/SIGTERM during `fn` abort it with AbortedError after the drop.
 */
async function withLease<T>(
  opts: GatewayPublishOptions,
  path: string,
  fn: (lease: LeaseContext) => Promise<T>,
): Promise<T> {
  const logger = opts.logger ?? silentLogger;
  // An abort that came before the lease: take none (a listener added now would never fire).
  if (opts.signal?.aborted) throw new AbortedError(`not leasing ${opts.fqrn}${path || "/"}: interrupted`);
  const ac = new AbortController();
  // Every parallel HEAD and upload listens on this signal.
  setMaxListeners(0, ac.signal);
  const onAbort = () => ac.abort(opts.signal?.reason);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const onSignal = (sig: NodeJS.Signals) => {
    warn(logger, "gateway.interrupted", `${sig} received: dropping the lease on ${opts.fqrn}${path || "/"}`);
    ac.abort(new AbortedError(`interrupted by ${sig}`));
  };
  const handleSignals = opts.handleSignals ?? true;
  if (handleSignals) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  let token: string | undefined;
  let committed = false;
  try {
    token = await opts.client.acquire(opts.fqrn, path || "/", { ...opts.acquire, signal: ac.signal });
    const retake = async (): Promise<string> => {
      const old = token as string;
      token = undefined;
      await opts.client.drop(old).catch(() => undefined);
      token = await opts.client.acquire(opts.fqrn, path || "/", { ...opts.acquire, signal: ac.signal });
      return token;
    };
    const result = await fn({ token: () => token as string, signal: ac.signal, retake });
    committed = true;
    return result;
  } catch (err) {
    if (ac.signal.aborted && ac.signal.reason instanceof AbortedError) throw ac.signal.reason;
    throw err;
  } finally {
    if (!committed && token !== undefined) {
      await opts.client.drop(token).catch((e: unknown) =>
        warn(logger, "gateway.drop_failed", `could not drop the lease on ${opts.fqrn}${path || "/"}: ${(e as Error).message}`),
      );
    }
    if (handleSignals) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    opts.signal?.removeEventListener("abort", onAbort);
  }
}
