import { readFile } from "node:fs/promises";
import Database from "better-sqlite3";
import type { HashAlgorithm } from "../../content/content-store.js";
import { hashBytes } from "../objects/hash.js";

/**
 * `.cvmfsreflog` (cvmfs-formats.md §4): an uncompressed SQLite file listing every root object
 * the repository ever referenced, so garbage collection and replication can find them. Schema
 * 1.0 revision 0, table `refs`, property `fqrn`. The manifest's `Y` is the plain hash of the file.
 */
/** What a reference names: a root catalog, the certificate, a history or a meta-info object. */
export type ReflogType = "catalog" | "certificate" | "history" | "metainfo";

const TYPE_CODE: Record<ReflogType, number> = { catalog: 0, certificate: 1, history: 2, metainfo: 3 };
const TYPE_NAME = Object.fromEntries(Object.entries(TYPE_CODE).map(([k, v]) => [v, k])) as Record<number, ReflogType>;

/** One `refs` row. */
export interface ReflogRef {
  /** Hash string without suffix. */
  hash: string;
  type: ReflogType;
  /** Unix seconds. */
  timestamp: number;
}

/** Create an empty reflog at `file` (which must not exist). */
export function createReflog(file: string, fqrn: string): void {
  const db = new Database(file);
  try {
    db.exec(
      "CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key));" +
        "CREATE TABLE refs (hash TEXT, type INTEGER, timestamp INTEGER, CONSTRAINT pk_refs PRIMARY KEY (hash));",
    );
    const set = db.prepare("INSERT OR REPLACE INTO properties (key, value) VALUES (?, ?)");
    set.run("fqrn", fqrn);
    set.run("schema", 1.0);
    set.run("schema_revision", 0n);
  } finally {
    db.close();
  }
}

/** Add references (already present ones keep their first timestamp, as `INSERT OR IGNORE`). */
export function addReflogRefs(file: string, refs: { hash: string; type: ReflogType }[], now = new Date()): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    const ins = db.prepare("INSERT OR IGNORE INTO refs (hash, type, timestamp) VALUES (?, ?, ?)");
    const ts = Math.floor(now.getTime() / 1000);
    db.transaction(() => {
      for (const r of refs) ins.run(r.hash, TYPE_CODE[r.type], ts);
    })();
  } finally {
    db.close();
  }
}

/** Remove references by hash (of objects garbage collection deletes). */
export function removeReflogRefs(file: string, hashes: Iterable<string>): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    const del = db.prepare("DELETE FROM refs WHERE hash = ?");
    db.transaction(() => {
      for (const h of hashes) del.run(h);
    })();
  } finally {
    db.close();
  }
}

/** All references, oldest first. */
export function readReflog(file: string): ReflogRef[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT hash, type, timestamp FROM refs ORDER BY timestamp, hash").all() as {
      hash: string;
      type: number;
      timestamp: number;
    }[];
    return rows.map((r) => ({ hash: r.hash, type: TYPE_NAME[r.type] ?? "catalog", timestamp: r.timestamp }));
  } finally {
    db.close();
  }
}

/** Manifest `Y`: the plain hash of the reflog file's bytes (`HashDatabase`). */
export async function hashReflog(file: string, algo: HashAlgorithm): Promise<string> {
  return hashBytes(await readFile(file), algo);
}
