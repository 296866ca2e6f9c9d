import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { finished } from "node:stream/promises";
import { createInflate } from "node:zlib";
import pLimit from "p-limit";
import type { ObjectSuffix } from "../../content/content-store.js";
import { createContentHasher, hashBytes, hashString, isHashString, objectPath, parseHashString } from "../objects/hash.js";
import { inspectHistory, readHistoryTags } from "./history.js";
import { loadPublicKey } from "./keys.js";
import { parseManifest, ROOT_PATH_MD5, type Manifest } from "./manifest.js";
import { verifyManifestLetter } from "./signing.js";
import { verifyWhitelist } from "./whitelist.js";
import { fetchVerifiedObject, inflateObject } from "./_object-fetch.js";
import { openSource, type RepositorySource, type SourceSpec } from "./_repository-source.js";
import { checkCatalogFile, type RowMeta } from "./_verify-catalog.js";
import { COUNTER_NAMES } from "../catalog/counters.js";
import { debrisPrefix } from "../../debris.js";

export interface VerifyOptions {
  fqrn: string;
  /** Master public key: when given, the whitelist signature chain is checked too. */
  pubkeyPath?: string;
  /** Clock for the whitelist expiry. */
  now?: Date;
  /** Parallel object checks (default 8). */
  concurrency?: number;
}

export interface VerifyStats {
  revision: number;
  catalogs: number;
  entries: number;
  objects: number;
  /** Stored (compressed) bytes of all objects checked. */
  objectBytes: number;
}

/**
 * Check a whole repository (directory or URL) the way a careful client would, and more:
 * manifest fields and signature (and the whitelist chain to `pubkeyPath`), the certificate,
 * history and reflog; every catalog (schema, counters against rows, parent links, nested
 * catalog links with hash, size, root_prefix and flags); every referenced object (hash of the
 * stored bytes, inflated size, chunk coverage). Never throws for a bad repository: each problem
 * is one line naming the object, catalog or path. `variantLinks` are the symlinks a client expands
 * (`$(CVMFS_ARCH)`…), for a caller that knows which architectures to resolve them for.
 */
export async function verifyRepository(source: SourceSpec, opts: VerifyOptions): Promise<{ problems: string[]; stats: VerifyStats; variantLinks: string[] }> {
  const src = openSource(source);
  const problems: string[] = [];
  const variantLinks: string[] = [];
  const stats: VerifyStats = { revision: 0, catalogs: 0, entries: 0, objects: 0, objectBytes: 0 };
  const tmp = await mkdtemp(join(tmpdir(), debrisPrefix("cvmfs-verify")));
  try {
    const manifest = await checkManifest(src, opts, problems);
    if (!manifest) return { problems, stats, variantLinks };
    stats.revision = manifest.revision;
    await checkHistoryAndReflog(src, manifest, problems);

    const seen = new Map<string, Promise<number | null>>();
    const limit = pLimit(opts.concurrency ?? 8);
    const checks: Promise<void>[] = [];
    const walk = async (hash: string, size: number | null, mountpoint: string, parentMeta: RowMeta | null): Promise<Map<string, number> | null> => {
      const label = `catalog ${hash}C (${mountpoint || "/"})`;
      let bytes: Buffer;
      try {
        bytes = inflateObject(await fetchVerifiedObject(src, hash, "C"), label);
      } catch (err) {
        problems.push(`${label}: ${(err as Error).message}`);
        return null;
      }
      stats.catalogs++;
      if (size !== null && bytes.length !== size) problems.push(`${label}: uncompressed size ${bytes.length}, parent says ${size}`);
      const file = join(tmp, `${hash}.sqlite`);
      await writeFile(file, bytes);
      const facts = checkCatalogFile(file, mountpoint, label);
      await rm(file, { force: true });
      problems.push(...facts.problems);
      variantLinks.push(...facts.variantLinks);
      stats.entries += facts.entries;
      if (mountpoint === "" && facts.revision !== null && facts.revision !== manifest.revision) {
        problems.push(`${label}: revision ${facts.revision} differs from manifest S ${manifest.revision}`);
      }
      if (parentMeta && facts.rootMeta && JSON.stringify(parentMeta) !== JSON.stringify(facts.rootMeta)) {
        problems.push(`${label}: root entry metadata differs from the parent's mountpoint entry`);
      }
      for (const o of facts.objects) {
        // Keyed by how it is read too: the same stored bytes may be one file's zlib stream and another's raw content.
        const key = `${o.hash}${o.suffix}:${o.compression}`;
        let p = seen.get(key);
        if (!p) {
          p = limit(() => checkObject(src, o.hash, o.suffix, o.compression, problems, stats));
          seen.set(key, p);
        }
        checks.push(
          p.then((actual) => {
            if (actual !== null && actual !== o.size) {
              const what = o.compression === "none" ? "holds" : "inflates to";
              problems.push(`object ${objectPath(o.hash, o.suffix)} (${o.path}): ${what} ${actual} bytes, catalog says ${o.size}`);
            }
          }),
        );
      }
      const subtree = new Map(COUNTER_NAMES.map((n) => [n, 0]));
      let complete = true;
      for (const n of facts.nested) {
        if (!isHashString(n.hash)) {
          problems.push(`${label}: nested catalog ${n.path} has a malformed hash "${n.hash}"`);
          complete = false;
          continue;
        }
        const child = await walk(n.hash, n.size, n.path, facts.mountpointMeta.get(n.path) ?? null);
        if (!child) {
          complete = false; // already reported; its counters are unknown
          continue;
        }
        for (const name of COUNTER_NAMES) subtree.set(name, subtree.get(name)! + (child.get(`self_${name}`) ?? 0) + (child.get(`subtree_${name}`) ?? 0));
      }
      for (const name of complete ? COUNTER_NAMES : []) {
        const stored = facts.counters.get(`subtree_${name}`);
        if (stored !== undefined && stored !== subtree.get(name)) problems.push(`${label}: counter subtree_${name} is ${stored}, nested catalogs say ${subtree.get(name)}`);
      }
      return facts.counters;
    };
    await walk(manifest.catalogHash, manifest.catalogSize || null, "", null);
    await Promise.all(checks);
    return { problems, stats, variantLinks: variantLinks.sort() };
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await src.close();
  }
}

async function checkManifest(src: RepositorySource, opts: VerifyOptions, problems: string[]): Promise<Manifest | null> {
  const bytes = await src.getBytes(".cvmfspublished").catch((err: Error) => (problems.push(`.cvmfspublished: ${err.message}`), null));
  if (!bytes) {
    if (problems.length === 0) problems.push(".cvmfspublished: missing");
    return null;
  }
  let parsed;
  try {
    parsed = parseManifest(bytes);
  } catch (err) {
    problems.push(`.cvmfspublished: ${(err as Error).message}`);
    return null;
  }
  const m = parsed.manifest;
  if (m.fqrn !== opts.fqrn) problems.push(`.cvmfspublished: N is "${m.fqrn ?? ""}", expected "${opts.fqrn}"`);
  if (m.rootPathHash !== ROOT_PATH_MD5) problems.push(`.cvmfspublished: R is ${m.rootPathHash}, expected MD5("")`);
  if (!isHashString(m.catalogHash)) {
    problems.push(`.cvmfspublished: C is not a hash string`);
    return null;
  }
  if (!parsed.letter) problems.push(".cvmfspublished: not signed");
  if (!m.certificateHash) {
    problems.push(".cvmfspublished: no certificate (X)");
    return m;
  }
  try {
    const pem = inflateObject(await fetchVerifiedObject(src, m.certificateHash, "X"), "certificate");
    const cert = new X509Certificate(pem);
    if (parsed.letter) verifyManifestLetter(parsed.letter, cert.publicKey);
    const wl = await src.getBytes(".cvmfswhitelist");
    if (!wl) problems.push(".cvmfswhitelist: missing");
    else if (opts.pubkeyPath) {
      verifyWhitelist(wl, { fqrn: opts.fqrn, masterPublicKeys: [await loadPublicKey(opts.pubkeyPath)], certificateDer: cert.raw, now: opts.now });
    }
  } catch (err) {
    problems.push(`signature chain: ${(err as Error).message}`);
  }
  return m;
}

async function checkHistoryAndReflog(src: RepositorySource, m: Manifest, problems: string[]): Promise<void> {
  if (m.historyHash) {
    const dir = await mkdtemp(join(tmpdir(), debrisPrefix("cvmfs-verify-h")));
    try {
      const file = join(dir, "history.sqlite");
      await writeFile(file, inflateObject(await fetchVerifiedObject(src, m.historyHash, "H"), "history"));
      for (const problem of inspectHistory(file)) problems.push(`history ${m.historyHash}H: ${problem}`);
      const newest = readHistoryTags(file)[0];
      if (newest && (newest.hash !== m.catalogHash || newest.revision !== m.revision)) {
        problems.push(`history ${m.historyHash}H: newest tag ${newest.name} names ${newest.hash} r${newest.revision}, manifest has ${m.catalogHash} r${m.revision}`);
      }
    } catch (err) {
      problems.push(`history ${m.historyHash}H: ${(err as Error).message}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  if (m.reflogHash) {
    const reflog = await src.getBytes(".cvmfsreflog").catch(() => null);
    if (!reflog) problems.push(".cvmfsreflog: missing although the manifest names it (Y)");
    else {
      const actual = hashBytes(reflog, parseHashString(m.catalogHash).algorithm);
      if (actual !== m.reflogHash) problems.push(`.cvmfsreflog: hash ${actual} differs from manifest Y ${m.reflogHash}`);
    }
  }
}

/**
 * Stream one object: hash of the stored bytes and inflated size (for an uncompressed object, its
 * stored size). Returns the size, or null after recording a problem.
 */
async function checkObject(
  src: RepositorySource,
  hash: string,
  suffix: ObjectSuffix,
  compression: "zlib" | "none",
  problems: string[],
  stats: VerifyStats,
): Promise<number | null> {
  const rel = objectPath(hash, suffix);
  try {
    const raw = await src.getStream(rel);
    if (!raw) {
      problems.push(`object ${rel}: missing`);
      return null;
    }
    const algo = parseHashString(hash).algorithm;
    const hasher = createContentHasher(algo);
    let stored = 0;
    let inflated = 0;
    // Hash every stored byte even when inflating fails, so a flipped byte is reported as such.
    // An uncompressed object is not inflated: its stored bytes are the content.
    const inflate = createInflate();
    let inflateError: Error | null = null;
    inflate.on("data", (c: Buffer) => void (inflated += c.length));
    inflate.on("error", (e: Error) => void (inflateError ??= e));
    for await (const c of raw as AsyncIterable<Buffer>) {
      hasher.update(c);
      stored += c.length;
      if (compression === "zlib" && inflateError === null && !inflate.write(c)) await once(inflate, "drain").catch(() => undefined);
    }
    if (compression === "zlib" && inflateError === null) {
      inflate.end();
      await finished(inflate).catch((e: Error) => void (inflateError ??= e));
    }
    stats.objects++;
    stats.objectBytes += stored;
    const actual = hashString(hasher.digest(), algo);
    if (actual !== hash) {
      problems.push(`object ${rel}: content hash is ${actual}`);
      return null;
    }
    if (compression === "none") return stored;
    if (inflateError !== null) {
      problems.push(`object ${rel}: not a zlib stream (${(inflateError as Error).message})`);
      return null;
    }
    return inflated;
  } catch (err) {
    problems.push(`object ${rel}: ${(err as Error).message}`);
    return null;
  }
}
