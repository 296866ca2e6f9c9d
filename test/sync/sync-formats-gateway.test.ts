/**
 * `sync --formats sandbox,podman,layers` through the dev gateway: a layer that needs a whiteout
 * cannot cross the receiver's catalog merge, so it is skipped with a warning saying why; every
 * other layer, the sandboxes and the Podman store are published, each layer under its own lease.
 */
import { writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportRepository } from "../../src/cvmfs/export/export-repository.js";
import { RepositoryReader } from "../../src/cvmfs/repository/repository-reader.js";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { createLayout } from "../../src/published/layout.js";
import { startGatewayRepository, type GatewayRepository } from "../support/gateway-repository.js";
import { pushImage, type PushedImage } from "../support/image-builder.js";
import { buildLayer, type BuiltLayer } from "../support/layer-builder.js";
import { catEntries, podmanAsRoot, startPodman } from "../support/podman.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { runCli } from "../support/run-cli.js";
import { testdir, type Testdir } from "../support/testdir.js";

const FQRN = "gwformats.test.org";
let registry: TestRegistry;
let dir: Testdir;
let repo: GatewayRepository;
let server: GatewayRepository["server"];
let gateway: GatewayRepository["gateway"];
const layout = createLayout();
const layers: Record<string, BuiltLayer> = {};
let image: PushedImage;

beforeAll(async () => {
  registry = await startRegistry("anonymous");
  dir = await testdir({ "gw.key": "plain_text sync-key 0123456789abcdef0123456789abcdef\n" });
  repo = await startGatewayRepository(dir, FQRN);
  ({ server, gateway } = repo);
  layers["base"] = await buildLayer([
    ...(await catEntries()),
    { type: "file", path: "etc/os-release", content: 'NAME="Gateway Formats"\n' },
    { type: "file", path: "etc/old", content: "old\n" },
  ]);
  layers["whiteout"] = await buildLayer([{ type: "whiteout", path: "etc/old" }]);
  layers["plain"] = await buildLayer([{ type: "file", path: "etc/motd", content: "hi\n" }]);
  image = await pushImage(registry, "gw/app:1", { layers: [layers["base"]!, layers["whiteout"]!, layers["plain"]!] });
});

afterAll(async () => {
  await repo?.close();
  await registry?.stop();
  await dir?.cleanup();
});

const gatewayUrl = () => repo.gatewayUrl;

describe("sync --formats through a gateway", () => {
  it("skips the layer that needs a whiteout, with the reason, and publishes the rest", async () => {
    await writeFile(dir.join("images.txt"), `${registry.host}/gw/app:1\n`);
    const commitsBefore = gateway.stats.commits;
    const run = await runCli([
      "sync",
      "--wishlist", dir.join("images.txt"),
      "--repo", FQRN,
      "--gateway", gatewayUrl(),
      "--gateway-key", dir.join("gw.key"),
      "--repo-url", server.url,
      "--keys-dir", dir.join("keys"),
      "--cache-dir", dir.join("cache"),
      "--insecure-registry", registry.host,
      "--formats", "sandbox,podman,layers",
      "--log-format", "json",
    ]);
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    const skipped = run.events().filter((e) => e["event"] === "layer.skipped");
    expect(skipped.map((e) => e["layer"])).toEqual([layers["whiteout"]!.digest]);
    expect(String(skipped[0]!["message"])).toMatch(/1 whiteout, which a gateway's catalog merge does not carry .* containerd pulls this layer from the registry instead/);
    // One commit for the image, one per published layer, one for the names and the store.
    expect(gateway.stats.commits - commitsBefore).toBe(4);
    expect(gateway.leases.list()).toHaveLength(0);
    const { problems } = await verifyRepository({ url: server.url }, { fqrn: FQRN });
    expect(problems).toEqual([]);
    const reader = await RepositoryReader.open({ url: server.url }, { fqrn: FQRN });
    try {
      expect(await reader.lookup(`${layout.layerDir(layers["base"]!.digest)}/layerfs/etc/old`)).not.toBeNull();
      expect(await reader.lookup(`${layout.layerDir(layers["plain"]!.digest)}/layerfs/etc/motd`)).not.toBeNull();
      expect(await reader.lookup(layout.layerDir(layers["whiteout"]!.digest))).toBeNull();
      // The sandbox is whole: the whiteout applied.
      const dirOfImage = layout.imageDir(image.configDigest);
      expect(await reader.lookup(`${dirOfImage}/etc/old`)).toBeNull();
      expect(await reader.lookup(`${dirOfImage}/etc/motd`)).not.toBeNull();
      const parts: Buffer[] = [];
      for await (const c of reader.readFile("/podmanStore/overlay-images/images.json")) parts.push(c as Buffer);
      const listed = JSON.parse(Buffer.concat(parts).toString()) as Array<{ id: string; names: string[] }>;
      expect(listed.map((i) => i.names)).toEqual([[`${registry.host}/gw/app:1`]]);
      // Podman runs the image from the store as the gateway published it.
      if (podmanAsRoot) {
        await exportRepository(reader, "/", dir.join("exported"));
        const podman = await startPodman({ stores: [dir.join("exported", "podmanStore")] });
        try {
          const r = await podman.run(`${registry.host}/gw/app:1`, ["/bin/cat", "/etc/os-release"]);
          expect(r.exitCode).toBe(0);
          expect(String(r.stdout)).toBe('NAME="Gateway Formats"');
        } finally {
          await podman.cleanup();
        }
      }
    } finally {
      await reader.close();
    }
  });
});
