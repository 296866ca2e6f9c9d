import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import { readLayerEntries } from "../../src/layers/read-layer-entries.js";
import type { LayerResult } from "../../src/layers/process-layer.js";
import { memoryLogger } from "../../src/logger.js";
import { convertImage } from "../../src/sandbox/convert-image.js";
import { buildLayer, type BuiltLayer } from "../support/layer-builder.js";
import { memoryImage } from "../support/oci-layout.js";
import { testdir, type Testdir } from "../support/testdir.js";

let dir: Testdir;
let store: LocalContentStore;
let base: BuiltLayer;
let top: BuiltLayer;
beforeAll(async () => {
  dir = await testdir();
  store = await LocalContentStore.create(dir.join("store"));
  base = await buildLayer([{ type: "dir", path: "etc" }, { type: "file", path: "etc/a", content: "a" }]);
  top = await buildLayer([{ type: "whiteout", path: "etc/a" }, { type: "file", path: "etc/b", content: "b" }], { compression: "zstd" });
});
afterAll(async () => dir.cleanup());

describe("convertImage onLayer", () => {
  it("hands out each layer's result in manifest order, after applying it, and waits for the caller", async () => {
    const seen: Array<[number, string, string[]]> = [];
    let slowDone = false;
    await convertImage(memoryImage([base, top]), {
      store,
      cacheDir: false,
      logger: memoryLogger(),
      apptainer: false,
      onLayer: async (index, result: LayerResult) => {
        if (index === 1) expect(slowDone).toBe(true);
        seen.push([index, result.digest, result.entries.map((e) => `${e.kind} ${e.name}`)]);
        await new Promise((r) => setTimeout(r, 20));
        slowDone = true;
      },
    });
    expect(seen).toEqual([
      [0, base.digest, ["dir etc", "file etc/a"]],
      [1, top.digest, ["whiteout etc/.wh.a", "file etc/b"]],
    ]);
  });
});

describe("readLayerEntries", () => {
  it("processes a layer the cache lacks, caches it, and reads it from the cache next time", async () => {
    const cacheDir = dir.join("cache");
    const [layer] = memoryImage([top]).layers;
    const first = await readLayerEntries(layer!, { store, cacheDir });
    expect(first).toMatchObject({ digest: top.digest, fromCache: false, files: 1 });
    const again = await readLayerEntries(layer!, { store, cacheDir });
    expect(again.fromCache).toBe(true);
    expect(again.entries).toEqual(first.entries);
    const uncached = await readLayerEntries(layer!, { store, cacheDir: false });
    expect(uncached.fromCache).toBe(false);
  });
});
