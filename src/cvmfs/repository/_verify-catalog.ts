import Database from "better-sqlite3";
import type { ObjectSuffix } from "../../content/content-store.js";
import { COUNTER_NAMES } from "../catalog/counters.js";
import { hashString } from "../objects/hash.js";
import { md5PathKey, parentPath } from "../catalog/md5-path.js";

/**
 * Checks of one decompressed catalog file against the format (cvmfs-formats.md §3), made with
 * plain SQL so they judge the bytes, not the code that wrote them. Object references are
 * returned for the caller to fetch and check.
 */

export interface CatalogFacts {
  problems: string[];
  /** Child catalogs to check next. */
  nested: { path: string; hash: string; size: number }[];
  /** Every object this catalog references, with the uncompressed size it must inflate to and how it is stored. */
  objects: { hash: string; suffix: ObjectSuffix; size: number; path: string; compression: "zlib" | "none" }[];
  /** Stored counters (name → value), for the parent's subtree check. */
  counters: Map<string, number>;
  /** Metadata of the catalog's root entry, compared with the parent's mountpoint entry. */
  rootMeta: RowMeta | null;
  /** Metadata of this catalog's mountpoint entries, by path. */
  mountpointMeta: Map<string, RowMeta>;
  revision: number | null;
  entries: number;
  /** Symlinks whose target a client expands (`$(VAR)`): the caller resolves them per architecture. */
  variantLinks: string[];
}

export interface RowMeta {
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
}

interface Row {
  md5path_1: bigint;
  md5path_2: bigint;
  parent_1: bigint;
  parent_2: bigint;
  hash: Buffer | null;
  size: bigint;
  mode: bigint;
  mtime: bigint;
  uid: bigint;
  gid: bigint;
  flags: bigint;
  name: string;
  symlink: string | null;
  xattr: Buffer | null;
}

const ALGOS = ["sha1", "rmd160", "shake128"] as const;
const keyOf = (a: bigint, b: bigint) => `${a}:${b}`;

/** Check the catalog at `file`, mounted at `mountpoint` (`""` for the root catalog). `label` names it in problems. */
export function checkCatalogFile(file: string, mountpoint: string, label: string): CatalogFacts {
  const facts: CatalogFacts = { problems: [], nested: [], objects: [], counters: new Map(), rootMeta: null, mountpointMeta: new Map(), revision: null, entries: 0, variantLinks: [] };
  const bad = (msg: string) => facts.problems.push(`${label}: ${msg}`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.prepare("SELECT count(*) FROM properties").get();
  } catch {
    bad("not a SQLite catalog");
    return facts;
  }
  try {
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    for (const t of ["properties", "catalog", "chunks", "nested_catalogs", "bind_mountpoints", "statistics"]) {
      if (!tables.has(t)) bad(`table ${t} is missing`);
    }
    if (!tables.has("catalog") || !tables.has("statistics") || !tables.has("nested_catalogs") || !tables.has("chunks")) return facts;
    const columns = new Set((db.prepare("PRAGMA table_info(catalog)").all() as { name: string }[]).map((c) => c.name));
    for (const c of ["mtimens", "xattr", "hardlinks", "symlink"]) if (!columns.has(c)) bad(`catalog table lacks column ${c}`);

    const props = Object.fromEntries((db.prepare("SELECT key, value FROM properties").all() as { key: string; value: unknown }[]).map((r) => [r.key, String(r.value)]));
    if (Math.abs(Number(props.schema) - 2.5) > 0.01) bad(`schema is ${props.schema ?? "missing"}, expected 2.5`);
    if (props.schema_revision !== "7") bad(`schema_revision is ${props.schema_revision ?? "missing"}, expected 7`);
    facts.revision = props.revision !== undefined && /^\d+$/.test(props.revision) ? Number(props.revision) : null;
    if (facts.revision === null) bad(`property revision is ${props.revision ?? "missing"}`);
    if (mountpoint === "" && props.root_prefix !== undefined && props.root_prefix !== "") bad(`root catalog has root_prefix "${props.root_prefix}"`);
    if (mountpoint !== "" && props.root_prefix !== mountpoint) bad(`root_prefix is "${props.root_prefix ?? ""}", expected "${mountpoint}"`);

    const rows = db.prepare("SELECT md5path_1, md5path_2, parent_1, parent_2, hash, size, mode, mtime, uid, gid, flags, name, symlink, xattr FROM catalog").safeIntegers(true).all() as Row[];
    facts.entries = rows.length;
    const byKey = new Map(rows.map((r) => [keyOf(r.md5path_1, r.md5path_2), r]));
    const children = new Map<string, Row[]>();
    for (const r of rows) {
      const k = keyOf(r.parent_1, r.parent_2);
      if (k === keyOf(r.md5path_1, r.md5path_2)) continue;
      (children.get(k) ?? children.set(k, []).get(k)!).push(r);
    }

    // Walk from the catalog's root entry: every row must be reached, and its key must be MD5 of its path.
    const [r1, r2] = md5PathKey(mountpoint);
    const root = byKey.get(keyOf(r1, r2));
    const paths = new Map<Row, string>();
    if (!root) bad(`root entry for "${mountpoint || "/"}" is missing`);
    else {
      const [p1, p2] = mountpoint === "" ? [0n, 0n] : md5PathKey(parentPath(mountpoint));
      if (root.parent_1 !== p1 || root.parent_2 !== p2) bad(`root entry has the wrong parent key`);
      const f = Number(root.flags);
      if (!(f & 1)) bad("root entry is not a directory");
      if (mountpoint !== "" && !(f & 32)) bad("nested catalog root entry lacks the nested-root flag (32)");
      if (mountpoint === "" && f & 32) bad("repository root entry carries the nested-root flag");
      facts.rootMeta = meta(root);
      const stack: [Row, string][] = [[root, mountpoint]];
      while (stack.length > 0) {
        const [row, path] = stack.pop()!;
        paths.set(row, path);
        for (const c of children.get(keyOf(row.md5path_1, row.md5path_2)) ?? []) {
          const cp = `${path}/${c.name}`;
          const [c1, c2] = md5PathKey(cp);
          if (c.md5path_1 !== c1 || c.md5path_2 !== c2) bad(`entry ${cp}: md5path is not MD5 of its path`);
          if (paths.has(c)) continue;
          stack.push([c, cp]);
        }
      }
    }
    for (const r of rows) if (!paths.has(r)) bad(`entry "${r.name}" is not linked to the catalog root (parent key not found)`);

    const nestedRows = db.prepare("SELECT path, sha1, size FROM nested_catalogs").all() as { path: string; sha1: string; size: number }[];
    const nestedPaths = new Set(nestedRows.map((n) => n.path));
    const count: Record<string, number> = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0]));
    const chunkStmt = db.prepare("SELECT offset, size, hash FROM chunks WHERE md5path_1 = ? AND md5path_2 = ? ORDER BY offset").safeIntegers(true);
    for (const [r, path] of paths) {
      const f = Number(r.flags);
      const size = Number(r.size);
      const algo = ALGOS[(f >> 8) & 7];
      if (r.xattr !== null) count.xattr!++;
      if (f & 1) {
        count.dir!++;
        if (f & 2) {
          facts.mountpointMeta.set(path, meta(r));
          if (!nestedPaths.has(path)) bad(`entry ${path} is a nested mountpoint (flag 2) without a nested_catalogs row`);
        }
        continue;
      }
      if (f & 8) {
        count.symlink!++;
        if (size !== Buffer.byteLength(r.symlink ?? "")) bad(`symlink ${path}: size ${size} is not the target length`);
        if (/\$\(/.test(r.symlink ?? "")) facts.variantLinks.push(path);
        continue;
      }
      if (f & 16) {
        count.special!++;
        continue;
      }
      count.regular!++;
      count.file_size! += size;
      if (f & 128) {
        count.external!++;
        count.external_file_size! += size;
        continue;
      }
      if (algo === undefined) {
        bad(`file ${path}: unknown hash algorithm in flags ${f}`);
        continue;
      }
      // Bits 11–13: CVMFS's compression enum, 0 zlib or 1 none (cvmfs-formats.md §3 flags).
      const compressionBits = (f >> 11) & 7;
      if (compressionBits > 1) {
        bad(`file ${path}: unknown compression algorithm ${compressionBits} in flags ${f}`);
        continue;
      }
      const compression = compressionBits === 1 ? "none" : "zlib";
      if (f & 64) {
        count.chunked!++;
        count.chunked_size! += size;
        const chunks = chunkStmt.all(r.md5path_1, r.md5path_2) as { offset: bigint; size: bigint; hash: Buffer }[];
        if (chunks.length < 2) bad(`file ${path}: chunked with ${chunks.length} chunk(s)`);
        let at = 0;
        for (const c of chunks) {
          if (Number(c.offset) !== at) bad(`file ${path}: chunk at offset ${c.offset} leaves a gap or overlap at ${at}`);
          at = Number(c.offset) + Number(c.size);
          facts.objects.push({ hash: hashString(c.hash, algo), suffix: "P", size: Number(c.size), path, compression });
        }
        if (at !== size) bad(`file ${path}: chunks cover ${at} bytes, file size is ${size}`);
      } else if (r.hash === null || r.hash.length !== 20) {
        bad(`file ${path}: no content hash`);
      } else {
        facts.objects.push({ hash: hashString(r.hash, algo), suffix: "", size, path, compression });
      }
    }
    count.nested = nestedRows.length;
    count.chunks = Number((db.prepare("SELECT count(*) AS n FROM chunks").get() as { n: number }).n);

    const rowByPath = new Map([...paths].map(([r, p]) => [p, r]));
    for (const n of nestedRows) {
      const mp = rowByPath.get(n.path);
      if (!mp || !(Number(mp.flags) & 2)) bad(`nested catalog ${n.path}: no mountpoint entry with flag 2`);
      if (!n.path.startsWith(`${mountpoint}/`)) bad(`nested catalog ${n.path} is not below ${mountpoint || "/"}`);
      facts.nested.push({ path: n.path, hash: n.sha1, size: Number(n.size) });
    }

    const stats = db.prepare("SELECT counter, value FROM statistics").all() as { counter: string; value: number }[];
    facts.counters = new Map(stats.map((s) => [s.counter, Number(s.value)]));
    for (const scope of ["self", "subtree"]) {
      for (const name of COUNTER_NAMES) if (!facts.counters.has(`${scope}_${name}`)) bad(`statistics counter ${scope}_${name} is missing`);
    }
    for (const name of COUNTER_NAMES) {
      const stored = facts.counters.get(`self_${name}`);
      if (stored !== undefined && stored !== count[name]) bad(`counter self_${name} is ${stored}, rows say ${count[name]}`);
    }
  } finally {
    db.close();
  }
  return facts;
}

function meta(r: Row): RowMeta {
  return { mode: Number(r.mode), mtime: Number(r.mtime), uid: Number(r.uid), gid: Number(r.gid) };
}
