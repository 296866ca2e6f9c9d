import { readFile, rm } from "node:fs/promises";
import Database from "better-sqlite3";
import type { LocalContentStore } from "../objects/local-content-store.js";
import { inflateToFile } from "./_object-file.js";

/**
 * Store a new history object (cvmfs-formats.md §4): the one at `historyHash` without the tags in
 * `dropTags` (those of revisions being collected), its `previous_revision` naming `historyHash`
 * as every new history does. Returns the new hash; nothing refers to it until a manifest does.
 */
export async function writePrunedHistory(store: LocalContentStore, historyHash: string, dropTags: readonly string[], tmpDir: string): Promise<string> {
  const file = await inflateToFile(store, historyHash, "H", tmpDir);
  try {
    const db = new Database(file, { fileMustExist: true });
    try {
      const del = db.prepare("DELETE FROM tags WHERE name = ?");
      db.transaction(() => {
        for (const name of dropTags) del.run(name);
        db.prepare("INSERT OR REPLACE INTO properties (key, value) VALUES ('previous_revision', ?)").run(historyHash);
      })();
    } finally {
      db.close();
    }
    return await store.putBuffer(await readFile(file), "H");
  } finally {
    await rm(file, { force: true });
  }
}
