import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addHistoryTag, createHistory, inspectHistory, readHistoryProperties, readHistoryTags, type HistoryTag } from "../../../src/cvmfs/repository/history.js";
import { addReflogRefs, createReflog, hashReflog, readReflog } from "../../../src/cvmfs/repository/reflog.js";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";

describe("history and reflog databases", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "history-test-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const tag = (n: number): HistoryTag => ({
    name: `generic-${n}`,
    hash: String(n).repeat(40).slice(0, 40),
    revision: n,
    timestamp: 1_700_000_000 + n,
    channel: 0,
    description: `rev ${n}`,
    size: 1000 + n,
    branch: "",
  });

  it("creates schema 1.0 revision 3 with branches, tags and an empty recycle bin", () => {
    const file = join(dir, "h1.sqlite");
    createHistory(file, "h.test");
    const db = new Database(file, { readonly: true });
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    expect(tables).toEqual(["branches", "properties", "recycle_bin", "tags"]);
    expect(db.prepare("SELECT branch, parent, initial_revision FROM branches").all()).toEqual([{ branch: "", parent: null, initial_revision: 0 }]);
    const cols = (db.prepare("PRAGMA table_info(tags)").all() as { name: string }[]).map((c) => c.name);
    expect(cols).toEqual(["name", "hash", "revision", "timestamp", "channel", "description", "size", "branch"]);
    db.close();
    expect(readHistoryProperties(file)).toEqual({ fqrn: "h.test", schema: "1.0", schema_revision: "3" });
  });

  it("adds tags newest first and links the previous history object", () => {
    const file = join(dir, "h2.sqlite");
    createHistory(file, "h.test");
    addHistoryTag(file, tag(1));
    addHistoryTag(file, tag(2), "a".repeat(40));
    expect(readHistoryTags(file)).toEqual([tag(2), tag(1)]);
    expect(readHistoryProperties(file).previous_revision).toBe("a".repeat(40));
  });

  it("rejects a tag on an unknown branch (foreign key to branches)", () => {
    const file = join(dir, "h3.sqlite");
    createHistory(file, "h.test");
    expect(() => addHistoryTag(file, { ...tag(1), branch: "nope" })).toThrow(/add tag/);
  });

  // The facts `cvmfs_swissknife check -c` holds a tag database to (swissknife_check.cc,
  // InspectHistory): every branch name passes BranchSanitizer, every tag names a known branch at
  // a revision not below the branch's initial one, and every branch is used by some tag.
  it("judges a history as cvmfs_swissknife check does", () => {
    const empty = join(dir, "check-empty.sqlite");
    createHistory(empty, "h.test");
    expect(inspectHistory(empty)).toEqual(["unused, dangling branches stored"]);

    const tagged = join(dir, "check-tagged.sqlite");
    createHistory(tagged, "h.test");
    addHistoryTag(tagged, tag(0));
    expect(inspectHistory(tagged)).toEqual([]);

    const odd = join(dir, "check-odd.sqlite");
    createHistory(odd, "h.test");
    const db = new Database(odd);
    db.prepare("INSERT INTO branches (branch, parent, initial_revision) VALUES (?, '', ?)").run("feature/x", 5);
    db.prepare("INSERT INTO branches (branch, parent, initial_revision) VALUES (?, '', ?)").run("bad name!", 0);
    db.close();
    addHistoryTag(odd, tag(1));
    addHistoryTag(odd, { ...tag(3), branch: "feature/x" });
    expect(inspectHistory(odd)).toEqual(['invalid branch name "bad name!"', "invalid revision 3 of tag generic-3", "unused, dangling branches stored"]);
  });

  it("keeps reflog references with their types, and Y is the plain hash of the file", async () => {
    const file = join(dir, "reflog.sqlite");
    createReflog(file, "h.test");
    const t = new Date(1_700_000_000_000);
    addReflogRefs(file, [
      { hash: "c".repeat(40), type: "catalog" },
      { hash: "d".repeat(40), type: "certificate" },
      { hash: "e".repeat(40), type: "history" },
      { hash: "c".repeat(40), type: "catalog" },
    ], t);
    expect(readReflog(file)).toEqual([
      { hash: "c".repeat(40), type: "catalog", timestamp: 1_700_000_000 },
      { hash: "d".repeat(40), type: "certificate", timestamp: 1_700_000_000 },
      { hash: "e".repeat(40), type: "history", timestamp: 1_700_000_000 },
    ]);
    const db = new Database(file, { readonly: true });
    expect(db.prepare("SELECT type FROM refs ORDER BY hash").all()).toEqual([{ type: 0 }, { type: 1 }, { type: 2 }]);
    db.close();
    expect(await hashReflog(file, "sha1")).toBe(createHash("sha1").update(await readFile(file)).digest("hex"));
  });
});
