import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeImageCatalogs } from "../../src/cvmfs/catalog/writer.js";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import { RepositoryReader } from "../../src/cvmfs/repository/repository-reader.js";
import { createRepositoryServer, type RepositoryServer } from "../../src/cvmfs/repository/serve.js";
import { Stratum0 } from "../../src/cvmfs/repository/stratum0.js";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { singleKeyAccess } from "../../src/gateway/access-config.js";
import { createCommitProcessor } from "../../src/gateway/commit-processor.js";
import { createGatewayHandler, type GatewayHandler } from "../../src/gateway/dev-gateway.js";
import { GatewayClient } from "../../src/gateway/gateway-client.js";
import { publishThroughGateway, type GatewayPublishOptions } from "../../src/gateway/gateway-publisher.js";
import { GatewayKey } from "../../src/gateway/key-file.js";
import { memoryLogger, type Logger } from "../../src/logger.js";
import type { DirNode, FileNode } from "../../src/tree/types.js";
import { snapshot } from "./_harness.js";

const FQRN = "pub.gw.org";
let root: string;
let dir: string;
let keysDir: string;
let s0: Stratum0;
let server: RepositoryServer;
let handler: GatewayHandler;
let client: GatewayClient;
let failCommits = 0;
let commitAttempts = 0;
const staging: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "gwpub-"));
  dir = join(root, "stratum0");
  keysDir = join(root, "keys");
  s0 = await Stratum0.openOrCreate(dir, { fqrn: FQRN, keysDir });
  const real = createCommitProcessor({ stratum0: s0 });
  const key = new GatewayKey("pub", "publisher-secret");
  handler = await createGatewayHandler({
    stratum0Dir: dir,
    fqrn: FQRN,
    keysDir,
    access: singleKeyAccess(FQRN, key),
    commit: async (lease, req) => {
      commitAttempts++;
      if (failCommits > 0) {
        failCommits--;
        throw new Error("injected commit failure");
      }
      return real(lease, req);
    },
  });
  server = await createRepositoryServer({ dir, fqrn: FQRN, apiHandler: handler });
  client = new GatewayClient({ url: `http://127.0.0.1:${server.port}/api/v1`, key });
});
afterAll(async () => {
  await server.close();
  await s0.close();
  await rm(root, { recursive: true, force: true });
});

const meta = { mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000, mtimeNs: 0 };

async function newStaging(): Promise<LocalContentStore> {
  const d = await mkdtemp(join(root, "staging-"));
  staging.push(d);
  return LocalContentStore.create(d);
}

/** Stage an image tree of `files` and return publish options mounting it at /.images/<name>. */
async function imageOptions(name: string, files: Record<string, Buffer | string>, extra: Partial<GatewayPublishOptions> = {}): Promise<GatewayPublishOptions> {
  const store = await newStaging();
  const tree: DirNode = { ...meta, type: "dir", children: new Map() };
  let inode = 1;
  for (const [fname, body] of Object.entries(files)) {
    const content = await store.putFile(Readable.from([Buffer.from(body)]));
    const node: FileNode = { ...meta, mode: 0o644, type: "file", content, inode: inode++ };
    tree.children.set(fname, node);
  }
  const mount = `/.images/${name}`;
  const ref = await writeImageCatalogs(tree, mount, store, { mtime: meta.mtime });
  return {
    client,
    fqrn: FQRN,
    repoUrl: server.url,
    pubkeyPath: join(keysDir, `${FQRN}.pub`),
    leasePath: mount,
    staging: store,
    edit: (e) => e.mountNested(mount, ref),
    handleSignals: false,
    acquire: { minDelayMs: 20, maxDelayMs: 100 },
    ...extra,
  };
}

async function readText(path: string): Promise<string> {
  return (await readBytes(path)).toString();
}

async function readBytes(path: string): Promise<Buffer> {
  const r = await RepositoryReader.open({ url: server.url }, { fqrn: FQRN, pubkeyPath: join(keysDir, `${FQRN}.pub`) });
  try {
    const parts: Buffer[] = [];
    for await (const c of r.readFile(path)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  } finally {
    await r.close();
  }
}

async function verify(): Promise<void> {
  const { problems } = await verifyRepository({ url: server.url }, { fqrn: FQRN, pubkeyPath: join(keysDir, `${FQRN}.pub`) });
  expect(problems).toEqual([]);
}

describe("publishing through the dev gateway", () => {
  it("creates missing parents, publishes an image and a symlink, and the result verifies", async () => {
    const before = s0.manifest().revision;
    const r = await publishThroughGateway(await imageOptions("first", { "hello.txt": "hello world\n", "empty": "" }));
    // One commit: /.images is missing, so the lease is taken there and the commit creates it too.
    expect(r.revision).toBe(before + 1);
    expect(await readText("/.images/first/hello.txt")).toBe("hello world\n");
    expect(await readText("/.images/first/empty")).toBe("");
    const store = await newStaging();
    const link = await publishThroughGateway({
      ...(await imageOptions("unused", {})),
      staging: store,
      leasePath: "/library/first:latest",
      edit: (e) => e.putSymlink("/library/first:latest", "../.images/first"),
    });
    expect(link.revision).toBe(r.revision + 1);
    const reader = await RepositoryReader.open({ url: server.url }, { fqrn: FQRN });
    expect(await reader.readlink("/library/first:latest")).toBe("../.images/first");
    expect(reader.manifest.catalogHash).toBe(link.rootHash);
    await reader.close();
    expect(handler.leases.list()).toEqual([]);
    await verify();
  });

  it("lands two publishers on disjoint paths concurrently", async () => {
    const [a, b] = await Promise.all([
      publishThroughGateway(await imageOptions("alpha", { a: "A\n" })),
      publishThroughGateway(await imageOptions("beta", { b: "B\n" })),
    ]);
    expect(new Set([a.revision, b.revision]).size).toBe(2);
    expect(await readText("/.images/alpha/a")).toBe("A\n");
    expect(await readText("/.images/beta/b")).toBe("B\n");
    await verify();
  });

  it("makes an overlapping publisher wait (/gamma blocks /gamma2) and land after", async () => {
    const logs = [memoryLogger(), memoryLogger()];
    const clients = logs.map((l) => new GatewayClient({ url: `http://127.0.0.1:${server.port}/api/v1`, key: new GatewayKey("pub", "publisher-secret"), logger: l }));
    const [a, b] = await Promise.all([
      publishThroughGateway({ ...(await imageOptions("gamma", { g: "G\n" })), client: clients[0]! }),
      publishThroughGateway({ ...(await imageOptions("gamma2", { g2: "G2\n" })), client: clients[1]! }),
    ]);
    const busy = logs.flatMap((l) => l.events.filter((e) => e.event === "gateway.busy"));
    expect(busy.length).toBeGreaterThan(0);
    expect(Math.abs(a.revision - b.revision)).toBe(1);
    expect(await readText("/.images/gamma/g")).toBe("G\n");
    expect(await readText("/.images/gamma2/g2")).toBe("G2\n");
    await verify();
  });

  it("refuses a commit with an unknown old root, leaving the stratum 0 byte-identical", async () => {
    const token = await client.acquire(FQRN, "/.images/x");
    const before = await snapshot(dir);
    const current = `${s0.manifest().catalogHash}C`;
    await expect(client.commit(token, { oldRootHash: `${"0".repeat(40)}C`, newRootHash: current })).rejects.toMatchObject({
      reason: expect.stringMatching(/^merge_error: catalog 0{40}C \(old_root_hash\) is not in the repository/),
    });
    await expect(client.commit(token, { oldRootHash: current, newRootHash: current })).rejects.toMatchObject({
      reason: expect.stringMatching(/no statistics counters/),
    });
    await client.drop(token);
    const t2 = await client.acquire(FQRN, "/.images/x");
    await expect(client.commit(t2, { oldRootHash: current.slice(0, -1), newRootHash: current })).rejects.toMatchObject({
      reason: expect.stringMatching(/C suffix|ending in C/),
    });
    await client.drop(t2);
    const bad = new GatewayClient({ url: `http://127.0.0.1:${server.port}/api/v1`, key: new GatewayKey("pub", "wrong") });
    await expect(bad.commit("AAAA", { oldRootHash: current, newRootHash: current })).rejects.toMatchObject({ reason: "invalid_hmac" });
    expect(await snapshot(dir)).toEqual(before);
  });

  it("drops the lease and leaves the repository unchanged when aborted mid-upload", async () => {
    const ac = new AbortController();
    const logger: Logger = { log: (e) => void (e.event === "gateway.upload" && ac.abort(new Error("killed"))) };
    const files = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, randomBytes(20_000)]));
    const opts = await imageOptions("aborted", files, { signal: ac.signal, logger });
    const before = await snapshot(dir);
    await expect(publishThroughGateway(opts)).rejects.toThrow();
    expect(handler.leases.list()).toEqual([]);
    expect(await snapshot(dir)).toEqual(before);
  });

  it("drops the lease when the caller's edit throws", async () => {
    const before = await snapshot(dir);
    const opts = await imageOptions("throwing", { t: "t\n" });
    await expect(
      publishThroughGateway({
        ...opts,
        edit: async () => {
          expect(handler.leases.list().map((l) => l.subpath)).toEqual(["/.images/throwing"]);
          throw new Error("edit exploded");
        },
      }),
    ).rejects.toThrow("edit exploded");
    expect(handler.leases.list()).toEqual([]);
    expect(await snapshot(dir)).toEqual(before);
  });

  it("drops the lease when the publishing process gets SIGTERM mid-upload", async () => {
    const work = await mkdtemp(join(root, "child-"));
    const before = s0.manifest();
    // Asynchronously: this process serves the gateway the child talks to.
    const child = await execa(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "_sigterm-publisher.ts"), `http://127.0.0.1:${server.port}/api/v1`, server.url, "pub", "publisher-secret", FQRN, work],
      { cwd: join(import.meta.dirname, "..", ".."), timeout: 30_000, reject: false },
    );
    expect(child.stdout.trim().split("\n").pop()).toBe("E_ABORTED");
    expect(child.exitCode).toBe(3);
    expect(handler.leases.list()).toEqual([]);
    expect(s0.manifest().catalogHash).toBe(before.catalogHash);
  });

  it("retries a failed commit on a new lease with a fresh upload", async () => {
    failCommits = 1;
    const attempts = commitAttempts;
    const payloads = handler.stats.payloads;
    const r = await publishThroughGateway(await imageOptions("retried", { r: "retry\n" }));
    expect(commitAttempts - attempts).toBe(2);
    expect(handler.stats.payloads - payloads).toBe(2);
    expect(r.revision).toBe(s0.manifest().revision);
    expect(await readText("/.images/retried/r")).toBe("retry\n");
    expect(handler.leases.list()).toEqual([]);
    await verify();
  });

  it("uploads only what the repository lacks", async () => {
    const shared = Object.fromEntries(Array.from({ length: 18 }, (_, i) => [`s${i}`, randomBytes(10_000)]));
    const first = { ...shared, n1: randomBytes(10_000), n2: randomBytes(10_000) };
    await publishThroughGateway(await imageOptions("ninety-a", first));
    const s = { ...handler.stats };
    const second = { ...shared, m1: randomBytes(10_000), m2: randomBytes(10_000) };
    const r = await publishThroughGateway(await imageOptions("ninety-b", second));
    const received = handler.stats.objectsReceived - s.objectsReceived;
    const bytes = handler.stats.payloadBytes - s.payloadBytes;
    // 2 new files + the image's catalog + the new root catalog; no shared file object again.
    expect(received).toBe(4);
    expect(r.uploadedObjects).toBe(4);
    expect(handler.stats.objectsStored - s.objectsStored).toBe(4);
    expect(bytes).toBeLessThan(2 * 10_100 + 20_000);
    expect((await readBytes("/.images/ninety-b/m1")).equals(second.m1)).toBe(true);
    expect((await readBytes("/.images/ninety-b/s3")).equals(shared.s3 as Buffer)).toBe(true);
    await verify();
  });
});

describe("the default commit processor", () => {
  it("opens the stratum 0 on first commit and publishes the next revision", async () => {
    const r2 = await mkdtemp(join(tmpdir(), "gwdef-"));
    try {
      const d = join(r2, "s0");
      const k = join(r2, "keys");
      const created = await Stratum0.openOrCreate(d, { fqrn: FQRN, keysDir: k });
      const root0 = created.manifest();
      await created.close();
      const key = new GatewayKey("pub", "x");
      const h = await createGatewayHandler({ stratum0Dir: d, fqrn: FQRN, keysDir: k, access: singleKeyAccess(FQRN, key) });
      const srv = await createRepositoryServer({ dir: d, fqrn: FQRN, apiHandler: h });
      try {
        const c = new GatewayClient({ url: `http://127.0.0.1:${srv.port}/api/v1`, key });
        const token = await c.acquire(FQRN, "/");
        await c.submitPayload(token, []);
        const rootC = `${root0.catalogHash}C`;
        expect(await c.commit(token, { oldRootHash: rootC, newRootHash: rootC, tagName: "first" })).toBe(root0.revision + 1);
        const { problems, stats } = await verifyRepository({ url: srv.url }, { fqrn: FQRN, pubkeyPath: join(k, `${FQRN}.pub`) });
        expect(problems).toEqual([]);
        expect(stats.revision).toBe(root0.revision + 1);
      } finally {
        await srv.close();
        await h.close();
      }
    } finally {
      await rm(r2, { recursive: true, force: true });
    }
  });
});
