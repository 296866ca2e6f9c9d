import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { RepositoryError, SignatureError, SizeMismatchError } from "../../errors.js";
import type { ObjectSuffix } from "../../content/content-store.js";
import type { NestedRow } from "../catalog/db.js";
import type { CatalogLoader } from "../catalog/editor.js";
import { openCatalog, type CatalogReader } from "../catalog/reader.js";
import type { CatalogEntry } from "../catalog/row.js";
import { fetchVerifiedObject, inflateObject, openVerifiedObject } from "./_object-fetch.js";
import { openSource, type RepositorySource, type SourceSpec } from "./_repository-source.js";
import { loadPublicKey } from "./keys.js";
import { parseManifest, ROOT_PATH_MD5, type Manifest } from "./manifest.js";
import { verifyManifestLetter } from "./signing.js";
import { verifyWhitelist } from "./whitelist.js";
import { catalogPath } from "../catalog/md5-path.js";
import { debrisPrefix } from "../../debris.js";
import { resolveRepositoryPath } from "./variant-symlink.js";

/** A catalog entry together with its repository path (`""` for the root). */
export type RepositoryEntry = CatalogEntry & { path: string };
export type { SourceSpec } from "./_repository-source.js";


export interface RepositoryReaderOptions {
  fqrn: string;
  /** Master public key (`<fqrn>.pub`): when given, the manifest signature and whitelist chain are checked. */
  pubkeyPath?: string;
  /** Where decompressed catalogs go; default a fresh directory under the OS temp dir. */
  tmpDir?: string;
  /** Clock for the whitelist expiry check. */
  now?: Date;
}

/**
 * Read a published repository, from a stratum 0 directory or over HTTP, trusting nothing it has
 * not checked: the manifest's name and root path always, its signature and whitelist chain when
 * a master key is given, and the hash of every object fetched. Catalogs are inflated to temp
 * files (removed by `close()`), and paths are resolved through nested catalogs as the client does.
 */
export class RepositoryReader {
  private readonly catalogFiles = new Map<string, Promise<string>>();
  private readonly views = new Map<string, CatalogReader>();
  private readonly nestedRows = new Map<string, Map<string, NestedRow>>();
  private tmp: Promise<string> | null = null;

  private constructor(
    private readonly source: RepositorySource,
    readonly manifest: Manifest,
    private readonly opts: RepositoryReaderOptions,
  ) {}

  /** Fetch and check the manifest (see {@link readCheckedManifest}); throws RepositoryError / SignatureError. */
  static async open(spec: SourceSpec, opts: RepositoryReaderOptions): Promise<RepositoryReader> {
    const source = openSource(spec);
    try {
      const manifest = await readCheckedManifest(source, opts);
      return new RepositoryReader(source, manifest, opts);
    } catch (err) {
      await source.close();
      throw err;
    }
  }

  /** The stored (compressed) bytes of an object, hash-checked. */
  fetchObject(hash: string, suffix: ObjectSuffix): Promise<Buffer> {
    return fetchVerifiedObject(this.source, hash, suffix);
  }

  /** Raw bytes of a non-object file (`.cvmfswhitelist`, `.cvmfsreflog`); null when absent. */
  fetchFile(rel: string): Promise<Buffer | null> {
    return this.source.getBytes(rel);
  }

  /** Loader for the catalog editor: hash → decompressed SQLite file (cached per reader). */
  readonly catalogLoader: CatalogLoader = (hash) => {
    let p = this.catalogFiles.get(hash);
    if (!p) {
      p = this.loadCatalog(hash);
      this.catalogFiles.set(hash, p);
      p.catch(() => this.catalogFiles.delete(hash));
    }
    return p;
  };

  private async loadCatalog(hash: string): Promise<string> {
    this.tmp ??= mkdtemp(join(this.opts.tmpDir ?? tmpdir(), debrisPrefix("cvmfs-catalogs")));
    const dir = await this.tmp;
    const bytes = inflateObject(await this.fetchObject(hash, "C"), `catalog ${hash}`);
    const file = join(dir, `${hash}.sqlite`);
    await writeFile(file, bytes);
    return file;
  }

  /** An open reader of a catalog by hash (kept open until `close()`). */
  async catalog(hash: string): Promise<CatalogReader> {
    let v = this.views.get(hash);
    if (!v) {
      v = openCatalog(await this.catalogLoader(hash));
      this.views.set(hash, v);
    }
    return v;
  }

  /**
   * The catalog holding `path` (the deepest nested catalog whose mountpoint is `path` or above it).
   * Each hop checks the ancestors of `path` below the current mountpoint against that catalog's
   * nested rows, kept by path: a lookup costs the path's depth, not the number of nested catalogs
   * (a repository's images root mounts thousands).
   */
  async catalogFor(path: string): Promise<{ view: CatalogReader; hash: string; mountpoint: string }> {
    const p = catalogPath(path);
    let hash = this.manifest.catalogHash;
    let mountpoint = "";
    for (;;) {
      const view = await this.catalog(hash);
      const nested = this.nestedByPath(hash, view);
      let next: NestedRow | undefined;
      for (let at = p.indexOf("/", mountpoint.length + 1); next === undefined; at = p.indexOf("/", at + 1)) {
        next = nested.get(at < 0 ? p : p.slice(0, at));
        if (at < 0) break;
      }
      if (!next) return { view, hash, mountpoint };
      hash = next.hash;
      mountpoint = next.path;
    }
  }

  private nestedByPath(hash: string, view: CatalogReader): ReadonlyMap<string, NestedRow> {
    let rows = this.nestedRows.get(hash);
    if (!rows) {
      rows = new Map(view.nested().map((n) => [n.path, n]));
      this.nestedRows.set(hash, rows);
    }
    return rows;
  }

  /** The entry at `path`, or null. A nested mountpoint resolves to the child catalog's root entry. */
  async lookup(path: string): Promise<RepositoryEntry | null> {
    const p = catalogPath(path);
    const { view } = await this.catalogFor(p);
    const e = view.lookup(p);
    return e ? { ...e, path: p } : null;
  }

  /** The children of a directory, sorted by name. Throws RepositoryError when `path` is not a directory. */
  async listing(path: string): Promise<RepositoryEntry[]> {
    const p = catalogPath(path);
    const entry = await this.lookup(p);
    if (entry?.kind !== "dir") throw new RepositoryError(`${p || "/"} is not a directory in the repository`);
    return (await this.catalogFor(p)).view.listing(p).map((e) => ({ ...e, path: `${p}/${e.name}` }));
  }

  /** Target of a symlink. */
  async readlink(path: string): Promise<string> {
    const entry = await this.lookup(path);
    if (entry?.kind !== "symlink") throw new RepositoryError(`${path} is not a symlink in the repository`);
    return entry.symlink;
  }

  /**
   * The path `path` leads to on a client whose environment is `env`: every symlink followed, with
   * variant targets (`$(CVMFS_ARCH)`) expanded as the client expands them; e.g. with
   * `{ CVMFS_ARCH: "aarch64" }` a per-architecture name resolves to the arm64 image directory.
   * Absolute targets count as inside the repository when they start with `/cvmfs/<repo>`.
   */
  async resolvePath(path: string, env: Readonly<Record<string, string | undefined>> = {}, mountpoint?: string): Promise<string> {
    return resolveRepositoryPath(path, (p) => this.lookup(p), env, mountpoint);
  }

  /**
   * The bytes of a regular file (chunks concatenated in offset order), every object hash-checked
   * while it streams; the stream errors on a missing object, a bad hash or a wrong size.
   */
  readFile(path: string): Readable {
    const out = new PassThrough();
    this.pipeFile(path, out).catch((err: unknown) => out.destroy(err as Error));
    return out;
  }

  private async pipeFile(path: string, out: PassThrough): Promise<void> {
    const { view } = await this.catalogFor(path);
    const entry = view.lookup(path);
    if (entry?.kind !== "file") throw new RepositoryError(`${path} is not a regular file in the repository`);
    const pieces = entry.isChunked
      ? view.chunks(path).map((c) => ({ hash: c.hash, suffix: "P" as const, size: c.size }))
      : entry.hash === null
        ? []
        : [{ hash: entry.hash, suffix: "" as const, size: entry.size }];
    if (pieces.length === 0 && entry.size > 0) throw new RepositoryError(`${path}: regular file without content hash`);
    let total = 0;
    for (const piece of pieces) {
      const stream = await openVerifiedObject(this.source, piece.hash, piece.suffix, piece.size, entry.compression);
      // A loop rather than pipeline(…, { end: false }), which leaves listeners on `out` per piece.
      for await (const chunk of stream) {
        if (out.destroyed) {
          stream.destroy();
          return;
        }
        if (!out.write(chunk)) await drainOrClose(out);
      }
      total += piece.size;
    }
    if (total !== entry.size) throw new SizeMismatchError(`file ${path}`, entry.size, total);
    out.end();
  }

  /** Every entry of the repository, depth first, parents before children, nested catalogs included. */
  async *walk(path = ""): AsyncGenerator<RepositoryEntry> {
    const entry = await this.lookup(path);
    if (!entry) return;
    yield entry;
    if (entry.kind !== "dir") return;
    for (const child of await this.listing(path)) {
      if (child.kind === "dir") yield* this.walk(child.path);
      else yield child;
    }
  }

  /** Close catalog files, remove the temp directory, release HTTP connections. */
  async close(): Promise<void> {
    for (const v of this.views.values()) v.close();
    this.views.clear();
    this.nestedRows.clear();
    if (this.tmp) await rm(await this.tmp, { recursive: true, force: true });
    this.tmp = null;
    await this.source.close();
  }
}

/**
 * Fetch and check `.cvmfspublished` as the client's `DoVerify` does: name, root path, and with a
 * master key also the certificate (`X`), the signature and the whitelist that lists the certificate.
 */
export async function readCheckedManifest(source: RepositorySource, opts: RepositoryReaderOptions): Promise<Manifest> {
  const bytes = await source.getBytes(".cvmfspublished");
  if (bytes === null) throw new RepositoryError(`no repository at ${source.description}: .cvmfspublished is missing`);
  const { manifest, letter } = parseManifest(bytes);
  if (manifest.fqrn !== opts.fqrn) {
    throw new RepositoryError(`manifest names repository "${manifest.fqrn ?? ""}", expected "${opts.fqrn}"`);
  }
  if (manifest.rootPathHash !== ROOT_PATH_MD5) throw new RepositoryError(`manifest root path hash ${manifest.rootPathHash} is not MD5("")`);
  if (opts.pubkeyPath === undefined) return manifest;

  if (!letter) throw new SignatureError("manifest is not signed");
  if (!manifest.certificateHash) throw new SignatureError("manifest names no certificate (X)");
  const pem = inflateObject(await fetchVerifiedObject(source, manifest.certificateHash, "X"), "certificate");
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (cause) {
    throw new SignatureError("certificate object is not a PEM X.509 certificate", { cause });
  }
  verifyManifestLetter(letter, cert.publicKey);
  const whitelist = await source.getBytes(".cvmfswhitelist");
  if (whitelist === null) throw new SignatureError(".cvmfswhitelist is missing");
  verifyWhitelist(whitelist, {
    fqrn: opts.fqrn,
    masterPublicKeys: [await loadPublicKey(opts.pubkeyPath)],
    certificateDer: cert.raw,
    now: opts.now,
  });
  return manifest;
}

/** Resolves when `out` wants more (drain) or is gone (close), leaving no listener behind. */
function drainOrClose(out: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off("drain", done);
      out.off("close", done);
      resolve();
    };
    out.once("drain", done);
    out.once("close", done);
  });
}
