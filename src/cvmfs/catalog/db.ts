import Database from "better-sqlite3";
import type { Database as Db, Statement } from "better-sqlite3";
import { CatalogError } from "../../errors.js";
import type { ChunkRef } from "../../content/content-store.js";
import { readCounters, type CatalogCounters } from "./counters.js";
import { hashAlgorithmOfFlags, joinHashString, splitHashString } from "./hash.js";
import { COLUMN_COUNT, type CatalogRow } from "./row.js";
import { CATALOG_SCHEMA_REVISION, PARENT_INDEX_DDL, createCatalogSchema, setProperties, writeStatistics } from "./schema.js";
import type { Md5Key } from "./md5-path.js";

/**
 * One catalog database and its prepared statements: the only place that speaks SQL to the
 * `catalog`, `chunks`, `nested_catalogs`, `properties` and `statistics` tables. Catalogs are
 * held in memory (bounded by the per-catalog entry limit) and leave as the bytes of the SQLite
 * file, which is what gets compressed and stored.
 */

const COLUMNS =
  "md5path_1, md5path_2, parent_1, parent_2, hardlinks, hash, size, mode, mtime, mtimens, flags, name, symlink, uid, gid, xattr";

type RawRow = Record<string, unknown>;

function num(v: unknown): number {
  return typeof v === "bigint" ? Number(v) : (v as number);
}

function toRow(r: RawRow): CatalogRow {
  return {
    md5path: [r.md5path_1 as bigint, r.md5path_2 as bigint],
    parent: [r.parent_1 as bigint, r.parent_2 as bigint],
    hardlinks: num(r.hardlinks),
    hash: (r.hash as Buffer | null) ?? null,
    size: num(r.size),
    mode: num(r.mode),
    mtime: num(r.mtime),
    mtimens: r.mtimens === null || r.mtimens === undefined ? null : num(r.mtimens),
    flags: num(r.flags),
    name: (r.name as string | null) ?? "",
    symlink: (r.symlink as string | null) ?? "",
    uid: num(r.uid),
    gid: num(r.gid),
    xattr: (r.xattr as Buffer | null) ?? null,
  };
}

/** Serialized empty catalogs, with (false) and without (true) the parent index. */
const emptyCatalogs = new Map<boolean, Buffer>();

/**
 * Brings a schema 2.5 catalog of an older revision up to revision 7, step by step as the CVMFS
 * publisher does on a live catalog, so that edits write every column. New counters start at 0.
 */
function upgradeSchema(db: Db): void {
  const props = db.prepare("SELECT value FROM properties WHERE key = ?");
  const rev = Number((props.get("schema_revision") as { value: unknown } | undefined)?.value ?? 0);
  if (rev >= CATALOG_SCHEMA_REVISION) return;
  const zero = (names: string[]): void => {
    for (const n of names) db.prepare("INSERT OR IGNORE INTO statistics (counter, value) VALUES (?, 0)").run(n);
  };
  // Each step checks what is there rather than trusting the recorded revision alone.
  const has = (table: string, column: string): boolean =>
    (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).some((c) => c.name === column);
  db.transaction(() => {
    if (!has("nested_catalogs", "size")) db.exec("ALTER TABLE nested_catalogs ADD size INTEGER;");
    if (!has("catalog", "xattr")) db.exec("ALTER TABLE catalog ADD xattr BLOB;");
    if (rev < 2) zero(["self_xattr", "subtree_xattr"]);
    if (rev < 3) zero(["self_external", "self_external_file_size", "subtree_external", "subtree_external_file_size"]);
    if (!has("bind_mountpoints", "path")) {
      db.exec("CREATE TABLE bind_mountpoints (path TEXT, sha1 TEXT, size INTEGER, CONSTRAINT pk_bind_mountpoints PRIMARY KEY (path));");
    }
    if (rev < 5) zero(["self_special", "subtree_special"]);
    if (!has("catalog", "mtimens")) db.exec("ALTER TABLE catalog ADD mtimens INTEGER;");
    setProperties(db, { schema_revision: String(CATALOG_SCHEMA_REVISION) });
  })();
}

/** A `nested_catalogs` row. */
export interface NestedRow {
  path: string;
  hash: string;
  size: number;
}

/** An object a catalog's rows name: a whole file (suffix `""`) or a chunk (`P`). */
export interface CatalogObject {
  /** Hash string, no suffix. */
  hash: string;
  suffix: "" | "P";
}

/** Rows per multi-row INSERT. */
const BATCH = 16;
const ROW_PLACEHOLDERS = `(${COLUMNS.split(", ").map(() => "?").join(", ")})`;

type StatementName = "insert" | "update" | "get" | "list" | "del" | "chunkInsert" | "chunkList" | "chunkDel";

function statementSql(name: StatementName, select: () => string): string {
  switch (name) {
    case "insert":
      return `INSERT INTO catalog (${COLUMNS}) VALUES ${ROW_PLACEHOLDERS}`;
    case "update":
      return (
        "UPDATE catalog SET parent_1 = ?, parent_2 = ?, hardlinks = ?, hash = ?, size = ?, mode = ?, mtime = ?, " +
        "mtimens = ?, flags = ?, name = ?, symlink = ?, uid = ?, gid = ?, xattr = ? WHERE md5path_1 = ? AND md5path_2 = ?"
      );
    case "get":
      return `SELECT ${select()} FROM catalog WHERE md5path_1 = ? AND md5path_2 = ?`;
    case "list":
      return `SELECT ${select()} FROM catalog WHERE parent_1 = ? AND parent_2 = ?`;
    case "del":
      return "DELETE FROM catalog WHERE md5path_1 = ? AND md5path_2 = ?";
    case "chunkInsert":
      return "INSERT INTO chunks (md5path_1, md5path_2, offset, size, hash) VALUES (?, ?, ?, ?, ?)";
    case "chunkList":
      return "SELECT offset, size, hash FROM chunks WHERE md5path_1 = ? AND md5path_2 = ? ORDER BY offset";
    case "chunkDel":
      return "DELETE FROM chunks WHERE md5path_1 = ? AND md5path_2 = ?";
  }
}

export class CatalogDb {
  private batchInsert: Statement | undefined;
  /** Set by `create({ deferParentIndex })` until `serialize()` builds the index. */
  private parentIndexPending = false;
  /** The catalog columns as this file can give them (worked out on first read). */
  private selectList: string | undefined;
  /**
   * Statements, prepared on first use: a catalog that is only written (hundreds per image)
   * then pays for the one or two it needs, not for all of them.
   */
  private readonly prepared = new Map<StatementName, Statement>();

  private constructor(readonly db: Db) {}

  private get select(): string {
    // Catalogs older than revision 7 (or 2) lack `mtimens` (or `xattr`): read them as NULL.
    if (this.selectList === undefined) {
      const have = new Set((this.db.prepare("PRAGMA table_info(catalog)").all() as Array<{ name: string }>).map((c) => c.name));
      this.selectList = COLUMNS.split(", ")
        .map((c) => (have.has(c) ? c : `NULL AS ${c}`))
        .join(", ");
    }
    return this.selectList;
  }

  /** Prepares the row reads now, so that a file they cannot work on fails when it is opened. */
  private checkedForReading(): this {
    this.stmt("get");
    this.stmt("list");
    return this;
  }

  private stmt(name: StatementName): Statement {
    let st = this.prepared.get(name);
    if (st === undefined) {
      st = this.db.prepare(statementSql(name, () => this.select));
      if (name === "get" || name === "list") st.safeIntegers(true);
      this.prepared.set(name, st);
    }
    return st;
  }

  /**
   * A new, empty catalog (schema and `schema`/`schema_revision` properties, no rows).
   * `deferParentIndex` suits a catalog filled in one go: the parent index is built by
   * `serialize()`, after the rows, which sorts once instead of inserting every row into it at a
   * random place (a third to a half faster, and the file comes out smaller).
   */
  static create(options: { deferParentIndex?: boolean } = {}): CatalogDb {
    // Running the DDL costs about a millisecond per catalog; an image split into hundreds of
    // catalogs starts each one from the serialized empty schema instead.
    const deferred = options.deferParentIndex === true;
    let template = emptyCatalogs.get(deferred);
    if (template === undefined) {
      const db = new Database(":memory:");
      createCatalogSchema(db, { deferParentIndex: deferred });
      template = db.serialize();
      emptyCatalogs.set(deferred, template);
      db.close();
    }
    const catalog = new CatalogDb(new Database(Buffer.from(template)));
    catalog.parentIndexPending = deferred;
    return catalog;
  }

  /** Opens the bytes of a catalog file (in memory; writable, the source is not touched). */
  static fromBytes(bytes: Buffer): CatalogDb {
    try {
      const db = new Database(bytes);
      db.prepare("SELECT 1 FROM catalog LIMIT 1").get();
      upgradeSchema(db);
      return new CatalogDb(db).checkedForReading();
    } catch (err) {
      throw new CatalogError("open catalog: not a CVMFS file catalog", { cause: err });
    }
  }

  /** Opens a catalog file read-only in place. */
  static openFile(path: string): CatalogDb {
    try {
      const db = new Database(path, { readonly: true, fileMustExist: true });
      db.prepare("SELECT 1 FROM catalog LIMIT 1").get();
      return new CatalogDb(db).checkedForReading();
    } catch (err) {
      throw new CatalogError(`open catalog ${path}: not a CVMFS file catalog`, { cause: err });
    }
  }

  insertRow(r: CatalogRow): void {
    this.stmt("insert").run(
      r.md5path[0], r.md5path[1], r.parent[0], r.parent[1], r.hardlinks, r.hash, r.size, r.mode,
      r.mtime, r.mtimens, r.flags, r.name, r.symlink, r.uid, r.gid, r.xattr,
    );
  }

  /**
   * Inserts `n` rows that `fill(params, at, i)` writes, row `i` at `params[at…at+16)` in the
   * `COLUMNS` order (see `Col` in row.ts), without an object per row. Rows go 16 to a statement:
   * fewer trips into SQLite than one at a time, and cheap to prepare for a catalog written once
   * (a 64-row statement costs more to prepare than it saves in a 1,000-row catalog). Call
   * inside a transaction.
   */
  insertFilled(n: number, fill: (params: unknown[], at: number, i: number) => void): void {
    let i = 0;
    if (n >= BATCH) {
      const batch = (this.batchInsert ??= this.db.prepare(`INSERT INTO catalog (${COLUMNS}) VALUES ${Array(BATCH).fill(ROW_PLACEHOLDERS).join(", ")}`));
      const params: unknown[] = new Array(COLUMN_COUNT * BATCH);
      for (; i + BATCH <= n; i += BATCH) {
        for (let j = 0; j < BATCH; j++) fill(params, j * COLUMN_COUNT, i + j);
        batch.run(params);
      }
    }
    if (i < n) {
      const one = this.stmt("insert");
      const params: unknown[] = new Array(COLUMN_COUNT);
      for (; i < n; i++) {
        fill(params, 0, i);
        one.run(params);
      }
    }
  }

  /** Rewrites every column of the row with the same md5path. */
  updateRow(r: CatalogRow): void {
    this.stmt("update").run(
      r.parent[0], r.parent[1], r.hardlinks, r.hash, r.size, r.mode, r.mtime, r.mtimens, r.flags,
      r.name, r.symlink, r.uid, r.gid, r.xattr, r.md5path[0], r.md5path[1],
    );
  }

  getRow(key: Md5Key): CatalogRow | undefined {
    const r = this.stmt("get").get(key[0], key[1]) as RawRow | undefined;
    return r === undefined ? undefined : toRow(r);
  }

  /** Rows whose parent is `key` (the directory listing), in no particular order. */
  listRows(key: Md5Key): CatalogRow[] {
    return (this.stmt("list").all(key[0], key[1]) as RawRow[]).map(toRow);
  }

  /** Every row of the catalog. */
  allRows(): CatalogRow[] {
    return (this.db.prepare(`SELECT ${this.select} FROM catalog`).safeIntegers(true).all() as RawRow[]).map(toRow);
  }

  deleteRow(key: Md5Key): void {
    this.stmt("chunkDel").run(key[0], key[1]);
    this.stmt("del").run(key[0], key[1]);
  }

  insertChunks(key: Md5Key, chunks: readonly ChunkRef[]): void {
    for (const c of chunks) {
      this.stmt("chunkInsert").run(key[0], key[1], c.offset, c.size, splitHashString(c.hash).digest);
    }
  }

  /** The chunk list of a chunked file; the algorithm comes from the file row's flags. */
  chunks(key: Md5Key, flags: number): ChunkRef[] {
    const algo = hashAlgorithmOfFlags(flags);
    const rows = this.stmt("chunkList").all(key[0], key[1]) as Array<{ offset: number; size: number; hash: Buffer }>;
    return rows.map((r) => ({ offset: r.offset, size: r.size, hash: joinHashString(r.hash, algo) }));
  }

  /**
   * Every object the rows name, one row at a time (a catalog may hold a million): whole-file
   * objects (suffix `""`) and chunks (`P`, algorithm from the file row's flags). External files
   * (flag 128) live outside `data/` and name none. The catalog must not be written meanwhile.
   */
  *objects(): Generator<CatalogObject> {
    const files = this.db.prepare("SELECT hash, flags FROM catalog WHERE hash IS NOT NULL AND length(hash) > 0 AND (flags & 128) = 0");
    for (const r of files.iterate() as IterableIterator<{ hash: Buffer; flags: number }>) {
      yield { hash: joinHashString(r.hash, hashAlgorithmOfFlags(r.flags)), suffix: "" };
    }
    const chunks = this.db.prepare(
      "SELECT c.hash AS hash, f.flags AS flags FROM chunks c JOIN catalog f ON f.md5path_1 = c.md5path_1 AND f.md5path_2 = c.md5path_2 WHERE (f.flags & 128) = 0",
    );
    for (const r of chunks.iterate() as IterableIterator<{ hash: Buffer; flags: number }>) {
      yield { hash: joinHashString(r.hash, hashAlgorithmOfFlags(r.flags)), suffix: "P" };
    }
  }

  nested(): NestedRow[] {
    const rows = this.db.prepare("SELECT path, sha1, size FROM nested_catalogs ORDER BY path").all() as Array<{
      path: string;
      sha1: string;
      size: number | null;
    }>;
    return rows.map((r) => ({ path: r.path, hash: r.sha1, size: r.size ?? 0 }));
  }

  putNested(n: NestedRow): void {
    this.db.prepare("INSERT OR REPLACE INTO nested_catalogs (path, sha1, size) VALUES (?, ?, ?)").run(n.path, n.hash, n.size);
  }

  deleteNested(path: string): void {
    this.db.prepare("DELETE FROM nested_catalogs WHERE path = ?").run(path);
  }

  properties(): Record<string, string> {
    const rows = this.db.prepare("SELECT key, value FROM properties").all() as Array<{ key: string; value: unknown }>;
    return Object.fromEntries(rows.map((r) => [r.key, String(r.value)]));
  }

  setProperties(props: Record<string, string | number | undefined>): void {
    setProperties(this.db, props);
  }

  counters(): CatalogCounters {
    return readCounters(this.db);
  }

  writeCounters(c: CatalogCounters): void {
    writeStatistics(this.db, c);
  }

  /** Runs `fn` in one transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Runs `fn` in one plain transaction (no nesting), rolled back if it throws. For a catalog
   * filled once: better-sqlite3's `transaction()` prepares its BEGIN/COMMIT/ROLLBACK statements
   * on a connection's first use, which costs more than the transaction itself.
   */
  fillTransaction(fn: () => void): void {
    this.db.exec("BEGIN");
    try {
      fn();
      this.db.exec("COMMIT");
    } catch (err) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      throw err;
    }
  }

  /** The SQLite file bytes (with the parent index, built now if it was deferred). */
  serialize(): Buffer {
    if (this.parentIndexPending) {
      this.db.exec(PARENT_INDEX_DDL);
      this.parentIndexPending = false;
    }
    return this.db.serialize();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
