import { rm } from "node:fs/promises";
import { CatalogEditor } from "../cvmfs/catalog/editor.js";
import { LocalContentStore } from "../cvmfs/objects/local-content-store.js";
import { RepositoryReader } from "../cvmfs/repository/repository-reader.js";
import { Stratum0 } from "../cvmfs/repository/stratum0.js";
import type { RepositoryTarget } from "../config/settings.js";
import { GatewayClient } from "../gateway/gateway-client.js";
import { publishThroughGateway } from "../gateway/gateway-publisher.js";
import { readGatewayKey } from "../gateway/key-file.js";
import { newStagingDir } from "../gateway/staging-dir.js";
import type { Logger } from "../logger.js";

/** One change to publish: the edit runs on an editor opened on the published root. */
export interface Change {
  /** Repository path the change stays inside (a gateway lease is taken there). */
  leasePath: string;
  edit(editor: CatalogEditor, store: LocalContentStore): Promise<boolean>;
  tagName: string;
  tagDescription: string;
}

/**
 * Where a sync publishes: a local stratum 0 (all changes in one revision) or a gateway (each
 * image under its own lease, so several runners can publish at once). Both hand out a content
 * store for an image's objects and read the published state through a RepositoryReader.
 */
export interface PublishTarget {
  readonly kind: RepositoryTarget["kind"];
  /** A reader of the currently published repository. Close it after use. */
  openReader(): Promise<RepositoryReader>;
  /** A store for one image's objects (its own counters give the bytes that image added). */
  imageStore(tag: string): Promise<LocalContentStore>;
  /** Publishes one image's objects and catalogs now (gateway), or queues it for `publish` (local). */
  publishImage(change: Change, store: LocalContentStore): Promise<{ uploadedBytes?: number; revision?: number }>;
  /** Publishes the final change (tags, removals, schedule); null when nothing changed. */
  publish(change: Change): Promise<{ revision: number } | null>;
  close(): Promise<void>;
}

/** Opens the target; a local stratum 0 is created (keys, empty root) when missing. */
export async function openPublishTarget(
  target: RepositoryTarget,
  opts: { fqrn: string; keysDir: string; cacheDir: string; logger: Logger; signal?: AbortSignal; pubkeyPath?: string },
): Promise<PublishTarget> {
  if (target.kind === "local") return openLocal(target.stratum0, opts);
  return openGateway(target, opts);
}

async function openLocal(dir: string, opts: { fqrn: string; keysDir: string; logger: Logger }): Promise<PublishTarget> {
  const s0 = await Stratum0.openOrCreate(dir, { fqrn: opts.fqrn, keysDir: opts.keysDir, logger: opts.logger });
  const queued: Change[] = [];
  return {
    kind: "local",
    openReader: () => RepositoryReader.open({ dir }, { fqrn: opts.fqrn }),
    imageStore: async () => new LocalContentStore(dir, { hashAlgorithm: s0.hashAlgorithm }),
    async publishImage(change) {
      queued.push(change);
      return {};
    },
    async publish(change) {
      // The root as published now: another run may have published since this one opened it
      // (a change made between this read and the publish is caught as a conflict by publish).
      const base = await s0.refresh();
      const editor = await CatalogEditor.open(base.catalogHash, s0.catalogLoader);
      try {
        let changed = false;
        for (const c of [...queued, change]) changed = (await c.edit(editor, s0.store)) || changed;
        queued.length = 0;
        if (!changed) return null;
        const finished = await editor.finish(s0.store, { revision: base.revision + 1 });
        const manifest = await s0.publish({
          rootHash: finished.rootHash,
          rootSize: finished.rootSize,
          tagName: change.tagName,
          tagDescription: change.tagDescription,
          baseRootHash: base.catalogHash,
        });
        return { revision: manifest.revision };
      } finally {
        editor.close();
      }
    },
    close: () => s0.close(),
  };
}

async function openGateway(
  target: Extract<RepositoryTarget, { kind: "gateway" }>,
  opts: { fqrn: string; cacheDir: string; logger: Logger; signal?: AbortSignal; pubkeyPath?: string },
): Promise<PublishTarget> {
  const key = await readGatewayKey(target.gatewayKeyFile);
  const client = new GatewayClient({ url: target.gatewayUrl.replace(/\/+$/, ""), key, logger: opts.logger });
  const stagingDirs: string[] = [];
  const staging = async (tag: string): Promise<LocalContentStore> => {
    const dir = await newStagingDir(opts.cacheDir, tag);
    stagingDirs.push(dir);
    return LocalContentStore.create(dir);
  };
  const publishOne = async (change: Change, store: LocalContentStore) => {
    let changed = false;
    const result = await publishThroughGateway({
      client,
      fqrn: opts.fqrn,
      repoUrl: target.repoUrl,
      ...(opts.pubkeyPath ? { pubkeyPath: opts.pubkeyPath } : {}),
      leasePath: change.leasePath,
      staging: store,
      edit: async (editor) => {
        changed = await change.edit(editor, store);
      },
      tagName: change.tagName,
      tagDescription: change.tagDescription,
      ...(opts.signal ? { signal: opts.signal } : {}),
      logger: opts.logger,
    });
    return { ...result, changed };
  };
  return {
    kind: "gateway",
    openReader: () => RepositoryReader.open({ url: target.repoUrl }, { fqrn: opts.fqrn, ...(opts.pubkeyPath ? { pubkeyPath: opts.pubkeyPath } : {}) }),
    imageStore: staging,
    async publishImage(change, store) {
      const r = await publishOne(change, store);
      return { uploadedBytes: r.uploadedBytes, revision: r.revision };
    },
    async publish(change) {
      const r = await publishOne(change, await staging("tags"));
      return { revision: r.revision };
    },
    async close() {
      await Promise.all(stagingDirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}
