import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debrisPrefix, sweepDebris, sweepTempDirOnce } from "../../debris.js";
import { ConflictError, describeError, RepositoryError, ToolError } from "../../errors.js";
import { info, silentLogger, type Logger } from "../../logger.js";
import type { HashAlgorithm } from "../../content/content-store.js";
import type { LocalContentStore } from "../objects/local-content-store.js";
import { openCatalog } from "../catalog/reader.js";
import { parseHashString } from "../objects/hash.js";
import { addHistoryTag, createHistory, genericTagName, type HistoryTag } from "./history.js";
import { loadOrCreateKeys, type RepositoryKeys } from "./keys.js";
import { DEFAULT_TTL, parseManifest, ROOT_PATH_MD5, type Manifest } from "./manifest.js";
import type { ReflogType } from "./reflog.js";
import { splitLetter, verifyWhitelistLetter } from "./signing.js";
import { fetchVerifiedObject, inflateObject } from "./_object-fetch.js";
import { acquireLock, type LockHandle } from "../../lock-file.js";
import { openSource, type RepositorySource } from "./_repository-source.js";
import { createStratum0Store, emptyRootCatalog } from "./_stratum0-parts.js";
import {
  recoverReflog,
  REFLOG_BACKUP,
  refreshWhitelist,
  commitReflog,
  stageReflog,
  type StagedReflog,
  restoreReflog,
  txnPath,
  writeManifest,
} from "./_stratum0-files.js";

/** The steps of a publish, in order; a fault hook may throw after any of them. */
export type PublishStep = "objects" | "history" | "reflog" | "whitelist" | "manifest";

export interface Stratum0Options {
  fqrn: string;
  /** Directory of `<fqrn>.masterkey`/`.pub`/`.key`/`.crt`; created with new keys when empty. */
  keysDir: string;
  /** For a new repository; an existing one keeps the algorithm of its root catalog. Default sha1. */
  hashAlgorithm?: HashAlgorithm;
  logger?: Logger;
  /** How long to wait for another publisher's lock. Default 60 s. */
  lockTimeoutMs?: number;
  /** Called after each publish step; throwing there aborts the publish (tests simulate crashes with it). */
  faultHook?: (step: PublishStep) => void | Promise<void>;
  /** Clock; default `new Date()`. */
  now?: () => Date;
}

export interface PublishOptions {
  /** Root catalog hash (no suffix); the catalog and everything it references are already in the store. */
  rootHash: string;
  /** Uncompressed root catalog size (manifest B). */
  rootSize: number;
  tagName?: string;
  tagDescription?: string;
  /** Expected revision; the root catalog's `revision` property decides, this only double-checks it. */
  revision?: number;
  /** Refuse to publish unless the published root is still this one (optimistic concurrency). */
  baseRootHash?: string;
}

/** What {@link Stratum0.resign} changes: history (`H`, in the store; none when undefined), reflog, `G`. */
export interface ResignOptions {
  /** Refuse unless the published root is still this one (the caller planned against it). */
  baseRootHash: string;
  historyHash: string | undefined;
  /** Hashes to remove from the reflog: objects about to be deleted. */
  dropRefs: ReadonlySet<string>;
  garbageCollectable: boolean;
}

const LOCK_FILE = ".cvmfs_publish.lock";

/**
 * A local stratum 0: the repository directory itself (`.cvmfspublished`, `data/`, …), created
 * as `cvmfs_server mkfs` would and published to transactionally. A publish adds objects only
 * (history, certificate), re-signs `.cvmfswhitelist` when due (valid for the old manifest too),
 * stages the new reflog under `data/txn`, and then renames the reflog and the signed manifest
 * into place back to back. A crash before those renames leaves the previous revision exactly as
 * it was; a crash between them (two renames apart) is repaired by the next `openOrCreate`, which
 * puts back the reflog the manifest's `Y` names.
 */
export class Stratum0 {
  private tmp: Promise<string> | null = null;
  private readonly catalogs = new Map<string, Promise<string>>();
  private lockDepth = 0;
  private lock: LockHandle | null = null;
  private readonly source: RepositorySource;
  private readonly logger: Logger;
  private readonly now: () => Date;

  private constructor(
    readonly dir: string,
    readonly fqrn: string,
    readonly hashAlgorithm: HashAlgorithm,
    readonly store: LocalContentStore,
    readonly keys: RepositoryKeys,
    private current: Manifest,
    private readonly opts: Stratum0Options,
  ) {
    this.source = openSource({ dir });
    this.logger = opts.logger ?? silentLogger;
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * Open the stratum 0 at `dir`, creating it when it has no `.cvmfspublished` yet: skeleton,
   * keys (in `keysDir`), certificate object, empty root catalog (revision 0), empty history,
   * reflog, whitelist, `.cvmfs_master_replica` and the signed manifest, the manifest last.
   * An existing repository must have been signed by the master key in `keysDir`.
   */
  static async openOrCreate(dir: string, opts: Stratum0Options): Promise<Stratum0> {
    const keys = await loadOrCreateKeys(opts.keysDir, opts.fqrn);
    const existed = await stat(dir).then(() => true, () => false);
    await mkdir(dir, { recursive: true });
    const lock = await acquireLock(join(dir, LOCK_FILE), { timeoutMs: opts.lockTimeoutMs, logger: opts.logger }).catch(async (err: unknown) => {
      if (!existed) await rm(dir, { recursive: true, force: true });
      throw err;
    });
    try {
      await sweepLeftovers(dir, opts.logger ?? silentLogger);
      const bytes = await readFile(join(dir, ".cvmfspublished")).catch(() => null);
      if (bytes === null) {
        // Never scatter a repository over an unrelated directory (a mistyped --stratum0).
        const foreign = (await readdir(dir)).filter((n) => n !== "data" && !n.startsWith(".cvmfs"));
        if (foreign.length > 0) {
          throw new RepositoryError(`${dir} is neither a stratum 0 nor empty (it holds ${foreign.slice(0, 3).join(", ")})`);
        }
        const before = new Set(await readdir(dir));
        let s0: Stratum0 | undefined;
        try {
          const algo = opts.hashAlgorithm ?? "sha1";
          const store = await createStratum0Store(dir, algo);
          s0 = new Stratum0(dir, opts.fqrn, algo, store, keys, placeholderManifest(), opts);
          s0.current = await failsAs(`create repository ${opts.fqrn} in ${dir}`, s0.create());
          return s0;
        } catch (err) {
          // Created whole or not at all: a failed creation takes back what it made.
          await s0?.close();
          if (!existed) await rm(dir, { recursive: true, force: true });
          else for (const n of await readdir(dir)) if (!before.has(n) && n !== LOCK_FILE) await rm(join(dir, n), { recursive: true, force: true });
          throw err;
        }
      }
      const { manifest } = parseManifest(bytes);
      if (manifest.fqrn !== opts.fqrn) {
        throw new RepositoryError(`${dir} holds repository "${manifest.fqrn ?? ""}", not "${opts.fqrn}"`);
      }
      const algo = parseHashString(manifest.catalogHash).algorithm;
      const store = await createStratum0Store(dir, algo);
      const s0 = new Stratum0(dir, opts.fqrn, algo, store, keys, manifest, opts);
      await s0.checkMasterKey();
      if (await recoverReflog(s0, manifest)) {
        info(s0.logger, "stratum0.recover", "restored the reflog of the published revision after an interrupted publish");
      }
      return s0;
    } finally {
      await lock.release();
    }
  }

  /** The manifest as this instance last read or published it (see {@link refresh}). */
  manifest(): Manifest {
    return { ...this.current };
  }

  /** Re-read `.cvmfspublished`, e.g. after another publisher moved the repository on. */
  async refresh(): Promise<Manifest> {
    this.current = parseManifest(await readFile(join(this.dir, ".cvmfspublished"))).manifest;
    return this.manifest();
  }

  /** Hash → decompressed SQLite file of a catalog in this stratum 0 (hash-checked, cached). */
  readonly catalogLoader = (hash: string): Promise<string> => {
    let p = this.catalogs.get(hash);
    if (!p) {
      p = (async () => {
        this.tmp ??= mkdtemp(join(tmpdir(), debrisPrefix("cvmfs-s0-catalogs")));
        const file = join(await this.tmp, `${hash}.sqlite`);
        await writeFile(file, inflateObject(await fetchVerifiedObject(this.source, hash, "C"), `catalog ${hash}`));
        return file;
      })();
      this.catalogs.set(hash, p);
      p.catch(() => this.catalogs.delete(hash));
    }
    return p;
  };

  /** Run `fn` holding the publish lock (re-entrant within this instance), e.g. build catalogs + publish. */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    if (this.lockDepth === 0) this.lock = await acquireLock(join(this.dir, LOCK_FILE), { timeoutMs: this.opts.lockTimeoutMs, logger: this.logger });
    this.lockDepth++;
    try {
      return await fn();
    } finally {
      if (--this.lockDepth === 0) {
        await this.lock?.release();
        this.lock = null;
      }
    }
  }

  /**
   * Publish a new root catalog: history (new tag, `H` object), reflog (staged), whitelist when
   * due, then the reflog and the signed manifest by rename. The revision is the root catalog's `revision` property and
   * must be newer than the published one. Returns the new manifest.
   */
  publish(p: PublishOptions): Promise<Manifest> {
    return failsAs(`publish to ${this.dir}`, this.withLock(async () => {
      const bytes = await readFile(join(this.dir, ".cvmfspublished"));
      const current = parseManifest(bytes).manifest;
      if (p.baseRootHash !== undefined && p.baseRootHash !== current.catalogHash) {
        throw new ConflictError(`publish conflict: the published root is ${current.catalogHash}, not ${p.baseRootHash}`);
      }
      if (!(await this.store.has(p.rootHash, "C"))) throw new RepositoryError(`root catalog ${p.rootHash}C is not in the store`);
      const reader = openCatalog(await this.catalogLoader(p.rootHash));
      const props = reader.properties();
      reader.close();
      const revision = props.revision !== undefined ? Number(props.revision) : (p.revision ?? current.revision + 1);
      if (p.revision !== undefined && p.revision !== revision) {
        throw new RepositoryError(`root catalog has revision ${revision}, expected ${p.revision}`);
      }
      if (!(revision > current.revision)) {
        throw new RepositoryError(`root catalog revision ${revision} is not newer than the published revision ${current.revision}`);
      }
      const now = this.now();
      const ts = Math.floor(now.getTime() / 1000);
      await this.fault("objects");

      const historyHash = await this.nextHistory(current.historyHash, {
        name: p.tagName ?? genericTagName(now),
        hash: p.rootHash,
        revision,
        timestamp: ts,
        channel: 0,
        description: p.tagDescription ?? "",
        size: p.rootSize,
        branch: "",
      });
      await this.fault("history");

      const certificateHash = await this.store.putBuffer(Buffer.from(this.keys.certificatePem), "X");
      const reflog = await stageReflog(this, [
        { hash: p.rootHash, type: "catalog" },
        { hash: certificateHash, type: "certificate" },
        { hash: historyHash, type: "history" },
      ], now);
      await this.install(reflog, now, {
        ...current,
        catalogHash: p.rootHash,
        catalogSize: p.rootSize,
        ttl: props.TTL !== undefined ? Number(props.TTL) : DEFAULT_TTL,
        revision,
        fqrn: this.fqrn,
        certificateHash,
        historyHash,
        publishTimestamp: ts,
        reflogHash: reflog.hash,
      });
      info(this.logger, "stratum0.publish", `published revision ${revision} of ${this.fqrn}`, {
        revision,
        rootHash: p.rootHash,
      });
      return this.manifest();
    }));
  }

  /**
   * Re-sign the published revision with another history and a pruned reflog (garbage collection,
   * before it deletes anything): root catalog, revision and `T` stay. Installed as a publish is,
   * so a crash leaves the old or the new manifest whole. Returns the new manifest.
   */
  resign(p: ResignOptions): Promise<Manifest> {
    return this.withLock(async () => {
      const current = parseManifest(await readFile(join(this.dir, ".cvmfspublished"))).manifest;
      if (p.baseRootHash !== current.catalogHash) throw new RepositoryError(`resign conflict: the published root is ${current.catalogHash}, not ${p.baseRootHash}`);
      if (p.historyHash && !(await this.store.has(p.historyHash, "H"))) throw new RepositoryError(`history ${p.historyHash}H is not in the store`);
      const now = this.now();
      const certificateHash = await this.store.putBuffer(Buffer.from(this.keys.certificatePem), "X");
      const refs: { hash: string; type: ReflogType }[] = [{ hash: current.catalogHash, type: "catalog" }, { hash: certificateHash, type: "certificate" }];
      if (p.historyHash) refs.push({ hash: p.historyHash, type: "history" });
      if (current.metainfoHash) refs.push({ hash: current.metainfoHash, type: "metainfo" });
      const reflog = await stageReflog(this, refs, now, p.dropRefs);
      const next: Manifest = { ...current, fqrn: this.fqrn, certificateHash, historyHash: p.historyHash, garbageCollectable: p.garbageCollectable, reflogHash: reflog.hash };
      await this.install(reflog, now, next);
      info(this.logger, "stratum0.resign", `re-signed revision ${current.revision} of ${this.fqrn}`, { revision: current.revision });
      return this.manifest();
    });
  }

  /** Remove temporary catalog copies. */
  async close(): Promise<void> {
    if (this.tmp) await rm(await this.tmp, { recursive: true, force: true });
    this.tmp = null;
    this.catalogs.clear();
    await this.source.close();
  }

  /** Whitelist when due, then the staged reflog and the signed manifest by rename; the reflog is put back on failure. */
  private async install(reflog: StagedReflog, now: Date, next: Manifest): Promise<void> {
    let reflogLive = false;
    try {
      await this.fault("reflog");
      await refreshWhitelist(this, now, false);
      await this.fault("whitelist");
      await writeManifest(this, next, async () => {
        await this.fault("manifest");
        await commitReflog(this, reflog);
        reflogLive = true;
      });
      this.current = next;
    } catch (err) {
      if (reflogLive) await restoreReflog(this.dir);
      throw err;
    } finally {
      await rm(reflog.path, { force: true });
    }
    await rm(join(this.dir, REFLOG_BACKUP), { force: true });
  }

  private async fault(step: PublishStep): Promise<void> {
    await this.opts.faultHook?.(step);
  }

  private async create(): Promise<Manifest> {
    const now = this.now();
    const ts = Math.floor(now.getTime() / 1000);
    const certificateHash = await this.store.putBuffer(Buffer.from(this.keys.certificatePem), "X");
    const root = await emptyRootCatalog(this.store, this.catalogLoader, ts);
    // Every branch of a history needs a tag, or `cvmfs_swissknife check` reports "unused, dangling
    // branches stored": tag revision 0 on the default branch, as mkfs's initial commit leaves it.
    const historyHash = await this.nextHistory(undefined, {
      name: genericTagName(now),
      hash: root.hash,
      revision: 0,
      timestamp: ts,
      channel: 0,
      description: "empty repository",
      size: root.size,
      branch: "",
    });
    await rm(join(this.dir, ".cvmfsreflog"), { force: true });
    const reflog = await stageReflog(this, [
      { hash: root.hash, type: "catalog" },
      { hash: certificateHash, type: "certificate" },
      { hash: historyHash, type: "history" },
    ], now);
    await commitReflog(this, reflog);
    const reflogHash = reflog.hash;
    await refreshWhitelist(this, now, true);
    await writeFile(join(this.dir, ".cvmfs_master_replica"), "This file marks the repository as replicatable to stratum 1 servers\n");
    const manifest: Manifest = {
      catalogHash: root.hash,
      catalogSize: root.size,
      rootPathHash: ROOT_PATH_MD5,
      ttl: DEFAULT_TTL,
      revision: 0,
      garbageCollectable: false,
      alternativePath: false,
      fqrn: this.fqrn,
      certificateHash,
      historyHash,
      publishTimestamp: ts,
      reflogHash,
    };
    await writeManifest(this, manifest);
    await rm(join(this.dir, REFLOG_BACKUP), { force: true });
    info(this.logger, "stratum0.create", `created repository ${this.fqrn} in ${this.dir}`, { fqrn: this.fqrn });
    return manifest;
  }

  /** A new history object: the previous one plus `tag` (or a fresh empty history). */
  private async nextHistory(previous: string | undefined, tag: HistoryTag): Promise<string> {
    const file = await txnPath(this.dir, "history");
    try {
      if (previous) await writeFile(file, inflateObject(await fetchVerifiedObject(this.source, previous, "H"), "history"));
      else createHistory(file, this.fqrn);
      addHistoryTag(file, tag, previous);
      return await this.store.putBuffer(await readFile(file), "H");
    } catch (err) {
      if (err instanceof ToolError) throw err;
      throw new RepositoryError(`write history of ${this.fqrn} in ${file}: ${describeError(err)}`, { cause: err });
    } finally {
      await rm(file, { force: true });
    }
  }

  private async checkMasterKey(): Promise<void> {
    const bytes = await readFile(join(this.dir, ".cvmfswhitelist")).catch(() => null);
    const letter = bytes && splitLetter(bytes);
    if (!letter) return; // re-signed on the next publish
    try {
      verifyWhitelistLetter(letter, [this.keys.masterPublicKey]);
    } catch {
      throw new RepositoryError(`the master key in ${this.opts.keysDir} did not sign the whitelist of ${this.dir}`);
    }
  }
}

function placeholderManifest(): Manifest {
  return { catalogHash: "", catalogSize: 0, rootPathHash: ROOT_PATH_MD5, ttl: DEFAULT_TTL, revision: 0, garbageCollectable: false, alternativePath: false };
}

/**
 * What a failure not raised on purpose (SQLite finding the disk full, a rename refused) becomes:
 * a RepositoryError naming what failed and, through its cause, why.
 */
async function failsAs<T>(what: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof ToolError) throw err;
    throw new RepositoryError(`${what}: ${describeError(err)}`, { cause: err });
  }
}

/**
 * Remove what killed runs left: temp files under `data/txn` (never the reflog backup an
 * interrupted publish is repaired from), half-made lock files, catalog copies in the temp
 * directory. Only debris provably of dead processes, or unchanged for a day (see debris.ts).
 */
async function sweepLeftovers(dir: string, logger: Logger): Promise<void> {
  const removed = [
    ...(await sweepDebris(join(dir, "data", "txn"), { match: (n) => `data/txn/${n}` !== REFLOG_BACKUP })),
    ...(await sweepDebris(dir, { match: (n) => n.startsWith(".cvmfs-lock") })),
    ...(await sweepTempDirOnce()),
  ];
  if (removed.length > 0) info(logger, "stratum0.sweep", `removed ${removed.length} leftover(s) of interrupted runs`, { removed: removed.length });
}
