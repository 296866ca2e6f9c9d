/**
 * `sync --formats sandbox,podman,layers` into a local stratum 0: the Podman store and the
 * per-layer directories follow the wishlist (new names, a moved tag, a removed one), a layer shared
 * by two images is published once, an idle run publishes nothing, and a format asked for later is
 * added without converting anything again.
 */
import { writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepositoryReader } from "../../src/cvmfs/repository/repository-reader.js";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { OPAQUE_XATTR } from "../../src/tree/layer-tree.js";
import { createLayout } from "../../src/published/layout.js";
import { pushImage, pushIndex, type PushedImage } from "../support/image-builder.js";
import { buildLayer, type BuiltLayer } from "../support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { runCli } from "../support/run-cli.js";
import { testdir, type Testdir } from "../support/testdir.js";

const FQRN = "formats.test.org";
let registry: TestRegistry;
let dir: Testdir;
const layout = createLayout({ kind: "osg" });
const layers: Record<string, BuiltLayer> = {};
const images: Record<string, PushedImage> = {};

const common = () => [
  "--repo", FQRN,
  "--stratum0", dir.join("s0"),
  "--keys-dir", dir.join("keys"),
  "--cache-dir", dir.join("cache"),
  "--insecure-registry", registry.host,
  "--log-format", "json",
  "--keep-removed", "0",
];

async function sync(lines: string[], extra: string[]) {
  await writeFile(dir.join("images.txt"), lines.map((l) => `${registry.host}/${l}\n`).join(""));
  return runCli(["sync", "--wishlist", dir.join("images.txt"), ...common(), ...extra]);
}

async function openReader(): Promise<RepositoryReader> {
  return RepositoryReader.open({ dir: dir.join("s0") }, { fqrn: FQRN, pubkeyPath: dir.join("keys", `${FQRN}.pub`) });
}

async function readJson(reader: RepositoryReader, path: string): Promise<unknown> {
  const parts: Buffer[] = [];
  for await (const c of reader.readFile(path)) parts.push(c as Buffer);
  return JSON.parse(Buffer.concat(parts).toString("utf8"));
}

const hexOf = (digest: string): string => digest.slice(digest.indexOf(":") + 1);

beforeAll(async () => {
  registry = await startRegistry("anonymous");
  dir = await testdir();
  layers["base"] = await buildLayer([
    { type: "dir", path: "etc" },
    { type: "file", path: "etc/os-release", content: 'NAME="Formats Test"\nVERSION="1"\n' },
    { type: "dir", path: "opt/data" },
    { type: "file", path: "opt/data/a", content: "a\n" },
    { type: "file", path: "opt/data/b", content: "b\n" },
    { type: "file", path: "usr/bin/tool", content: "#!/bin/sh\n", mode: 0o755, uid: 0, gid: 0 },
    { type: "hardlink", path: "usr/bin/tool-link", target: "usr/bin/tool" },
    { type: "file", path: "home/user/file", content: "mine\n", uid: 1000, gid: 1000, mode: 0o600 },
  ]);
  // A layer that deletes a file and empties a directory: whiteouts only a local stratum 0 carries.
  layers["whiteouts"] = await buildLayer([
    { type: "whiteout", path: "opt/data/a" },
    { type: "opaque", path: "home/user" },
    { type: "file", path: "home/user/new", content: "new\n", uid: 1000, gid: 1000 },
  ]);
  // A plain layer: files only, which a gateway can carry.
  layers["plain"] = await buildLayer([{ type: "file", path: "etc/motd", content: "hello\n" }]);
  images["one"] = await pushImage(registry, "fmt/app:1", { layers: [layers["base"]!, layers["whiteouts"]!] });
  const again = await pushImage(registry, "fmt/app:2", { layers: [layers["base"]!, layers["whiteouts"]!] });
  if (again.manifestDigest !== images["one"]!.manifestDigest) throw new Error("fmt/app:2 should be the same image as fmt/app:1");
  images["two"] = await pushImage(registry, "fmt/other:1", { layers: [layers["base"]!, layers["plain"]!] });
});

afterAll(async () => {
  await registry?.stop();
  await dir?.cleanup();
});

describe("sync --formats into a local stratum 0", () => {
  it("publishes the sandbox, the Podman store and each layer once", async () => {
    const run = await sync(["fmt/app:1", "fmt/app:2", "fmt/other:1"], ["--formats", "sandbox,podman,layers"]);
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/formats/);
    expect(run.stdout).toContain("sandbox,podman,layers");
    const { problems } = await verifyRepository({ dir: dir.join("s0") }, { fqrn: FQRN, pubkeyPath: dir.join("keys", `${FQRN}.pub`) });
    expect(problems).toEqual([]);
    // The base layer is shared: three distinct layers, three layer publishes.
    expect(run.events().filter((e) => e["event"] === "layer.published")).toHaveLength(3);
    const reader = await openReader();
    try {
      for (const layer of Object.values(layers)) {
        const entry = await reader.lookup(`${layout.layerDir(layer.digest)}/layerfs`);
        expect(entry?.kind, layer.digest).toBe("dir");
      }
      // The whiteout is a character device 0:0, the opaque directory carries the xattr.
      const wl = `${layout.layerDir(layers["whiteouts"]!.digest)}/layerfs`;
      const whiteout = await reader.lookup(`${wl}/opt/data/a`);
      expect(whiteout?.kind).toBe("special");
      expect((whiteout!.mode & 0o170000).toString(8)).toBe("20000");
      expect(whiteout!.size).toBe(0);
      const opaque = await reader.lookup(`${wl}/home/user`);
      expect(opaque?.xattrs?.[OPAQUE_XATTR]?.toString()).toBe("y");
      // Hardlinks stay hardlinks in the base layer.
      const bl = `${layout.layerDir(layers["base"]!.digest)}/layerfs`;
      const tool = await reader.lookup(`${bl}/usr/bin/tool`);
      const link = await reader.lookup(`${bl}/usr/bin/tool-link`);
      expect(tool?.linkcount).toBe(2);
      expect(tool?.hardlinkGroup).toBeGreaterThan(0);
      expect(link?.hardlinkGroup).toBe(tool?.hardlinkGroup);
      // The Podman store lists both images under their normalised names.
      const listed = (await readJson(reader, "/podmanStore/overlay-images/images.json")) as Array<{ id: string; names: string[]; digest: string }>;
      expect(listed.map((i) => [i.id, i.names, i.digest]).sort()).toEqual(
        [
          [hexOf(images["one"]!.configDigest), [`${registry.host}/fmt/app:1`, `${registry.host}/fmt/app:2`], images["one"]!.manifestDigest],
          [hexOf(images["two"]!.configDigest), [`${registry.host}/fmt/other:1`], images["two"]!.manifestDigest],
        ].sort(),
      );
      // The index records the formats, so a later run need not look.
      const index = (await readJson(reader, layout.indexPath)) as { images: Record<string, { formats?: string[] }> };
      expect(index.images[hexOf(images["one"]!.configDigest)]?.formats).toEqual(["layers", "podman"]);
    } finally {
      await reader.close();
    }
  });

  it("an idle run publishes nothing", async () => {
    const run = await sync(["fmt/app:1", "fmt/app:2", "fmt/other:1"], ["--formats", "sandbox,podman,layers"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("nothing to publish");
  });

  it("a removed name leaves the store, its image and its own layers go; the shared layer stays", async () => {
    const run = await sync(["fmt/app:1", "fmt/app:2"], ["--formats", "sandbox,podman,layers"]);
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    const reader = await openReader();
    try {
      const listed = (await readJson(reader, "/podmanStore/overlay-images/images.json")) as Array<{ id: string }>;
      expect(listed.map((i) => i.id)).toEqual([hexOf(images["one"]!.configDigest)]);
      const layersListed = (await readJson(reader, "/podmanStore/overlay-layers/layers.json")) as unknown[];
      expect(layersListed).toHaveLength(1);
      expect(await reader.lookup(layout.imageDir(images["two"]!.configDigest))).toBeNull();
      expect(await reader.lookup(layout.layerDir(layers["plain"]!.digest))).toBeNull();
      expect(await reader.lookup(`${layout.layerDir(layers["base"]!.digest)}/layerfs`)).not.toBeNull();
      const { problems } = await verifyRepository({ dir: dir.join("s0") }, { fqrn: FQRN, pubkeyPath: dir.join("keys", `${FQRN}.pub`) });
      expect(problems).toEqual([]);
    } finally {
      await reader.close();
    }
  });
});

describe("a format asked for later", () => {
  it("is added to published images without converting them again", async () => {
    const first = await sync(["fmt/other:1"], []);
    expect(first.code).toBe(0);
    const reader0 = await openReader();
    try {
      expect(await reader0.lookup(layout.layerDir(layers["plain"]!.digest))).toBeNull();
    } finally {
      await reader0.close();
    }
    const plan = await runCli(["plan", "--wishlist", dir.join("images.txt"), ...common().filter((a) => a !== "--keep-removed" && a !== "0"), "--formats", "sandbox,layers"]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/\+layers/);
    const run = await sync(["fmt/other:1"], ["--formats", "sandbox,layers"]);
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    const events = run.events().map((e) => e["event"]);
    expect(events).not.toContain("image.publish");
    expect(run.events().filter((e) => e["event"] === "layer.published")).toHaveLength(1);
    const reader = await openReader();
    try {
      expect(await reader.lookup(`${layout.layerDir(layers["plain"]!.digest)}/layerfs/etc/motd`)).not.toBeNull();
    } finally {
      await reader.close();
    }
  });
});

describe("the Podman store of each architecture", () => {
  it("gets its platform's image under the usual name, reached through the host link, and goes with the last per-architecture name", async () => {
    const amd = await pushImage(registry, "fmt/multi", { layers: [layers["plain"]!], platform: { os: "linux", architecture: "amd64" } });
    const arm = await pushImage(registry, "fmt/multi", { layers: [layers["plain"]!, layers["base"]!], platform: { os: "linux", architecture: "arm64", variant: "v8" } });
    await pushIndex(registry, "fmt/multi:1", { manifests: [amd, arm] });
    const name = `${registry.host}/fmt/multi:1`;
    const run = await sync(["fmt/multi:1"], ["--formats", "sandbox,podman", "--platforms", "linux/amd64,linux/arm64"]);
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    const reader = await openReader();
    try {
      const storeOf = async (root: string) => ((await readJson(reader, `${root}/overlay-images/images.json`)) as Array<{ id: string; names: string[] }>).map((r) => [r.id, r.names]);
      expect(await storeOf("/podmanStore")).toEqual([[hexOf(amd.configDigest), [name]]]);
      expect(await storeOf("/.multiarch/amd64/podmanStore")).toEqual([[hexOf(amd.configDigest), [name]]]);
      expect(await storeOf("/.multiarch/arm64/podmanStore")).toEqual([[hexOf(arm.configDigest), [name]]]);
      // One configuration line for every node: the host link picks the node's own store.
      expect(await reader.resolvePath("/.multiarch/host/podmanStore", { CVMFS_ARCH: "aarch64" })).toBe("/.multiarch/arm64/podmanStore");
      expect(await reader.resolvePath("/.multiarch/host/podmanStore", { CVMFS_ARCH: "x86_64" })).toBe("/.multiarch/amd64/podmanStore");
    } finally {
      await reader.close();
    }
    // `verify` walks the per-architecture tree: the stores in it are no names.
    const verified = await runCli(["verify", "--stratum0", dir.join("s0"), "--repo", FQRN, "--keys-dir", dir.join("keys")]);
    expect(verified.stdout + verified.stderr).not.toMatch(/problem|dangling/i);
    expect(verified.code).toBe(0);
    // An idle run changes nothing, however many stores there are.
    const idle = await sync(["fmt/multi:1"], ["--formats", "sandbox,podman", "--platforms", "linux/amd64,linux/arm64"]);
    expect(idle.stdout).toContain("nothing to publish");
    // Without per-architecture names the architectures' stores go, and the tree with them.
    const single = await sync(["fmt/multi:1"], ["--formats", "sandbox,podman"]);
    expect(single.stderr).not.toContain('"level":"error"');
    const after = await openReader();
    try {
      expect(await after.lookup("/.multiarch")).toBeNull();
      expect(((await readJson(after, "/podmanStore/overlay-images/images.json")) as Array<{ id: string }>).map((r) => r.id)).toEqual([hexOf(amd.configDigest)]);
    } finally {
      await after.close();
    }
  });
});

describe("a registry event's run", () => {
  it("moves its name and leaves the Podman store, written from the whole state, to the next full sync", async () => {
    const full = await sync(["fmt/multi:1", "fmt/other:1"], ["--formats", "sandbox,podman"]);
    expect(full.code).toBe(0);
    const storeIds = async () => {
      const reader = await openReader();
      try {
        return ((await readJson(reader, "/podmanStore/overlay-images/images.json")) as Array<{ id: string; names: string[] }>).map((r) => [r.id, r.names]);
      } finally {
        await reader.close();
      }
    };
    const before = await storeIds();
    expect(before).toHaveLength(2);
    const moved = await pushImage(registry, "fmt/other:1", { layers: [layers["plain"]!, await buildLayer([{ type: "file", path: "etc/motd", content: "moved\n" }])] });
    await writeFile(dir.join("quay.json"), JSON.stringify({ docker_url: `${registry.host}/fmt/other`, updated_tags: ["1"] }));
    const event = await runCli(["sync", "--wishlist", dir.join("images.txt"), ...common(), "--formats", "sandbox,podman", "--event", dir.join("quay.json")]);
    expect(event.stderr).not.toContain('"level":"error"');
    expect(event.code).toBe(0);
    const reader = await openReader();
    try {
      expect(await reader.resolvePath("/fmt/other:1")).toBe(layout.imageDir(moved.configDigest));
    } finally {
      await reader.close();
    }
    // The store is as the full sync left it: both images, the old one still there to run.
    expect(await storeIds()).toEqual(before);
    const next = await sync(["fmt/multi:1", "fmt/other:1"], ["--formats", "sandbox,podman"]);
    expect(next.code).toBe(0);
    expect((await storeIds()).map(([id]) => id)).toContain(hexOf(moved.configDigest));
  });
});
