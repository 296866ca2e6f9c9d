/**
 * What `sync --formats sandbox,podman,layers` publishes, read by the real runtimes (root only):
 * the repository laid out on local disk by `export` (the project's own repository reader), then
 * - Podman 4.3 lists every published name from `podmanStore/` read-only and runs each image
 *   without a pull, for an image with several tags, a moved tag and a removed one;
 * - kernel overlayfs stacks an image's `layerfs` directories in manifest order into exactly the
 *   flattened image directory (paths, types, modes, owners, bytes), whiteouts, an opaque
 *   directory and hardlinks included.
 */
import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportRepository } from "../../src/cvmfs/export/export-repository.js";
import { RepositoryReader } from "../../src/cvmfs/repository/repository-reader.js";
import { createLayout } from "../../src/published/layout.js";
import { pushImage, type PushedImage } from "../support/image-builder.js";
import { buildLayer, type BuiltLayer } from "../support/layer-builder.js";
import { compareTrees, mountOverlay } from "../support/overlay.js";
import { catEntries, podmanAsRoot, startPodman } from "../support/podman.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { runCli } from "../support/run-cli.js";
import { testdir, type Testdir } from "../support/testdir.js";

const FQRN = "runtimes.test.org";
const layout = createLayout();
let registry: TestRegistry;
let dir: Testdir;
const images: Record<string, PushedImage> = {};
const layers: Record<string, BuiltLayer[]> = {};

async function sync(lines: string[]) {
  await writeFile(dir.join("images.txt"), lines.map((l) => `${registry.host}/${l}\n`).join(""));
  const run = await runCli([
    "sync", "--wishlist", dir.join("images.txt"),
    "--repo", FQRN,
    "--stratum0", dir.join("s0"),
    "--keys-dir", dir.join("keys"),
    "--cache-dir", dir.join("cache"),
    "--insecure-registry", registry.host,
    "--formats", "sandbox,podman,layers",
    "--keep-removed", "0",
    "--log-format", "json",
  ]);
  expect(run.stderr).not.toContain('"level":"error"');
  expect(run.code).toBe(0);
  return run;
}

/** The whole repository on local disk, in a fresh directory per call. */
let exports = 0;
async function exported(): Promise<string> {
  const dest = dir.join(`export-${++exports}`);
  const reader = await RepositoryReader.open({ dir: dir.join("s0") }, { fqrn: FQRN });
  try {
    await exportRepository(reader, "/", dest);
  } finally {
    await reader.close();
  }
  return dest;
}

async function osRelease(podmanStore: string, names: string[]): Promise<Array<string | number>> {
  const podman = await startPodman({ stores: [podmanStore] });
  try {
    const out: Array<string | number> = [];
    for (const name of names) {
      const r = await podman.run(name, ["/bin/cat", "/etc/os-release"]);
      // (execa drops the output's final newline)
      out.push(r.exitCode === 0 ? String(r.stdout) : (r.exitCode ?? -1));
    }
    return out;
  } finally {
    await podman.cleanup();
  }
}

async function listed(podmanStore: string): Promise<string[]> {
  const podman = await startPodman({ stores: [podmanStore] });
  try {
    const r = await podman.exec(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ReadOnly}}"]);
    expect(r.exitCode).toBe(0);
    return String(r.stdout).split("\n").filter((l) => l !== "").sort();
  } finally {
    await podman.cleanup();
  }
}

beforeAll(async () => {
  registry = await startRegistry("anonymous");
  dir = await testdir({}, "cis-runtimes-");
  const cat = await catEntries();
  layers["centos"] = [
    await buildLayer([
      ...cat,
      { type: "file", path: "etc/os-release", content: 'NAME="CentOS Linux"\nVERSION="7"\n' },
      { type: "file", path: "etc/gone", content: "deleted later\n" },
      { type: "dir", path: "var/cache/app", mode: 0o750, uid: 0, gid: 0 },
      { type: "file", path: "var/cache/app/old1", content: "1" },
      { type: "file", path: "var/cache/app/old2", content: "2" },
      { type: "file", path: "usr/bin/tool", content: "#!/bin/sh\necho tool\n", mode: 0o755 },
      { type: "hardlink", path: "usr/bin/tool-again", target: "usr/bin/tool" },
      { type: "file", path: "home/user/notes", content: "mine\n", uid: 1000, gid: 100, mode: 0o640 },
    ]),
    await buildLayer([
      { type: "whiteout", path: "etc/gone" },
      // A real layer lists the directory it makes opaque (else the upper one has default metadata).
      { type: "dir", path: "var/cache/app", mode: 0o750, uid: 0, gid: 0 },
      { type: "opaque", path: "var/cache/app" },
      { type: "file", path: "var/cache/app/fresh", content: "fresh\n", uid: 33, gid: 33 },
      { type: "symlink", path: "usr/bin/t", target: "tool" },
    ]),
  ];
  layers["alpine"] = [await buildLayer([...cat, { type: "file", path: "etc/os-release", content: 'NAME="Alpine Linux"\n' }])];
  layers["centos8"] = [layers["centos"][0]!, await buildLayer([{ type: "file", path: "etc/os-release", content: 'NAME="CentOS Linux"\nVERSION="8"\n' }])];
  images["centos"] = await pushImage(registry, "rt/centos:7", { layers: layers["centos"] });
  await pushImage(registry, "rt/centos:latest", { layers: layers["centos"] });
  images["alpine"] = await pushImage(registry, "rt/alpine:3", { layers: layers["alpine"] });
});

afterAll(async () => {
  await registry?.stop();
  await dir?.cleanup();
});

describe.skipIf(!podmanAsRoot)("real runtimes read what sync --formats publishes", () => {
  const host = () => registry.host;

  it("Podman lists every name read-only and runs each image without a pull", async () => {
    await sync(["rt/centos:7", "rt/centos:latest", "rt/alpine:3"]);
    const root = await exported();
    expect(await listed(join(root, "podmanStore"))).toEqual([`${host()}/rt/alpine:3 true`, `${host()}/rt/centos:7 true`, `${host()}/rt/centos:latest true`]);
    expect(await osRelease(join(root, "podmanStore"), [`${host()}/rt/centos:7`, `${host()}/rt/centos:latest`, `${host()}/rt/alpine:3`])).toEqual([
      'NAME="CentOS Linux"\nVERSION="7"',
      'NAME="CentOS Linux"\nVERSION="7"',
      'NAME="Alpine Linux"',
    ]);
  });

  it("kernel overlayfs over the layerfs directories gives exactly the flattened image", async () => {
    const root = await exported();
    const imageDir = join(root, layout.imageDir(images["centos"]!.configDigest));
    const lowers = layers["centos"]!.map((l) => join(root, layout.layerDir(l.digest), "layerfs")).reverse();
    const merged = dir.join("merged");
    await mkdir(merged, { recursive: true });
    const umount = await mountOverlay(lowers, merged);
    try {
      // The sandbox alone has Apptainer's files (and the mount points it adds).
      const apptainer = (rel: string) => rel === ".singularity.d" || rel.startsWith(".singularity.d/") || ["dev", "proc", "sys", "tmp", "var/tmp", "home", "root", "etc/hosts", "etc/resolv.conf", "etc/localtime", "etc/passwd", "etc/group", "singularity", ".exec", ".run", ".shell", ".test", "environment"].includes(rel);
      const problems = await compareTrees(merged, imageDir, { expectedOnly: apptainer });
      expect(problems).toEqual([]);
      // A hard link of the layer is one inode in the merged view, as the tar said.
      const [tool, again] = await Promise.all([stat(join(merged, "usr/bin/tool")), stat(join(merged, "usr/bin/tool-again"))]);
      expect(again.ino).toBe(tool.ino);
      expect(tool.nlink).toBe(2);
    } finally {
      await umount();
    }
  });

  it("a moved tag runs its new image, a removed one is gone from Podman's list", async () => {
    await pushImage(registry, "rt/centos:latest", { layers: layers["centos8"]! });
    await sync(["rt/centos:7", "rt/centos:latest"]);
    const root = await exported();
    expect(await listed(join(root, "podmanStore"))).toEqual([`${host()}/rt/centos:7 true`, `${host()}/rt/centos:latest true`]);
    expect(await osRelease(join(root, "podmanStore"), [`${host()}/rt/centos:7`, `${host()}/rt/centos:latest`, `${host()}/rt/alpine:3`])).toEqual([
      'NAME="CentOS Linux"\nVERSION="7"',
      'NAME="CentOS Linux"\nVERSION="8"',
      125,
    ]);
  });
});
