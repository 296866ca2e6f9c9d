import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import pLimit from "p-limit";
import type { ContentStore, HashAlgorithm } from "../content/content-store.js";
import type { LayerEntry } from "../tree/layer-entry.js";
import type { NodeMeta } from "../tree/types.js";
import type { LayerResult } from "./process-layer.js";
import { LayerCacheHeader, LayerCacheLine } from "./schema.js";

/**
 * The layer cache: each processed layer's entries and their content references, keyed by layer
 * digest and content hash algorithm, so an image that shares base layers with one converted
 * before neither decompresses nor compresses them again. One NDJSON file per layer,
 * `<cacheDir>/layers/<algo>/sha256-<hex>.ndjson` (format in schema.ts), written to a temporary
 * name and renamed, so readers never see half a file. The cache is only a shortcut: a file
 * that does not parse, or that names an object the store lacks, is a miss.
 */

/** `~/.cache/cvmfs-image-sync` (or `$XDG_CACHE_HOME/cvmfs-image-sync`). */
export function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg?.startsWith("/") ? xdg : join(homedir(), ".cache"), "cvmfs-image-sync");
}

/** Where the cache file of one layer lives. */
export function layerCachePath(cacheDir: string, digest: string, algo: HashAlgorithm): string {
  const safe = digest.replace(/[^A-Za-z0-9_-]/g, "-");
  return join(cacheDir, "layers", algo, `${safe}.ndjson`);
}

function metaFields(meta: NodeMeta): Partial<LayerCacheLine> {
  const out: Partial<LayerCacheLine> = { m: meta.mode, u: meta.uid, g: meta.gid, t: meta.mtime };
  if (meta.mtimeNs) out.ns = meta.mtimeNs;
  if (meta.xattrs) out.x = Object.fromEntries(Object.entries(meta.xattrs).map(([k, v]) => [k, v.toString("base64")]));
  return out;
}

function toLine(e: LayerEntry): LayerCacheLine {
  switch (e.kind) {
    case "file":
      return { k: e.kind, n: e.name, ...metaFields(e.meta), c: e.content };
    case "dir":
      return { k: e.kind, n: e.name, ...metaFields(e.meta) };
    case "symlink":
      return { k: e.kind, n: e.name, ...metaFields(e.meta), l: e.target };
    case "hardlink":
      return { k: e.kind, n: e.name, l: e.target };
    case "whiteout":
      return { k: e.kind, n: e.name };
    default:
      return { k: e.kind, n: e.name, ...metaFields(e.meta), d: [e.devMajor, e.devMinor] };
  }
}

function fromLine(l: LayerCacheLine): LayerEntry {
  const meta: NodeMeta = { mode: l.m ?? 0, uid: l.u ?? 0, gid: l.g ?? 0, mtime: l.t ?? 0, mtimeNs: l.ns ?? 0 };
  if (l.x) meta.xattrs = Object.fromEntries(Object.entries(l.x).map(([k, v]) => [k, Buffer.from(v, "base64")]));
  switch (l.k) {
    case "file":
      return { kind: "file", name: l.n, meta, content: l.c ?? { size: 0, hash: null } };
    case "dir":
      return { kind: "dir", name: l.n, meta };
    case "symlink":
      return { kind: "symlink", name: l.n, meta, target: l.l ?? "" };
    case "hardlink":
      return { kind: "hardlink", name: l.n, target: l.l ?? "" };
    case "whiteout":
      return { kind: "whiteout", name: l.n };
    default:
      return { kind: l.k, name: l.n, meta, devMajor: l.d?.[0] ?? 0, devMinor: l.d?.[1] ?? 0 };
  }
}

/** Store a processed layer. Failures to write are the caller's to log: the cache is optional. */
export async function writeLayerCache(cacheDir: string, algo: HashAlgorithm, result: LayerResult): Promise<void> {
  const path = layerCachePath(cacheDir, result.digest, algo);
  const header: LayerCacheHeader = {
    format: "cvmfs-image-sync/layer-cache",
    version: 2,
    digest: result.digest,
    hashAlgorithm: algo,
    entries: result.entries.length,
    files: result.files,
    bytes: result.bytes,
  };
  const lines = [JSON.stringify(header), ...result.entries.map((e) => JSON.stringify(toLine(e)))];
  await mkdir(join(path, ".."), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, lines.join("\n") + "\n");
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * The cached result of a layer, or undefined on a miss: no file, a file that does not parse or
 * is for another digest or algorithm, or one naming an object `store` does not have.
 */
export async function readLayerCache(cacheDir: string, digest: string, store: ContentStore): Promise<LayerResult | undefined> {
  let text: string;
  try {
    text = await readFile(layerCachePath(cacheDir, digest, store.hashAlgorithm), "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n").filter((l) => l !== "");
  try {
    const header = LayerCacheHeader.parse(JSON.parse(lines[0] ?? "null"));
    if (header.digest !== digest || header.hashAlgorithm !== store.hashAlgorithm) return undefined;
    if (header.entries !== lines.length - 1) return undefined;
    const entries = lines.slice(1).map((l) => fromLine(LayerCacheLine.parse(JSON.parse(l))));
    if (!(await storeHasAll(entries, store))) return undefined;
    return { digest, entries, files: header.files, bytes: header.bytes };
  } catch {
    return undefined;
  }
}

async function storeHasAll(entries: LayerEntry[], store: ContentStore): Promise<boolean> {
  const limit = pLimit(32);
  const checks: Promise<boolean>[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.kind !== "file") continue;
    const objects: [string, "" | "P"][] = e.content.chunks?.length
      ? e.content.chunks.map((c) => [c.hash, "P"] as [string, "P"])
      : e.content.hash !== null
        ? [[e.content.hash, ""]]
        : [];
    if (objects.length === 0) return false; // a file with no object at all: not a result we wrote
    for (const [hash, suffix] of objects) {
      if (seen.has(hash + suffix)) continue;
      seen.add(hash + suffix);
      checks.push(limit(() => store.has(hash, suffix)));
    }
  }
  return (await Promise.all(checks)).every(Boolean);
}
