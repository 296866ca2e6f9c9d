import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import { AbortedError, LayerError } from "../../src/errors.js";
import { memoryLogger } from "../../src/logger.js";
import { convertImage } from "../../src/sandbox/convert-image.js";
import { lookupNode } from "../../src/tree/image-tree.js";
import { buildLayer, type BuiltLayer } from "../support/layer-builder.js";
import { memoryImage } from "../support/oci-layout.js";
import { testdir, type Testdir } from "../support/testdir.js";

let dir: Testdir;
let store: LocalContentStore;
let base: BuiltLayer;
let mid: BuiltLayer;
let top: BuiltLayer;
beforeAll(async () => {
  dir = await testdir();
  store = await LocalContentStore.create(dir.join("store"));
  base = await buildLayer([
    { type: "dir", path: "bin" },
    { type: "file", path: "bin/sh", content: "#!shell", mode: 0o755 },
    { type: "hardlink", path: "bin/ash", target: "bin/sh" },
    { type: "file", path: "etc/os-release", content: "ID=test\n" },
    { type: "file", path: "etc/old", content: "old" },
  ]);
  mid = await buildLayer([{ type: "whiteout", path: "etc/old" }, { type: "file", path: "etc/new", content: "new" }], { compression: "zstd" });
  top = await buildLayer([{ type: "file", path: "bin/sh", content: "#!new shell", mode: 0o755 }], { compression: "none" });
});
afterAll(async () => dir.cleanup());

describe("convertImage", () => {
  it("applies layers in order, adds Apptainer's files, reports progress and uses the cache the second time", async () => {
    const cacheDir = dir.join("cache");
    const logger = memoryLogger();
    const image = memoryImage([base, mid, top], { reference: "localhost:5000/test/conv:1" });
    const { tree, stats } = await convertImage(image, { store, cacheDir, logger, buildDate: new Date(1_700_000_000_000) });
    const sh = lookupNode(tree, "/bin/sh");
    const ash = lookupNode(tree, "/bin/ash");
    expect(sh?.type === "file" && sh.content.size).toBe(11);
    // The hardlink keeps the base layer's content after the top layer replaced bin/sh.
    expect(ash?.type === "file" && ash.content.size).toBe(7);
    expect(lookupNode(tree, "/etc/old")).toBeUndefined();
    expect(lookupNode(tree, "/etc/new")?.type).toBe("file");
    expect(lookupNode(tree, "/.singularity.d")?.type).toBe("dir");
    expect(lookupNode(tree, "/.singularity.d/env/10-docker2singularity.sh")?.type).toBe("file");
    expect(stats).toMatchObject({ layers: 3, layersFromCache: 0, entries: 8, warnings: 0 });
    const events = logger.events.map((e) => e.event);
    expect(events.filter((e) => e === "layer.start")).toHaveLength(3);
    expect(events.filter((e) => e === "layer.done")).toHaveLength(3);
    expect(events.at(-1)).toBe("image.tree");

    const again = await convertImage(memoryImage([base, mid]), { store, cacheDir, logger: memoryLogger(), apptainer: false });
    expect(again.stats.layersFromCache).toBe(2);
    expect(lookupNode(again.tree, "/bin/sh")?.type === "file" && (lookupNode(again.tree, "/bin/sh") as { content: { size: number } }).content.size).toBe(7);
    expect(lookupNode(again.tree, "/.singularity.d")).toBeUndefined();
  });

  it("fails with the failing layer's error and leaves no unhandled work", async () => {
    const broken = { ...mid, blob: Buffer.from(mid.blob) };
    broken.blob.fill(0, 20, 60);
    const image = memoryImage([base, { ...broken, digest: mid.digest }]);
    // The test image checks digests: corrupt the digest instead so the bytes reach the decoder.
    image.layers[1]!.compressed = async () => (await import("node:stream")).Readable.from([broken.blob]);
    await expect(convertImage(image, { store, cacheDir: false, logger: memoryLogger() })).rejects.toThrow(LayerError);
  });

  it("stops on abort with an AbortedError, whatever the layers are doing", async () => {
    const { PassThrough } = await import("node:stream");
    const stalled = new PassThrough();
    stalled.write(base.blob.subarray(0, 40)); // a gzip header, then nothing more ever
    const image = memoryImage([base, mid]);
    image.layers[0]!.compressed = async () => stalled;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(convertImage(image, { store, cacheDir: false, logger: memoryLogger(), signal: controller.signal })).rejects.toThrow(AbortedError);
    expect(stalled.destroyed).toBe(true);
  });

  it("refuses blobs that are not layers", async () => {
    const image = memoryImage([{ ...base, mediaType: "application/vnd.oci.image.config.v1+json" }]);
    await expect(convertImage(image, { store, cacheDir: false, logger: memoryLogger() })).rejects.toThrow(/not a filesystem layer/);
  });
});
