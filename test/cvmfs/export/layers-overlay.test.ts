/**
 * The containerd `layers` format against real kernel overlayfs (root only): each layer of an
 * image built in code, pushed to the real registry and converted once, is built as its own
 * layer tree, published at `/.layers/<2 hex>/<hex>/layerfs` beside the flattened image, exported
 * with the repository reader, and mounted as lower directories in manifest order. The merged
 * mount must be the image directory, entry by entry.
 *
 * What only the sandbox has, and so is not compared: `.singularity.d` and the other paths
 * Apptainer's file list adds (mount points, `/etc/hosts`, `/singularity`, …) when the merged
 * view lacks them (a path the image itself has is compared); and `.cvmfscatalog`, the catalog
 * marker each published tree carries at its root. Directory mtimes are not compared (a merged
 * directory shows its topmost layer's), nor xattrs (overlayfs hides its own) or inode identity
 * of hardlinks (the catalog writer stores hardlinked files as separate rows).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportRepository } from "../../../src/cvmfs/export/export-repository.js";
import { RepositoryReader } from "../../../src/cvmfs/repository/repository-reader.js";
import { Stratum0 } from "../../../src/cvmfs/repository/stratum0.js";
import { memoryLogger } from "../../../src/logger.js";
import { createRegistryClient, type RegistryClient } from "../../../src/registry/registry-client.js";
import { assembleApptainerFiles } from "../../../src/sandbox/apptainer-files.js";
import { convertImage } from "../../../src/sandbox/convert-image.js";
import { buildLayerTree, type LayerTree } from "../../../src/tree/layer-tree.js";
import { pushImage } from "../../support/image-builder.js";
import { buildLayer, type BuiltLayer, type TestEntry } from "../../support/layer-builder.js";
import { compareTrees, mountOverlay } from "../../support/overlay.js";
import { publishTrees, type TreeAt } from "../../support/publish-trees.js";
import { startRegistry, type TestRegistry } from "../../support/registry.js";
import { testdir, type Testdir } from "../../support/testdir.js";

const FQRN = "layers.test";
const hexOf = (digest: string): string => digest.slice(digest.indexOf(":") + 1);
const layerDir = (digest: string): string => `/.layers/${hexOf(digest).slice(0, 2)}/${hexOf(digest)}/layerfs`;
const imageDir = (configDigest: string): string => `/.images/${hexOf(configDigest).slice(0, 2)}/${hexOf(configDigest).slice(2)}`;

const d = (path: string, mode = 0o755, uid = 0, gid = 0): TestEntry => ({ type: "dir", path, mode, uid, gid });
const f = (path: string, content: string, mode = 0o644, uid = 0, gid = 0): TestEntry => ({ type: "file", path, content, mode, uid, gid, mtime: 1_650_000_000 });

/** Each image: layers, base first. Parent directories are listed in every layer, as image builders write them. */
const IMAGES: Record<string, TestEntry[][]> = {
  "whiteouts-and-links": [
    [
      d("etc"), f("etc/old", "old\n"), f("etc/keep", "keep\n"),
      d("usr"), d("usr/bin"), f("usr/bin/tool", "tool v1\n", 0o755), { type: "hardlink", path: "usr/bin/tool-link", target: "usr/bin/tool" },
      d("var"), d("var/cache"), f("var/cache/a", "a"), d("var/cache/sub", 0o750, 5, 6), f("var/cache/sub/b", "b", 0o600, 5, 6),
      d("home"), d("home/alice", 0o700, 1000, 1000), f("home/alice/.profile", "PS1=$\n", 0o600, 1000, 1000),
      d("opt"), d("opt/app"), f("opt/app/x", "x"), d("srv"), d("srv/data", 0o2775, 0, 50), f("srv/data/db", "db", 0o660, 0, 50),
      { type: "symlink", path: "bin", target: "usr/bin" },
    ],
    [
      d("etc"), { type: "whiteout", path: "etc/old" },
      d("var"), d("var/cache"), { type: "opaque", path: "var/cache" }, f("var/cache/new", "new"),
      d("usr"), d("usr/bin"), f("usr/bin/tool", "tool v2\n", 0o755),
      d("opt"), { type: "whiteout", path: "opt/app" }, d("opt/app", 0o711), f("opt/app/y", "y"),
      d("home"), d("home/alice", 0o700, 1000, 1000), f("home/alice/.profile", "PS1=#\n", 0o640, 1000, 100),
    ],
    [
      d("usr"), d("usr/bin"), f("usr/bin/su", "su", 0o4755), { type: "hardlink", path: "usr/bin/su-again", target: "usr/bin/su" },
      { type: "whiteout", path: "srv" }, { type: "whiteout", path: "usr/bin/tool" },
      d("etc"), f("etc/keep", "kept, changed\n", 0o600, 7, 8), { type: "symlink", path: "etc/localtime", target: "/usr/share/zoneinfo/UTC" },
    ],
  ],
  "opaque-root-dirs": [
    [d("etc"), f("etc/old", "old\n"), f("etc/keep", "keep\n"), d("lib"), f("lib/a.so", "a", 0o755)],
    [d("etc"), { type: "opaque", path: "etc" }, f("etc/hostname", "box\n"), { type: "whiteout", path: "lib/a.so" }, d("lib"), f("lib/b.so", "b", 0o755)],
  ],
};

describe.runIf(process.getuid?.() === 0)("layerfs directories under kernel overlayfs", () => {
  let dir: Testdir;
  let registry: TestRegistry;
  let client: RegistryClient;
  let s0: Stratum0;
  const published: Array<{ name: string; image: string; layers: string[]; apptainerPaths: Set<string>; trees: LayerTree[] }> = [];

  beforeAll(async () => {
    dir = await testdir();
    registry = await startRegistry("anonymous");
    client = createRegistryClient({ insecureRegistries: [registry.host] });
    s0 = await Stratum0.openOrCreate(dir.join("s0"), { fqrn: FQRN, keysDir: dir.join("keys") });
    const trees: TreeAt[] = [];
    const seenLayers = new Set<string>();
    for (const [name, layerEntries] of Object.entries(IMAGES)) {
      const built: BuiltLayer[] = [];
      for (const entries of layerEntries) built.push(await buildLayer(entries));
      const pushed = await pushImage(registry, `ovl/${name}:1`, { layers: built });
      const image = await client.image(pushed.reference);
      const layerTrees: LayerTree[] = [];
      const buildDate = new Date(1_700_000_000_000);
      const { tree } = await convertImage(image, {
        store: s0.store,
        cacheDir: false,
        logger: memoryLogger(),
        buildDate,
        onLayer: (index, result) => {
          expect(result.digest).toBe(image.layers[index]!.descriptor.digest);
          layerTrees.push(buildLayerTree(result.entries, { layer: result.digest }));
        },
      });
      const digests = image.layers.map((l) => l.descriptor.digest);
      for (const [i, digest] of digests.entries()) {
        if (seenLayers.has(digest)) continue;
        seenLayers.add(digest);
        trees.push({ path: layerDir(digest), tree: layerTrees[i]!.root });
      }
      trees.push({ path: imageDir(image.configDigest), tree });
      const files = assembleApptainerFiles({ config: image.config, reference: name, manifestDigest: image.manifestDigest, buildDate });
      published.push({ name, image: imageDir(image.configDigest), layers: digests, apptainerPaths: new Set(files.map((a) => a.path.slice(1))), trees: layerTrees });
    }
    await publishTrees(s0, trees);
  });
  afterAll(async () => {
    await s0?.close();
    await client?.close();
    await registry?.stop();
    await dir?.cleanup();
  });

  it("counts what each layer needs beyond files", () => {
    const counts = published.map((p) => p.trees.map((t) => [t.whiteouts, t.opaqueDirs, t.warnings]));
    expect(counts).toEqual([
      [[0, 0, 0], [1, 2, 0], [2, 0, 0]],
      [[0, 0, 0], [1, 1, 0]],
    ]);
  });

  it.each(Object.keys(IMAGES))("%s: the merged layers are the flattened image", async (name) => {
    const p = published.find((x) => x.name === name)!;
    const reader = await RepositoryReader.open({ dir: dir.join("s0") }, { fqrn: FQRN });
    const out = dir.join("export", name);
    const lowers: string[] = [];
    try {
      await exportRepository(reader, p.image, `${out}/image`);
      for (const [i, digest] of p.layers.entries()) {
        const stats = await exportRepository(reader, layerDir(digest), `${out}/layer${i}`);
        expect(stats.skipped).toEqual({ owners: 0, devices: 0, xattrs: 0, sockets: 0 });
        lowers.unshift(`${out}/layer${i}`); // topmost (last manifest layer) first
      }
    } finally {
      await reader.close();
    }
    const umount = await mountOverlay(lowers, `${out}/merged`);
    try {
      const problems = await compareTrees(`${out}/merged`, `${out}/image`, {
        skip: (rel) => rel.split("/").at(-1) === ".cvmfscatalog",
        expectedOnly: (rel) => rel === ".singularity.d" || rel.startsWith(".singularity.d/") || p.apptainerPaths.has(rel),
      });
      expect(problems).toEqual([]);
    } finally {
      await umount();
    }
    // The comparison can fail: the same layers stacked the wrong way round are another tree.
    const umountReversed = await mountOverlay([...lowers].reverse(), `${out}/reversed`);
    try {
      expect((await compareTrees(`${out}/reversed`, `${out}/image`, { skip: (rel) => rel.endsWith(".cvmfscatalog") })).length).toBeGreaterThan(0);
    } finally {
      await umountReversed();
    }
  });
});
