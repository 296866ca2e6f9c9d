import { rm } from "node:fs/promises";
import { openCatalog } from "../catalog/reader.js";
import type { LocalContentStore } from "../objects/local-content-store.js";
import { isHashString } from "../objects/hash.js";
import { readHistoryTags } from "../repository/history.js";
import type { Manifest } from "../repository/manifest.js";
import { inflateToFile } from "./_object-file.js";
import { keptByPolicy, type RetentionPolicy, type RevisionInfo } from "./retention.js";

/**
 * The revisions a repository still has, from two sources: every tag of the history database
 * (cheap: one small SQLite file), and the root catalogs' `previous_revision` chain from the
 * published root, which also finds revisions no tag names (revision 0 of a new repository).
 * The chain is followed only while the policy could keep what it finds, and stops at a catalog
 * that is gone (collected before), so it loads about as many root catalogs as are kept.
 * Newest first.
 */
export async function listRevisions(
  store: LocalContentStore,
  manifest: Manifest,
  policy: RetentionPolicy,
  now: Date,
  tmpDir: string,
): Promise<RevisionInfo[]> {
  const byRoot = new Map<string, RevisionInfo>();
  if (manifest.historyHash !== undefined) {
    const file = await inflateToFile(store, manifest.historyHash, "H", tmpDir);
    try {
      for (const tag of readHistoryTags(file)) {
        const known = byRoot.get(tag.hash);
        if (known) {
          known.tags.push(tag.name);
          known.timestamp = Math.max(known.timestamp, tag.timestamp);
          continue;
        }
        const available = isHashString(tag.hash) && (await store.has(tag.hash, "C"));
        byRoot.set(tag.hash, { rootHash: tag.hash, revision: tag.revision, timestamp: tag.timestamp, tags: [tag.name], available });
      }
    } finally {
      await rm(file, { force: true });
    }
  }

  const seen = new Set<string>();
  let hash: string | undefined = manifest.catalogHash;
  for (let rank = 0; hash !== undefined; rank++) {
    // The published root must be there; an older one may have been collected already.
    if (rank > 0 && !(await store.has(hash, "C"))) break;
    const props = await rootProperties(store, hash, tmpDir);
    let info = byRoot.get(hash);
    if (!info) {
      info = { rootHash: hash, revision: Number(props.revision ?? 0), timestamp: Number(props.last_modified ?? 0), tags: [], available: true };
      byRoot.set(hash, info);
    }
    if (!keptByPolicy(rank, info.timestamp, policy, now)) break;
    seen.add(hash);
    const previous: string | undefined = props.previous_revision;
    hash = previous !== undefined && isHashString(previous) && !seen.has(previous) ? previous : undefined;
  }
  return [...byRoot.values()].sort((a, b) => b.revision - a.revision);
}

async function rootProperties(store: LocalContentStore, hash: string, tmpDir: string): Promise<Record<string, string>> {
  const file = await inflateToFile(store, hash, "C", tmpDir);
  try {
    const catalog = openCatalog(file);
    try {
      return catalog.properties();
    } finally {
      catalog.close();
    }
  } finally {
    await rm(file, { force: true });
  }
}
