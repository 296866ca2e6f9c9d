/**
 * Real Podman reads the additional image store written from src/runtimes/podman-store.ts. The images
 * are built in code (a host `cat` with its loader and libc, so a container can print a file),
 * converted and materialised by the project's own code into `<repo>/.images/<xx>/<hex>`, and the
 * store's entries are written beside them, as a repository mounted at /cvmfs/<repo> would hold them.
 */
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PodmanStoreImage, podmanImageEntries, podmanStoreFiles } from "../../src/runtimes/podman-store.js";
import { memoryLogger } from "../../src/logger.js";
import { MediaTypes } from "../../src/registry/image.js";
import { PlainContentStore } from "../../src/sandbox/materialise-plain-store.js";
import { convertImage } from "../../src/sandbox/convert-image.js";
import { materialiseTree } from "../../src/sandbox/materialise.js";
import { imageConfig, sha256 } from "../support/image-builder.js";
import { type BuiltLayer, buildLayer } from "../support/layer-builder.js";
import { memoryImage } from "../support/oci-layout.js";
import { catEntries, type Podman, podmanAsRoot, startPodman } from "../support/podman.js";
import { removeStoreEntries, writeStoreEntries } from "../support/store-entries.js";
import { testdir, type Testdir } from "../support/testdir.js";

const STORE = "/podmanStore";

interface Built {
  image: PodmanStoreImage;
  entries: ReturnType<typeof podmanImageEntries>;
}

/**
 * Build an image from layers, write its flattened tree where the default layout puts it, and
 * return its store record (`format` picks an OCI or a Docker schema2 manifest).
 */
async function publish(repo: Testdir, layers: BuiltLayer[], names: string[], format: "oci" | "docker"): Promise<PodmanStoreImage> {
  const docker = format === "docker";
  const config = Buffer.from(JSON.stringify(imageConfig(layers.map((l) => l.diffId), { config: { Cmd: ["/bin/cat", "/etc/os-release"] } })));
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest,
      config: { mediaType: docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: docker ? MediaTypes.dockerLayerGzip : l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  const hex = configDigest.slice(7);
  const imageDir = `/.images/${hex.slice(0, 2)}/${hex.slice(2)}`;
  const store = await PlainContentStore.create(repo.join("..", `objects-${hex.slice(0, 12)}`));
  const { tree } = await convertImage(memoryImage(layers, { config: JSON.parse(config.toString()) }), { store, cacheDir: false, logger: memoryLogger() });
  const stats = await materialiseTree(tree, repo.join(imageDir), { store });
  return { id: hex, names, manifestDigest: sha256(manifest), manifest, configDigest, config, created: "2024-01-01T00:00:00Z", imageDir, size: stats.bytes };
}

describe.skipIf(!podmanAsRoot)("Podman 4.3 reads the additional image store", () => {
  let work: Testdir;
  let repo: Testdir;
  let podman: Podman;
  let centos: Built;
  let alpine: Built;
  const storeDir = (): string => repo.join(STORE);

  beforeAll(async () => {
    work = await testdir({}, "cis-podman-store-");
    repo = await testdir({}, "repo-", work.path);
    const cat = await catEntries();
    // Two layers with a whiteout: the flattened directory already has it applied, so Podman never sees one.
    const centosLayers = [
      await buildLayer([...cat, { type: "file", path: "etc/os-release", content: "ID=old\n" }, { type: "file", path: "etc/gone", content: "x" }]),
      await buildLayer([{ type: "file", path: "etc/os-release", content: 'NAME="CentOS Linux"\nVERSION_ID="7"\n' }, { type: "whiteout", path: "etc/gone" }]),
    ];
    const alpineLayers = [await buildLayer([...cat, { type: "file", path: "etc/os-release", content: "NAME=\"Alpine Linux\"\nVERSION_ID=3.19.1\n" }])];
    const centosImage = await publish(repo, centosLayers, ["docker.io/library/centos:7", "docker.io/library/centos:latest", "127.0.0.1:5000/test/centos:7"], "oci");
    const alpineImage = await publish(repo, alpineLayers, ["docker.io/library/alpine:3.19"], "docker");
    centos = { image: centosImage, entries: podmanImageEntries(STORE, centosImage) };
    alpine = { image: alpineImage, entries: podmanImageEntries(STORE, alpineImage) };
    await writeStoreEntries(repo.path, podmanStoreFiles(STORE, [centosImage, alpineImage]));
    await writeStoreEntries(repo.path, [...centos.entries, ...alpine.entries]);
    podman = await startPodman({ stores: [storeDir()] });
  }, 120_000);
  afterAll(async () => {
    await podman?.cleanup();
    await work?.cleanup();
  });

  it("lists every name, read-only, with the manifest digest and the size we gave", async () => {
    const listed = await podman.exec(["images", "--format", "json"]);
    expect(listed.exitCode, listed.stderr).toBe(0);
    // One JSON record a name, as for pulled images.
    const images = JSON.parse(listed.stdout) as Array<{ Id: string; Names: string[]; ReadOnly: boolean; Digest: string; Size: number }>;
    expect(new Set(images.map((i) => i.Id))).toEqual(new Set([centos.image.id, alpine.image.id]));
    const byId = new Map(images.map((i) => [i.Id, i]));
    expect(byId.get(centos.image.id)).toMatchObject({ ReadOnly: true, Digest: centos.image.manifestDigest, Names: [...centos.image.names].sort() });
    expect(byId.get(alpine.image.id)).toMatchObject({ ReadOnly: true, Digest: alpine.image.manifestDigest, Names: alpine.image.names });
    // SIZE is the layer's diff-size plus the big data (manifest twice, config): Podman walked nothing.
    const big = (i: PodmanStoreImage): number => i.config.length + 2 * i.manifest.length;
    expect(byId.get(centos.image.id)?.Size).toBe(centos.image.size + big(centos.image));
    const table = await podman.exec(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ReadOnly}}"]);
    expect(table.stdout.trim().split("\n").sort()).toEqual(
      ["127.0.0.1:5000/test/centos:7 true", "docker.io/library/alpine:3.19 true", "docker.io/library/centos:7 true", "docker.io/library/centos:latest true"],
    );
  });

  it("runs an image by full name, by short name, by another tag and by manifest digest", async () => {
    for (const name of ["docker.io/library/centos:7", "centos:7", "centos", "127.0.0.1:5000/test/centos:7", `docker.io/library/centos@${centos.image.manifestDigest}`, `centos@${centos.image.manifestDigest}`]) {
      const run = await podman.run(name, ["cat", "/etc/os-release"]);
      expect(run.exitCode, `${name}: ${run.stderr}`).toBe(0);
      expect(run.stdout, name).toBe('NAME="CentOS Linux"\nVERSION_ID="7"');
    }
    // The whiteout was applied when the tree was flattened.
    const gone = await podman.run("centos:7", ["cat", "/etc/gone"]);
    expect(gone.exitCode).not.toBe(0);
    const other = await podman.run("alpine:3.19", ["cat", "/etc/os-release"]);
    expect(other.exitCode, other.stderr).toBe(0);
    expect(other.stdout).toContain("Alpine Linux");
    // The config's Cmd comes from the config blob, which c/image checks against the manifest.
    const cmd = await podman.run(`docker.io/library/alpine@${alpine.image.manifestDigest}`, []);
    expect(cmd.exitCode, cmd.stderr).toBe(0);
    expect(cmd.stdout).toContain("VERSION_ID=3.19.1");
  });

  it("reads the store from storage.conf's additionalimagestores too", async () => {
    const viaConf = await startPodman({ stores: [storeDir()], via: "storage.conf" });
    try {
      const run = await viaConf.run("docker.io/library/alpine:3.19", ["cat", "/etc/os-release"]);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toContain("Alpine Linux");
    } finally {
      await viaConf.cleanup();
    }
  });

  it("runs from a read-only mount, as from /cvmfs, and needs the lock files there", async () => {
    const ro = work.join("ro");
    await mkdir(ro);
    await execa("mount", ["--bind", repo.path, ro]);
    try {
      await execa("mount", ["-o", "remount,bind,ro", ro]);
      const fromRo = await startPodman({ stores: [`${ro}${STORE}`] });
      try {
        const run = await fromRo.run("centos:7", ["cat", "/etc/os-release"]);
        expect(run.exitCode, run.stderr).toBe(0);
        expect(run.stdout).toContain("CentOS Linux");
      } finally {
        await fromRo.cleanup();
      }
    } finally {
      await execa("umount", [ro]);
    }
    // Without images.lock, c/storage's read-only open (O_CREAT) fails on the read-only mount, and so does every command.
    const bare = await testdir({}, "bare-", work.path);
    const files = podmanStoreFiles(STORE, [centos.image]).filter((e) => !e.path.endsWith(".lock"));
    await writeStoreEntries(bare.path, [...files, ...centos.entries]);
    const roBare = work.join("ro-bare");
    await mkdir(roBare);
    await execa("mount", ["--bind", bare.path, roBare]);
    try {
      await execa("mount", ["-o", "remount,bind,ro", roBare]);
      const fromBare = await startPodman({ stores: [`${roBare}${STORE}`] });
      try {
        const listed = await fromBare.exec(["images"]);
        expect(listed.exitCode).toBe(125);
        expect(listed.stderr).toMatch(/images\.lock: read-only file system/);
      } finally {
        await fromBare.cleanup();
      }
    } finally {
      await execa("umount", [roBare]);
    }
  });

  it("fails every command when a read-only store gives one name to two images (why podmanStoreFiles refuses it)", async () => {
    const clash = await testdir({}, "clash-", work.path);
    await writeStoreEntries(clash.path, [...podmanStoreFiles(STORE, [centos.image, alpine.image]), ...centos.entries, ...alpine.entries]);
    const imagesJson = clash.join(STORE, "overlay-images", "images.json");
    const records = JSON.parse(await readFile(imagesJson, "utf8")) as Array<{ names: string[] }>;
    for (const r of records) r.names = ["docker.io/library/same:1"];
    await writeFile(imagesJson, JSON.stringify(records));
    const clashing = await startPodman({ stores: [clash.join(STORE)] });
    try {
      const listed = await clashing.exec(["images"]);
      expect(listed.exitCode).toBe(125);
      expect(listed.stderr).toContain("read-only image store assigns the same name to multiple images");
    } finally {
      await clashing.cleanup();
    }
  });

  it("serves a per-architecture store through a link to it (one storage.conf line for every node)", async () => {
    // As `/.multiarch/host` resolves to the node's own architecture on a CVMFS client; `diff` is relative to the real place.
    const archStore = "/.multiarch/amd64/podmanStore";
    await writeStoreEntries(repo.path, [...podmanStoreFiles(archStore, [alpine.image]), ...podmanImageEntries(archStore, alpine.image)]);
    await symlink("amd64", repo.join(".multiarch", "host"));
    const perArch = await startPodman({ stores: [repo.join(".multiarch", "host", "podmanStore")] });
    try {
      const run = await perArch.run("alpine:3.19", ["cat", "/etc/os-release"]);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toContain("Alpine Linux");
    } finally {
      await perArch.cleanup();
    }
  });

  it("follows a moved tag and forgets a removed image once the shared files are rewritten", async () => {
    const moved = { ...alpine.image, names: [...alpine.image.names, "docker.io/library/centos:latest"] };
    const kept = { ...centos.image, names: centos.image.names.filter((n) => n !== "docker.io/library/centos:latest") };
    await writeStoreEntries(repo.path, podmanStoreFiles(STORE, [kept, moved]));
    const now = await podman.run("centos:latest", ["cat", "/etc/os-release"]);
    expect(now.exitCode, now.stderr).toBe(0);
    expect(now.stdout).toContain("Alpine Linux");

    await writeStoreEntries(repo.path, podmanStoreFiles(STORE, [kept]));
    await removeStoreEntries(repo.path, alpine.entries);
    const listed = await podman.exec(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    expect(listed.stdout.trim().split("\n").sort()).toEqual(["127.0.0.1:5000/test/centos:7", "docker.io/library/centos:7"]);
    const removed = await podman.run("alpine:3.19", ["cat", "/etc/os-release"]);
    expect(removed.exitCode).not.toBe(0);
    expect(removed.stderr).toMatch(/image not known|unable to find/i);
    const still = await podman.run("centos:7", ["cat", "/etc/os-release"]);
    expect(still.exitCode, still.stderr).toBe(0);
  });
});
