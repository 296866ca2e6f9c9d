/**
 * The dev gateway with its stratum 0 on one filesystem (/dev/shm) and $TMPDIR on another: a
 * commit links its merged catalogs into the repository, which only works when they were staged
 * on the repository's own filesystem.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeImageCatalogs } from "../../src/cvmfs/catalog/writer.js";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import { createRepositoryServer, type RepositoryServer } from "../../src/cvmfs/repository/serve.js";
import { Stratum0 } from "../../src/cvmfs/repository/stratum0.js";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { singleKeyAccess } from "../../src/gateway/access-config.js";
import { createGatewayHandler, type GatewayHandler } from "../../src/gateway/dev-gateway.js";
import { GatewayClient } from "../../src/gateway/gateway-client.js";
import { publishThroughGateway } from "../../src/gateway/gateway-publisher.js";
import { GatewayKey } from "../../src/gateway/key-file.js";
import type { DirNode } from "../../src/tree/types.js";
import { shmIsSeparate, testdir, type Testdir } from "../support/testdir.js";

const FQRN = "xfs.gw.org";
const key = new GatewayKey("xfs", "xfs-secret");
const meta = { mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000, mtimeNs: 0 };

describe.skipIf(!shmIsSeparate())("a dev gateway whose stratum 0 is on another filesystem than $TMPDIR", () => {
  let shm: string;
  let work: Testdir;
  let handler: GatewayHandler;
  let server: RepositoryServer;
  beforeAll(async () => {
    shm = await mkdtemp("/dev/shm/cis-xfs-");
    work = await testdir();
    await (await Stratum0.openOrCreate(join(shm, "s0"), { fqrn: FQRN, keysDir: work.join("keys") })).close();
    // The default commit processor: it opens the stratum 0 itself, as `serve` does.
    handler = await createGatewayHandler({ stratum0Dir: join(shm, "s0"), fqrn: FQRN, keysDir: work.join("keys"), access: singleKeyAccess(FQRN, key) });
    server = await createRepositoryServer({ dir: join(shm, "s0"), fqrn: FQRN, apiHandler: handler });
  });
  afterAll(async () => {
    await server?.close();
    await handler?.close();
    await rm(shm, { recursive: true, force: true });
    await work?.cleanup();
  });

  it("commits, and leaves nothing staged behind", async () => {
    const store = await LocalContentStore.create(work.join("staging"));
    const content = await store.putFile(Readable.from([Buffer.from("across filesystems\n")]));
    const tree: DirNode = { ...meta, type: "dir", children: new Map([["f", { ...meta, mode: 0o644, type: "file", content, inode: 1 }]]) };
    const ref = await writeImageCatalogs(tree, "/.images/xfs", store, { mtime: meta.mtime });
    const r = await publishThroughGateway({
      client: new GatewayClient({ url: `http://127.0.0.1:${server.port}/api/v1`, key }),
      fqrn: FQRN,
      repoUrl: server.url,
      leasePath: "/.images/xfs",
      staging: store,
      edit: (e) => e.mountNested("/.images/xfs", ref),
      handleSignals: false,
    });
    expect(r.revision).toBeGreaterThan(0);
    const { problems, stats } = await verifyRepository({ dir: join(shm, "s0") }, { fqrn: FQRN, pubkeyPath: work.join("keys", `${FQRN}.pub`) });
    expect(problems).toEqual([]);
    expect(stats.revision).toBe(r.revision);
    expect(await readdir(join(shm, "s0", "data", "txn"))).toEqual([]);
  });
});
