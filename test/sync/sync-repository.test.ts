/**
 * `sync` end to end: a real registry, images built in code, the local stratum 0, the CLI as users
 * run it. Each step checks the repository with `verify` and follows the tag symlinks.
 */
import { readdirSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogEditor } from "../../src/cvmfs/catalog/editor.js";
import { RepositoryReader } from "../../src/cvmfs/repository/repository-reader.js";
import { Stratum0 } from "../../src/cvmfs/repository/stratum0.js";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { createRegistryClient } from "../../src/registry/registry-client.js";
import { getSyncPlan } from "../../src/sync/get-sync-plan.js";
import { createLayout } from "../../src/published/layout.js";
import { parsePublishedIndex } from "../../src/published/published-index.js";
import { openPublishTarget } from "../../src/sync/publish-target.js";
import { executePlan } from "../../src/sync/sync-repository.js";
import { silentLogger } from "../../src/logger.js";
import { loadWishlists } from "../../src/wishlist/load-wishlists.js";
import { pushImage, type PushedImage } from "../support/image-builder.js";
import { buildLayer, type BuiltLayer } from "../support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { runCli } from "../support/run-cli.js";
import { testdir, type Testdir } from "../support/testdir.js";

const FQRN = "images.test.org";
let registry: TestRegistry;
let dir: Testdir;
let base: BuiltLayer;
const layout = createLayout({ kind: "osg" });

const stratum0 = () => dir.join("s0");
const common = () => [
  "--repo", FQRN,
  "--stratum0", stratum0(),
  "--keys-dir", dir.join("keys"),
  "--cache-dir", dir.join("cache"),
  "--insecure-registry", registry.host,
  "--log-format", "json",
];

async function appLayer(name: string, seed: number): Promise<BuiltLayer> {
  return buildLayer([
    { type: "dir", path: `opt/${name}` },
    { type: "file", path: `opt/${name}/bin`, content: { size: 300_000, seed }, mode: 0o755, uid: 1000, gid: 100 },
    { type: "file", path: `opt/${name}/VERSION`, content: `${name} ${seed}\n` },
  ]);
}

async function push(name: string, layers: BuiltLayer[]): Promise<PushedImage> {
  return pushImage(registry, name, { layers, config: { Env: ["PATH=/usr/bin:/bin"], Cmd: ["/bin/sh"] } });
}

async function wishlist(lines: string[]): Promise<string> {
  const file = dir.join("images.txt");
  await writeFile(file, `# test wishlist\n${lines.map((l) => `${registry.host}/${l}`).join("\n")}\n`);
  return file;
}

async function sync(extra: string[] = []) {
  return runCli(["sync", "--wishlist", dir.join("images.txt"), "--keep-removed", "0", ...common(), ...extra]);
}

/** verify passes, and every public name resolves to the directory of the image it should. */
async function expectRepository(tags: Record<string, PushedImage>, absent: string[] = []): Promise<void> {
  const { problems } = await verifyRepository({ dir: stratum0() }, { fqrn: FQRN, pubkeyPath: dir.join("keys", `${FQRN}.pub`) });
  expect(problems).toEqual([]);
  const reader = await RepositoryReader.open({ dir: stratum0() }, { fqrn: FQRN, pubkeyPath: dir.join("keys", `${FQRN}.pub`) });
  try {
    for (const [name, image] of Object.entries(tags)) {
      const target = await reader.readlink(`/${name}`);
      expect(target.startsWith("../")).toBe(true);
      const resolved = path.posix.resolve(path.posix.dirname(`/${name}`), target);
      expect(resolved).toBe(layout.imageDir(image.configDigest));
      const entry = await reader.lookup(resolved);
      expect(entry?.kind).toBe("dir");
      const meta = JSON.parse((await collect(reader.readFile(`${resolved}/.singularity.d/cvmfs-image-sync.json`))).toString());
      expect(meta.manifestDigest).toBe(image.manifestDigest);
      expect(meta.configDigest).toBe(image.configDigest);
    }
    for (const name of absent) expect(await reader.lookup(`/${name}`)).toBeNull();
    await expectIndexOfImages(reader);
  } finally {
    await reader.close();
  }
}

/** The published-state index names exactly the image directories present, with their own metadata. */
async function expectIndexOfImages(reader: RepositoryReader): Promise<void> {
  const present: string[] = [];
  for (const fan of await reader.listing(layout.imagesRoot)) {
    if (fan.kind !== "dir") continue;
    for (const image of await reader.listing(fan.path)) present.push(image.path);
  }
  const index = parsePublishedIndex(await collect(reader.readFile(layout.indexPath)), layout.indexPath);
  expect(Object.values(index.images).map((i) => i.dir).sort()).toEqual(present.sort());
  for (const [hex, { dir, metadata }] of Object.entries(index.images)) {
    expect(layout.configHexOf(dir)).toBe(hex);
    const own = JSON.parse((await collect(reader.readFile(`${dir}/.singularity.d/cvmfs-image-sync.json`))).toString());
    expect(metadata).toEqual(own);
  }
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function objectCount(): number {
  let n = 0;
  const data = path.join(stratum0(), "data");
  for (const sub of readdirSync(data)) if (sub !== "txn") n += readdirSync(path.join(data, sub)).length;
  return n;
}

beforeAll(async () => {
  registry = await startRegistry("anonymous");
  dir = await testdir();
  base = await buildLayer([
    { type: "dir", path: "usr/bin" },
    { type: "file", path: "usr/bin/shared-tool", content: { size: 2 << 20, seed: 42 }, mode: 0o755 },
    { type: "file", path: "usr/bin/passwd", content: "setuid\n", mode: 0o4755 },
    { type: "symlink", path: "bin", target: "usr/bin" },
  ]);
});

afterAll(async () => {
  await registry?.stop();
  await dir?.cleanup();
});

describe("sync on a local stratum 0", () => {
  const images: Record<string, PushedImage> = {};
  let replacedAlpha: PushedImage | undefined;

  it("adds three images, two sharing a base layer, and publishes one revision", async () => {
    images["ns/alpha:1"] = await push("ns/alpha:1", [base, await appLayer("alpha", 1)]);
    images["ns/beta:1"] = await push("ns/beta:1", [base, await appLayer("beta", 2)]);
    images["other/gamma:1"] = await push("other/gamma:1", [await appLayer("gamma", 3)]);
    await wishlist(["ns/alpha:1", "ns/beta:1", "other/gamma:1"]);

    const run = await sync();
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/published revision 1/);
    for (const name of ["alpha", "beta", "gamma"]) expect(run.stdout).toMatch(new RegExp(`ns/${name}:1|other/${name}:1`));
    await expectRepository(images);

    // The shared base file is one object; the two images that contain it reference the same hash.
    const reader = await RepositoryReader.open({ dir: stratum0() }, { fqrn: FQRN });
    const a = await reader.lookup(`${layout.imageDir(images["ns/alpha:1"]!.configDigest)}/usr/bin/shared-tool`);
    const b = await reader.lookup(`${layout.imageDir(images["ns/beta:1"]!.configDigest)}/usr/bin/shared-tool`);
    expect(a?.size).toBe(2 << 20);
    expect(a?.hash).toBe(b?.hash);
    expect(a?.mode).toBe(0o100755);
    const passwd = await reader.lookup(`${layout.imageDir(images["ns/beta:1"]!.configDigest)}/usr/bin/passwd`);
    expect(passwd?.mode).toBe(0o104755);
    await reader.close();
  });

  it("a second sync with nothing changed publishes nothing and downloads no layer", async () => {
    const before = readdirSync(stratum0()).map((f) => [f, statSync(path.join(stratum0(), f)).mtimeMs]);
    const run = await sync();
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("nothing to publish");
    const events = run.events().map((e) => e["event"]);
    expect(events).not.toContain("layer.start");
    expect(events).not.toContain("layer.done");
    expect(readdirSync(stratum0()).map((f) => [f, statSync(path.join(stratum0(), f)).mtimeMs])).toEqual(before);
  });

  it("a repository without the published-state index gets it at the next run, once", async () => {
    // As a repository published by an older version: the same images, no index.
    const s0 = await Stratum0.openOrCreate(stratum0(), { fqrn: FQRN, keysDir: dir.join("keys") });
    try {
      const base = s0.manifest();
      const editor = await CatalogEditor.open(base.catalogHash, s0.catalogLoader);
      try {
        expect(await editor.remove(layout.indexPath)).toBe(true);
        const finished = await editor.finish(s0.store, { revision: base.revision + 1 });
        await s0.publish({ rootHash: finished.rootHash, rootSize: finished.rootSize, tagName: "drop-index", tagDescription: "", baseRootHash: base.catalogHash });
      } finally {
        editor.close();
      }
    } finally {
      await s0.close();
    }
    const rewrite = await sync();
    expect(rewrite.code).toBe(0);
    expect(rewrite.events().find((e) => e["event"] === "sync.index")?.["reason"]).toBe("missing");
    expect(rewrite.stdout).toMatch(/published revision 3/);
    await expectRepository(images);
    const again = await sync();
    expect(again.stdout).toContain("nothing to publish");
  });

  it("a tag that moved upstream republishes only that image, reusing the shared layer", async () => {
    const objectsBefore = objectCount();
    replacedAlpha = images["ns/alpha:1"];
    images["ns/alpha:1"] = await push("ns/alpha:1", [base, await appLayer("alpha", 11)]);
    const run = await sync();
    expect(run.code).toBe(0);
    const events = run.events();
    const converted = events.filter((e) => e["event"] === "image.catalog").map((e) => e["image"]);
    expect(converted).toHaveLength(1);
    expect(String(converted[0])).toContain("ns/alpha:1");
    // The base layer comes from the layer cache: decoded and compressed once in all.
    const baseDone = events.filter((e) => e["event"] === "layer.done" && e["layer"] === base.digest);
    expect(baseDone).toHaveLength(1);
    expect(baseDone[0]!["fromCache"]).toBe(true);
    expect(run.stdout).toMatch(/ns\/alpha:1\s+update/);
    // New objects: the new app file, its VERSION, metadata and catalogs — not the 2 MiB base file again.
    expect(objectCount() - objectsBefore).toBeLessThan(12);
    await expectRepository(images);
  });

  it("an image that leaves the list loses its tag now and its directory after the grace period", async () => {
    const gamma = images["other/gamma:1"]!;
    delete images["other/gamma:1"];
    await wishlist(["ns/alpha:1", "ns/beta:1"]);
    const run = await sync(["--keep-removed", "3"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/other\/gamma:1\s+remove/);
    await expectRepository(images, ["other/gamma:1", "other"]);
    const reader = await RepositoryReader.open({ dir: stratum0() }, { fqrn: FQRN });
    expect((await reader.lookup(layout.imageDir(gamma.configDigest)))?.kind).toBe("dir");
    await reader.close();

    // Four days later the schedule says it is due: the directory goes.
    const client = createRegistryClient({ insecureRegistries: [registry.host] });
    const target = await openPublishTarget({ kind: "local", stratum0: stratum0() }, { fqrn: FQRN, keysDir: dir.join("keys"), cacheDir: dir.join("cache"), logger: silentLogger });
    const later = new Date(Date.now() + 4 * 86_400_000);
    const entries = await loadWishlists([dir.join("images.txt")]);
    const planReader = await target.openReader();
    const { plan, state, failures } = await getSyncPlan(entries, { registry: client, reader: planReader, layout }, { keepRemovedDays: 3, concurrency: 2, logger: silentLogger, now: later });
    await planReader.close();
    // The image alpha:1 moved away from is untagged too: its removal was decided one run after the
    // move (when the new config digest was known) and falls due with gamma's.
    const due = [gamma, replacedAlpha!].map((i) => [layout.imageDir(i.configDigest), true]).sort();
    expect(plan.imageRemovals.map((r) => [r.imageDir, r.due]).sort()).toEqual(due);
    const result = await executePlan(plan, state, failures, { registry: client, target, layout, platform: { os: "linux", architecture: "amd64" }, cacheDir: dir.join("cache"), concurrency: 2, logger: silentLogger, now: later });
    expect(result.revision).toBeGreaterThan(0);
    await client.close();
    const after = await RepositoryReader.open({ dir: stratum0() }, { fqrn: FQRN });
    expect(await after.lookup(layout.imageDir(gamma.configDigest))).toBeNull();
    expect(await after.lookup(layout.imageDir(replacedAlpha!.configDigest))).toBeNull();
    await after.close();
    await expectRepository(images);
  });

  it("a failed image does not stop the others: exit 1, the rest published", async () => {
    images["ns/delta:1"] = await push("ns/delta:1", [base, await appLayer("delta", 4)]);
    await wishlist(["ns/alpha:1", "ns/beta:1", "ns/delta:1", "ns/does-not-exist:1"]);
    const run = await sync();
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/does-not-exist:1\s+resolve.*failed/);
    expect(run.stdout).toMatch(/ns\/delta:1\s+add/);
    await expectRepository(images);
  });

  it("a wishlist with five kinds of bad line fails with exit 2, naming every file:line, and publishes nothing", async () => {
    const file = dir.join("bad.txt");
    await writeFile(
      file,
      [
        "# five kinds of bad line",
        "Ubuntu:22.04", // uppercase name
        "library/alpine@sha256:1234", // short digest
        "ns//name:1", // empty path component
        "alpine:bad tag", // whitespace
        "quay.io/ns/name:-lead", // malformed tag
        "alpine:3.20", // fine
      ].join("\n"),
    );
    const before = statSync(path.join(stratum0(), ".cvmfspublished")).mtimeMs;
    const run = await runCli(["sync", "--wishlist", file, ...common()]);
    expect(run.code).toBe(2);
    for (const line of [2, 3, 4, 5, 6]) expect(run.stderr).toContain(`${file}:${line}:`);
    expect(run.stderr).not.toContain(`${file}:7:`);
    expect(statSync(path.join(stratum0(), ".cvmfspublished")).mtimeMs).toBe(before);
  });
});

describe("sync --shard", () => {
  it("two shards publish disjoint shares that together make the whole repository", async () => {
    const shardDir = await testdir();
    const base2 = await buildLayer([{ type: "file", path: "etc/base", content: "shared" }]);
    const pushed: Record<string, PushedImage> = {};
    for (let n = 0; n < 6; n++) pushed[`shard/img${n}:1`] = await push(`shard/img${n}:1`, [base2, await appLayer(`img${n}`, 100 + n)]);
    const list = shardDir.join("images.txt");
    await writeFile(list, Object.keys(pushed).map((n) => `${registry.host}/${n}`).join("\n"));
    const args = (shard: string) => [
      "sync", "--wishlist", list, "--shard", shard, "--keep-removed", "0",
      "--repo", FQRN, "--stratum0", shardDir.join("s0"), "--keys-dir", shardDir.join("keys"),
      "--cache-dir", shardDir.join("cache"), "--insecure-registry", registry.host, "--log-format", "json",
    ];
    const first = await runCli(args("1/2"));
    expect(first.code).toBe(0);
    const reader1 = await RepositoryReader.open({ dir: shardDir.join("s0") }, { fqrn: FQRN });
    const afterFirst = await Promise.all(Object.keys(pushed).map(async (n) => (await reader1.lookup(`/${n}`)) !== null));
    await reader1.close();
    expect(afterFirst.some(Boolean)).toBe(true);
    expect(afterFirst.every(Boolean)).toBe(false);

    const second = await runCli(args("2/2"));
    expect(second.code).toBe(0);
    const converted = second.events().filter((e) => e["event"] === "image.catalog").length;
    expect(converted).toBe(afterFirst.filter((x) => !x).length);
    const reader = await RepositoryReader.open({ dir: shardDir.join("s0") }, { fqrn: FQRN });
    for (const [name, image] of Object.entries(pushed)) {
      const target = await reader.readlink(`/${name}`);
      expect(path.posix.resolve(path.posix.dirname(`/${name}`), target)).toBe(layout.imageDir(image.configDigest));
    }
    await reader.close();
    const { problems } = await verifyRepository({ dir: shardDir.join("s0") }, { fqrn: FQRN });
    expect(problems).toEqual([]);
    const bad = await runCli([...args("3/2")]);
    expect(bad.code).toBe(2);
    await shardDir.cleanup();
  });
});

describe("two manifests of one image", () => {
  it("converts the image once and never links a name to a directory whose conversion failed", async () => {
    const d = await testdir();
    const entries = [{ type: "file" as const, path: "srv/same", content: "same content\n" }];
    const gz = await buildLayer(entries, { compression: "gzip" });
    const zst = await buildLayer(entries, { compression: "zstd" });
    expect(gz.diffId).toBe(zst.diffId);
    // Same config (same diff_ids), different manifests; the first one's layer cannot be decoded.
    const broken = await pushImage(registry, "same/a:1", { layers: [{ ...gz, mediaType: "application/vnd.example.unknown" }] });
    const good = await pushImage(registry, "same/b:1", { layers: [zst] });
    expect(broken.configDigest).toBe(good.configDigest);
    expect(broken.manifestDigest).not.toBe(good.manifestDigest);
    await writeFile(d.join("images.txt"), `${registry.host}/same/a:1\n${registry.host}/same/b:1\n`);
    const run = await runCli([
      "sync", "--wishlist", d.join("images.txt"), "--repo", FQRN, "--stratum0", d.join("s0"), "--keys-dir", d.join("keys"),
      "--cache-dir", d.join("cache"), "--insecure-registry", registry.host, "--log-format", "json",
    ]);
    expect([0, 1]).toContain(run.code);
    const converted = run.events().filter((e) => e["event"] === "image.catalog");
    expect(converted.length).toBeLessThanOrEqual(1);
    const { problems } = await verifyRepository({ dir: d.join("s0") }, { fqrn: FQRN });
    expect(problems).toEqual([]);
    const reader = await RepositoryReader.open({ dir: d.join("s0") }, { fqrn: FQRN });
    const target = await reader.readlink("/same/b:1");
    const dirOfB = path.posix.resolve("/same", target);
    expect(dirOfB).toBe(layout.imageDir(good.configDigest));
    expect((await reader.lookup(dirOfB))?.kind).toBe("dir");
    const a = await reader.lookup("/same/a:1");
    if (a) expect(path.posix.resolve("/same", a.symlink)).toBe(dirOfB);
    await reader.close();
    await d.cleanup();
  });
});
