/**
 * `sync` through the gateway API: the dev gateway of `serve` in front of a stratum 0, the client
 * taking one lease per image and one for the names, over real HTTP on 127.0.0.1.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepositoryReader } from "../../src/cvmfs/repository/repository-reader.js";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { createLayout } from "../../src/published/layout.js";
import { startGatewayRepository, type GatewayRepository } from "../support/gateway-repository.js";
import { pushImage, type PushedImage } from "../support/image-builder.js";
import { buildLayer } from "../support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { runCli } from "../support/run-cli.js";
import { testdir, type Testdir } from "../support/testdir.js";

const FQRN = "gw.test.org";
let registry: TestRegistry;
let dir: Testdir;
let repo: GatewayRepository;
let server: GatewayRepository["server"];
let gateway: GatewayRepository["gateway"];
const layout = createLayout();

beforeAll(async () => {
  registry = await startRegistry("anonymous");
  dir = await testdir({ "gw.key": "plain_text sync-key 0123456789abcdef0123456789abcdef\n" });
  repo = await startGatewayRepository(dir, FQRN);
  ({ server, gateway } = repo);
});

afterAll(async () => {
  await repo?.close();
  await registry?.stop();
  await dir?.cleanup();
});

const gatewayUrl = () => repo.gatewayUrl;

async function sync(lines: string[]) {
  await writeFile(dir.join("images.txt"), lines.map((l) => `${registry.host}/${l}`).join("\n"));
  return runCli([
    "sync",
    "--wishlist", dir.join("images.txt"),
    "--repo", FQRN,
    "--gateway", gatewayUrl(),
    "--gateway-key", dir.join("gw.key"),
    "--repo-url", server.url,
    "--keys-dir", dir.join("keys"),
    "--cache-dir", dir.join("cache"),
    "--insecure-registry", registry.host,
    "--keep-removed", "0",
    "--log-format", "json",
  ]);
}

describe("sync through the gateway", () => {
  const images: Record<string, PushedImage> = {};

  it("publishes each image under its own lease, then the names, and verify passes over HTTP", async () => {
    const base = await buildLayer([{ type: "file", path: "etc/base", content: { size: 200_000, seed: 5 } }]);
    for (const name of ["lab/one:1", "lab/two:1"]) {
      images[name] = await pushImage(registry, name, {
        layers: [base, await buildLayer([{ type: "file", path: `srv/${name.replace(/[/:]/g, "_")}`, content: name }])],
      });
    }
    const commitsBefore = gateway.stats.commits;
    const run = await sync(Object.keys(images));
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    const leases = run.events().filter((e) => e["event"] === "gateway.published");
    expect(leases.length).toBe(3);
    // N changed images cost N + 1 commits (one per image lease, one for names and index): said and done.
    expect(run.stdout).toMatch(/published revision \d+ in 3 commits;/);
    expect(gateway.stats.commits - commitsBefore).toBe(3);
    expect(gateway.leases.list()).toHaveLength(0);

    const { problems } = await verifyRepository({ url: server.url }, { fqrn: FQRN, pubkeyPath: dir.join("keys", `${FQRN}.pub`) });
    expect(problems).toEqual([]);
    const reader = await RepositoryReader.open({ url: server.url }, { fqrn: FQRN });
    for (const [name, image] of Object.entries(images)) {
      const target = await reader.readlink(`/${name}`);
      expect(path.posix.resolve(path.posix.dirname(`/${name}`), target)).toBe(layout.imageDir(image.configDigest));
      const bytes: Buffer[] = [];
      for await (const c of reader.readFile(`${layout.imageDir(image.configDigest)}/srv/${name.replace(/[/:]/g, "_")}`)) bytes.push(c as Buffer);
      expect(Buffer.concat(bytes).toString()).toBe(name);
    }
    await reader.close();
  });

  it("a second sync takes no lease and adds no revision", async () => {
    const before = await RepositoryReader.open({ url: server.url }, { fqrn: FQRN });
    const revision = before.manifest.revision;
    await before.close();
    const commits = gateway.stats.commits;
    const run = await sync(Object.keys(images));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("nothing to publish");
    expect(gateway.stats.commits).toBe(commits);
    const after = await RepositoryReader.open({ url: server.url }, { fqrn: FQRN });
    expect(after.manifest.revision).toBe(revision);
    await after.close();
  });

  it("removing a name publishes through one lease and the image directory goes", async () => {
    const run = await sync(["lab/one:1"]);
    expect(run.code).toBe(0);
    const reader = await RepositoryReader.open({ url: server.url }, { fqrn: FQRN });
    expect(await reader.lookup("/lab/two:1")).toBeNull();
    expect(await reader.lookup(layout.imageDir(images["lab/two:1"]!.configDigest))).toBeNull();
    expect((await reader.lookup("/lab/one:1"))?.kind).toBe("symlink");
    await reader.close();
    const { problems } = await verifyRepository({ url: server.url }, { fqrn: FQRN });
    expect(problems).toEqual([]);
  });
});
