import { constants } from "node:fs";
import { copyFile, link, mkdir, readFile, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { debrisName } from "../debris.js";
import { GatewayError } from "../errors.js";
import { info, silentLogger, type Logger } from "../logger.js";
import { applyCatalogChange, diffCatalogTrees, type CatalogChange } from "../cvmfs/catalog/diff.js";
import { CatalogEditor } from "../cvmfs/catalog/editor.js";
import { openCatalog } from "../cvmfs/catalog/reader.js";
import { LocalContentStore } from "../cvmfs/objects/local-content-store.js";
import { parseManifest } from "../cvmfs/repository/manifest.js";
import { parentPath } from "../cvmfs/catalog/md5-path.js";
import type { Stratum0 } from "../cvmfs/repository/stratum0.js";
import type { Lease } from "./lease-service.js";
import type { CommitRequest } from "./schema.js";

/** Applies a commit to the stratum 0 and returns the new revision; the dev gateway calls it. */
export type CommitFn = (lease: Lease, request: CommitRequest) => Promise<number>;

/**
 * The dev gateway's commit (cvmfs-formats.md §5.5, after `cvmfs_receiver`'s commit processor):
 * diff the publisher's old root C_O against its new root C_N *only inside the lease path*,
 * replay those changes onto the repository's current root C_G, and publish the result as
 * revision C_G + 1, signed, with a tag. Because the replay starts from C_G, publishers on
 * disjoint leases never undo each other's work, whatever root they started from.
 *
 * Atomic: the merged catalogs are built in a private staging store (under the stratum 0's own
 * `data/txn`, so on its filesystem) and linked into the stratum 0
 * only just before the manifest is written; if anything fails, the catalogs linked so far are
 * removed again and the stratum 0 keeps its previous bytes (Stratum0.publish restores its own
 * files; at worst an unreferenced history object stays behind from a crash inside it).
 */
export function createCommitProcessor(opts: { stratum0: Stratum0; logger?: Logger }): CommitFn {
  const { stratum0: s0 } = opts;
  const logger = opts.logger ?? silentLogger;
  let queue: Promise<unknown> = Promise.resolve();
  // One commit at a time per repository: the merge reads C_G and must publish before the next reads it.
  return (lease, request) => {
    const run = queue.then(() => s0.withLock(() => commitOnce(s0, lease, request, logger)));
    queue = run.catch(() => undefined);
    return run;
  };
}

function rootHashOf(text: string, which: string): string {
  const m = /^([0-9a-f]{40}(?:-rmd160|-shake128)?)C$/.exec(text);
  // The real receiver crashes on a hash without its C suffix (§8.3); say what is wrong instead.
  if (!m) throw new GatewayError(`${which} ${text} is not a catalog hash with its C suffix`, `merge_error: ${which} must be a catalog hash ending in C`);
  return m[1] as string;
}

async function commitOnce(s0: Stratum0, lease: Lease, req: CommitRequest, logger: Logger): Promise<number> {
  const oldRoot = rootHashOf(req.old_root_hash, "old_root_hash");
  const newRoot = rootHashOf(req.new_root_hash, "new_root_hash");
  for (const [name, h] of [["old_root_hash", oldRoot], ["new_root_hash", newRoot]] as const) {
    if (!(await s0.store.has(h, "C"))) {
      throw new GatewayError(`${name} ${h}C is not in the repository`, `merge_error: catalog ${h}C (${name}) is not in the repository`);
    }
  }
  const current = parseManifest(await readFile(join(s0.dir, ".cvmfspublished"))).manifest;
  // Beside the repository (its data/txn), not in $TMPDIR: the merged catalogs are hard-linked into
  // data/, which only works within one filesystem. A killed commit's directory is swept by the
  // next Stratum0.openOrCreate (its name says which process made it).
  const staging = join(s0.dir, "data", "txn", debrisName("gw-commit"));
  await mkdir(staging, { recursive: true });
  const linked: string[] = [];
  const editors: CatalogEditor[] = [];
  try {
    const open = async (h: string) => {
      const e = await CatalogEditor.open(h, s0.catalogLoader);
      editors.push(e);
      return e;
    };
    const [from, to, gate] = [await open(oldRoot), await open(newRoot), await open(current.catalogHash)];
    const subpath = lease.subpath === "/" ? "" : lease.subpath;
    // The receiver never creates ancestors of the lease path (§5.5): the parent must be there.
    if (subpath !== "") {
      const parent = parentPath(subpath);
      const p = parent === "" ? "dir" : (await gate.lookup(parent))?.kind;
      if (p !== "dir") throw new GatewayError(`parent of lease path ${lease.subpath} is missing`, `merge_error: parent directory of ${lease.subpath} does not exist`);
    }
    let changes = 0;
    for await (const change of diffCatalogTrees(from, to, subpath)) {
      if (!replayable(change)) continue;
      await checkObjects(s0, change);
      await applyCatalogChange(gate, change);
      changes++;
    }
    const revision = current.revision + 1;
    const store = await LocalContentStore.create(staging, { hashAlgorithm: s0.hashAlgorithm, chunking: false });
    const result = await gate.finish(store, { revision, previousRevision: current.catalogHash });
    for (const h of result.written) {
      if (await s0.store.has(h, "C")) continue;
      const target = s0.store.objectPath(h, "C");
      await linkOrCopy(store.objectPath(h, "C"), target);
      linked.push(target);
    }
    await s0.publish({
      rootHash: result.rootHash,
      rootSize: result.rootSize,
      revision,
      baseRootHash: current.catalogHash,
      ...(req.tag_name ? { tagName: req.tag_name } : {}),
      ...(req.tag_description ? { tagDescription: req.tag_description } : {}),
    });
    info(logger, "gateway.merge", `merged ${changes} change(s) under ${lease.subpath} into revision ${revision}`, { changes, revision });
    return revision;
  } catch (err) {
    await Promise.all(linked.map((p) => unlink(p).catch(() => undefined)));
    if (err instanceof GatewayError) throw err;
    throw new GatewayError(`commit ${lease.fqrn}${lease.subpath}: ${(err as Error).message}`, `merge_error: ${(err as Error).message}`, { cause: err });
  } finally {
    for (const e of editors) e.close();
    await rm(staging, { recursive: true, force: true });
  }
}

/** Hidden `/.cvmfs` entries and special files are not replayed, as in the real merge tool. */
function replayable(change: CatalogChange): boolean {
  if (change.path === "/.cvmfs" || change.path.startsWith("/.cvmfs/")) return false;
  return change.entry.kind !== "special";
}

/**
 * Stricter than the real receiver: every object a new or changed entry names must already be in
 * the repository, so a publisher that forgot to upload something fails here, not on clients.
 * A nested catalog mounted whole is checked row by row (whole-file objects; chunk lists are
 * checked for entries replayed one by one), its own nested catalogs included.
 */
async function checkObjects(s0: Stratum0, change: CatalogChange): Promise<void> {
  if (change.kind === "remove") return;
  const missing = (what: string) =>
    new GatewayError(`commit: ${what} is not in the repository`, `merge_error: missing object ${what} for ${change.path}`);
  if (change.nested) {
    const pending = [change.nested.hash];
    while (pending.length > 0) {
      const h = pending.pop() as string;
      if (!(await s0.store.has(h, "C"))) throw missing(`${h}C`);
      const cat = openCatalog(await s0.catalogLoader(h));
      try {
        for (const e of cat.entries()) if (e.hash && !(await s0.store.has(e.hash, ""))) throw missing(e.hash);
        for (const n of cat.nested()) pending.push(n.hash);
      } finally {
        cat.close();
      }
    }
    return;
  }
  if (change.entry.hash && !(await s0.store.has(change.entry.hash, ""))) throw missing(change.entry.hash);
  for (const c of change.chunks ?? []) if (!(await s0.store.has(c.hash, "P"))) throw missing(`${c.hash}P`);
}

/**
 * Put a finished object at `target`: a hard link (atomic, no copy), or a copy where no link can
 * be made (EXDEV: `data/txn` mounted apart; EPERM: a filesystem without hard links). A copy is
 * never seen half-written by a client: the manifest that names it is published after it.
 */
async function linkOrCopy(source: string, target: string): Promise<void> {
  try {
    await link(source, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EXDEV" && code !== "EPERM") throw err;
    await copyFile(source, target, constants.COPYFILE_EXCL);
  }
}
