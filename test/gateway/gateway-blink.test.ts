/**
 * A gateway (and the stratum 0 behind it) that restarts for about a second mid-publish: the
 * publish rides it out with the shared retry policy, and what finally fails names its request.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeImageCatalogs } from "../../src/cvmfs/catalog/writer.js";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import { RepositoryReader } from "../../src/cvmfs/repository/repository-reader.js";
import { createRepositoryServer, type RepositoryServer } from "../../src/cvmfs/repository/serve.js";
import { Stratum0 } from "../../src/cvmfs/repository/stratum0.js";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { singleKeyAccess } from "../../src/gateway/access-config.js";
import { createGatewayHandler, type GatewayHandler } from "../../src/gateway/dev-gateway.js";
import { GatewayClient } from "../../src/gateway/gateway-client.js";
import { publishThroughGateway } from "../../src/gateway/gateway-publisher.js";
import { missingObjects } from "../../src/gateway/_staged-objects.js";
import { GatewayKey } from "../../src/gateway/key-file.js";
import { memoryLogger, type LogEvent } from "../../src/logger.js";
import type { DirNode } from "../../src/tree/types.js";
import { freePort } from "../support/registry.js";

const FQRN = "blink.gw.org";
const key = new GatewayKey("blink", "blink-secret");
const meta = { mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000, mtimeNs: 0 };
let root: string;
let dir: string;
let keysDir: string;
let handler: GatewayHandler;
let port: number;
let server: RepositoryServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "gwblink-"));
  dir = join(root, "stratum0");
  keysDir = join(root, "keys");
  await (await Stratum0.openOrCreate(dir, { fqrn: FQRN, keysDir })).close();
  handler = await createGatewayHandler({ stratum0Dir: dir, fqrn: FQRN, keysDir, access: singleKeyAccess(FQRN, key) });
  server = await createRepositoryServer({ dir, fqrn: FQRN, apiHandler: handler });
  port = server.port;
});
afterAll(async () => {
  await server.close();
  await handler.close();
  await rm(root, { recursive: true, force: true });
});

/** Stop the server now and start it again on the same port (same gateway, same leases) after `ms`. */
function blink(ms: number): Promise<number> {
  return (async () => {
    await server.close();
    await sleep(ms);
    server = await createRepositoryServer({ dir, fqrn: FQRN, port, apiHandler: handler });
    return Date.now();
  })();
}

/** Publish a small image at /.images/<name>, blinking the server when `event` is logged. */
async function publishBlinking(name: string, event: string): Promise<{ events: LogEvent[]; restarted: Promise<number> | undefined; finished: number }> {
  const store = await LocalContentStore.create(await mkdtemp(join(root, "staging-")));
  const tree: DirNode = { ...meta, type: "dir", children: new Map() };
  for (let i = 0; i < 12; i++) {
    const content = await store.putFile(Readable.from([Buffer.from(`${name} file ${i}\n`.repeat(200 + i))]));
    tree.children.set(`f${i}`, { ...meta, mode: 0o644, type: "file", content, inode: i + 1 });
  }
  const mount = `/.images/${name}`;
  const ref = await writeImageCatalogs(tree, mount, store, { mtime: meta.mtime });
  const memory = memoryLogger();
  let restarted: Promise<number> | undefined;
  const logger = {
    log(e: LogEvent) {
      memory.log(e);
      if (e.event === event && restarted === undefined) restarted = blink(1000);
    },
  };
  await publishThroughGateway({
    client: new GatewayClient({ url: `http://127.0.0.1:${port}/api/v1`, key, logger }),
    fqrn: FQRN,
    repoUrl: `http://127.0.0.1:${port}/cvmfs/${FQRN}`,
    pubkeyPath: join(keysDir, `${FQRN}.pub`),
    leasePath: mount,
    staging: store,
    edit: (e) => e.mountNested(mount, ref),
    handleSignals: false,
    maxObjects: 3,
    logger,
  });
  return { events: memory.events, restarted, finished: Date.now() };
}

async function readBack(path: string): Promise<string> {
  const r = await RepositoryReader.open({ url: server.url }, { fqrn: FQRN });
  try {
    const parts: Buffer[] = [];
    for await (const c of r.readFile(path)) parts.push(c as Buffer);
    return Buffer.concat(parts).toString();
  } finally {
    await r.close();
  }
}

describe("a gateway that restarts for a second", () => {
  it.each([
    ["right after the lease (manifest GET, object HEADs)", "gateway.lease"],
    ["during the upload (payloads, commit)", "gateway.upload"],
  ])("is ridden out %s", async (_when, event) => {
    const name = event.replace(".", "-");
    const { events, restarted, finished } = await publishBlinking(name, event);
    expect(restarted).toBeDefined();
    // The server went away mid-publish, and the publish could only end once it was back.
    expect(finished).toBeGreaterThanOrEqual(await (restarted as Promise<number>));
    if (event === "gateway.upload") expect(events.filter((e) => e.event === "gateway.retry").length).toBeGreaterThan(0);
    expect(await readBack(`/.images/${name}/f3`)).toBe(`${name} file 3\n`.repeat(203));
    expect(handler.leases.list()).toEqual([]);
    const { problems } = await verifyRepository({ dir }, { fqrn: FQRN, pubkeyPath: join(keysDir, `${FQRN}.pub`) });
    expect(problems).toEqual([]);
  });
});

describe("a gateway that stays away", () => {
  it("fails, after the retries, naming the method and the URL of the request", async () => {
    const gone = await freePort();
    const client = new GatewayClient({ url: `http://127.0.0.1:${gone}/api/v1`, key, retry: { retries: 2, baseMs: 10, maxMs: 20 } });
    const err = await client.acquire(FQRN, "/x").then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe("E_GATEWAY");
    expect(err?.message).toMatch(new RegExp(`^POST http://127\\.0\\.0\\.1:${gone}/api/v1/leases: .*ECONNREFUSED.*\\(gave up after 3 tries\\)$`));

    const object = { hash: "ab".repeat(20), size: 1, path: "/dev/null" };
    const head = await missingObjects(`http://127.0.0.1:${gone}/cvmfs/${FQRN}`, [object], { retry: { retries: 1, baseMs: 10, maxMs: 10 } }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(head?.code).toBe("E_GATEWAY");
    expect(head?.message).toMatch(new RegExp(`^HEAD http://127\\.0\\.0\\.1:${gone}/cvmfs/${FQRN}/data/ab/${"ab".repeat(19)}: .*ECONNREFUSED`));
  });

  it("names the URL when the stratum 0 cannot be read", async () => {
    const gone = await freePort();
    const err = await RepositoryReader.open({ url: `http://127.0.0.1:${gone}/cvmfs/${FQRN}` }, { fqrn: FQRN }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe("E_REPOSITORY");
    expect(err?.message).toMatch(new RegExp(`^GET http://127\\.0\\.0\\.1:${gone}/cvmfs/${FQRN}/\\.cvmfspublished: .*ECONNREFUSED.*\\(gave up after 5 tries\\)`));
  });
});
