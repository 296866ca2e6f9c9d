import { RepositoryError } from "../../errors.js";
import { splitLetter, type Letter } from "./signing.js";

/**
 * The repository manifest, `.cvmfspublished` (cvmfs-formats.md §1.1). Hashes are hash strings
 * without their implied suffix (`C` for the root catalog, `X`, `H`, `M`); `Y` is the plain hash
 * of the uncompressed `.cvmfsreflog`.
 */
export interface Manifest {
  /** C: root catalog hash. */
  catalogHash: string;
  /** B: uncompressed root catalog size in bytes. */
  catalogSize: number;
  /** R: MD5 hex of the root path; always MD5("") for a repository root. */
  rootPathHash: string;
  /** D: TTL in seconds. */
  ttl: number;
  /** S: revision, equal to the root catalog's `revision` property. */
  revision: number;
  /** G */
  garbageCollectable: boolean;
  /** A */
  alternativePath: boolean;
  /** L (unused by clients) */
  microCatalogHash?: string;
  /** N */
  fqrn?: string;
  /** X */
  certificateHash?: string;
  /** H */
  historyHash?: string;
  /** T: publish time, unix seconds. */
  publishTimestamp?: number;
  /** M */
  metainfoHash?: string;
  /** Y */
  reflogHash?: string;
}

/** MD5("") in hex: the only `R` a client accepts for a repository root. */
export const ROOT_PATH_MD5 = "d41d8cd98f00b204e9800998ecf8427e";
/** Default catalog TTL (`kDefaultTTL`). */
export const DEFAULT_TTL = 240;

/** The manifest body text in `ExportString` order: C B R D S G A, then L N X H T M Y. Ends with `\n`. */
export function formatManifest(m: Manifest): string {
  const yn = (b: boolean) => (b ? "yes" : "no");
  let s =
    `C${m.catalogHash}\nB${m.catalogSize}\nR${m.rootPathHash}\nD${m.ttl}\nS${m.revision}\n` +
    `G${yn(m.garbageCollectable)}\nA${yn(m.alternativePath)}\n`;
  if (m.microCatalogHash) s += `L${m.microCatalogHash}\n`;
  if (m.fqrn) s += `N${m.fqrn}\n`;
  if (m.certificateHash) s += `X${m.certificateHash}\n`;
  if (m.historyHash) s += `H${m.historyHash}\n`;
  if (m.publishTimestamp !== undefined) s += `T${m.publishTimestamp}\n`;
  if (m.metainfoHash) s += `M${m.metainfoHash}\n`;
  if (m.reflogHash) s += `Y${m.reflogHash}\n`;
  return s;
}

/** A parsed `.cvmfspublished`: the manifest plus its signature part, if any. */
export interface ParsedManifest {
  manifest: Manifest;
  /** Null for a manifest without `--` (an unsigned body). */
  letter: Letter | null;
}

/**
 * Parse `.cvmfspublished` bytes as `ParseKeyvalMem` + `Manifest::Load` do: one `<key><value>`
 * line each, only the first character is the key, parsing stops at `--`. C, R, D and S are
 * required; anything malformed is a RepositoryError naming the field.
 */
export function parseManifest(bytes: Buffer): ParsedManifest {
  const letter = splitLetter(bytes);
  const text = (letter ? letter.body : bytes).toString("utf8");
  const kv = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "--") break;
    if (line.length === 0) continue;
    kv.set(line[0] as string, line.slice(1));
  }
  const need = (k: string): string => {
    const v = kv.get(k);
    if (v === undefined || v === "") throw new RepositoryError(`manifest: required field ${k} is missing`);
    return v;
  };
  const int = (k: string, v: string): number => {
    if (!/^\d+$/.test(v)) throw new RepositoryError(`manifest: field ${k} is not an unsigned integer: "${v.slice(0, 40)}"`);
    return Number(v);
  };
  const opt = (k: string): string | undefined => (kv.get(k) ? kv.get(k) : undefined);
  const manifest: Manifest = {
    catalogHash: need("C"),
    catalogSize: kv.has("B") ? int("B", kv.get("B") ?? "") : 0,
    rootPathHash: need("R"),
    ttl: int("D", need("D")),
    revision: int("S", need("S")),
    garbageCollectable: kv.get("G") === "yes",
    alternativePath: kv.get("A") === "yes",
  };
  const optional: [keyof Manifest, string][] = [
    ["microCatalogHash", "L"],
    ["fqrn", "N"],
    ["certificateHash", "X"],
    ["historyHash", "H"],
    ["metainfoHash", "M"],
    ["reflogHash", "Y"],
  ];
  for (const [field, key] of optional) {
    const v = opt(key);
    if (v !== undefined) (manifest as unknown as Record<string, unknown>)[field] = v;
  }
  const t = opt("T");
  if (t !== undefined) manifest.publishTimestamp = int("T", t);
  return { manifest, letter };
}
