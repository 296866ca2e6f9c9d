/**
 * What the other runtimes' formats cost: the same images synced into three local stratum 0s, with
 * `--formats sandbox`, `sandbox,podman` and `sandbox,podman,layers`. Figures: time of each against
 * the sandbox alone, and the bytes each adds. Goals: Podman's store under 1 % of the sandbox's
 * bytes; the layers cost at most the files that are in the layers but not in the flattened images
 * (files a later layer deletes or replaces), plus their catalogs.
 */
import { writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { pushImage } from "../../test/support/image-builder.js";
import { buildLayer, type TestEntry } from "../../test/support/layer-builder.js";
import { startRegistry } from "../../test/support/registry.js";
import { runQuiet, storedObjects } from "./cli-run.js";
import { MiB, round, type BenchContext } from "./context.js";

const total = (sizes: Iterable<number>): number => [...sizes].reduce((a, b) => a + b, 0);

const IMAGES = 6;

export async function run(ctx: BenchContext): Promise<void> {
  const registry = await startRegistry("anonymous", { parentDir: ctx.scratch });
  try {
    // A 48 MiB base shared by every image (half compressible, as a distribution's /usr), then per
    // image a layer of its own files and a layer that replaces and deletes some base files: those
    // base files are in the layers but not in the flattened image.
    const baseEntries: TestEntry[] = [];
    for (let i = 0; i < 300; i++) {
      baseEntries.push({ type: "file", path: `usr/lib/pkg${i % 20}/file${i}`, content: { size: 160 * 1024, seed: i, compressible: i % 2 === 0 } });
    }
    const base = await buildLayer(baseEntries);
    // The base files hidden in every image: random (incompressible) ones, so that their stored
    // size is their size and the figure below reads as a plain ratio.
    const hidden = [1, 3, 5, 7, 9, 11].map((i) => `usr/lib/pkg${i % 20}/file${i}`);
    const hiddenBytes = hidden.length * 160 * 1024;
    const lines: string[] = [];
    for (let n = 0; n < IMAGES; n++) {
      const own = await buildLayer([
        { type: "file", path: `opt/app${n}/data`, content: { size: 4 * MiB, seed: 1000 + n } },
        { type: "file", path: `opt/app${n}/conf`, content: `app ${n}\n` },
      ]);
      const changes = await buildLayer([
        { type: "whiteout", path: hidden[0]! },
        { type: "whiteout", path: hidden[1]! },
        { type: "whiteout", path: hidden[2]! },
        { type: "file", path: hidden[3]!, content: { size: 64 * 1024, seed: 2000 + n } },
        { type: "file", path: hidden[4]!, content: { size: 64 * 1024, seed: 3000 + n } },
        { type: "file", path: hidden[5]!, content: { size: 64 * 1024, seed: 4000 + n } },
      ]);
      await pushImage(registry, `bench/fmt${n}:1`, { layers: [base, own, changes] });
      lines.push(`${registry.host}/bench/fmt${n}:1`);
    }
    const wishlist = join(ctx.scratch, "images.txt");
    await writeFile(wishlist, `${lines.join("\n")}\n`);
    ctx.note(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);

    const syncInto = async (name: string, formats: string): Promise<{ seconds: number; objects: Map<string, number> }> => {
      const s0 = join(ctx.scratch, name);
      const t0 = performance.now();
      const result = await runQuiet([
        "sync", "--wishlist", wishlist,
        "--repo", "bench.local",
        "--stratum0", s0,
        "--keys-dir", join(ctx.scratch, "keys"),
        // A cache of its own per run: every run downloads and processes the same layers.
        "--cache-dir", join(ctx.scratch, `cache-${name}`),
        "--insecure-registry", registry.host,
        "--concurrency", "4",
        "--formats", formats,
        "--quiet",
      ]);
      const seconds = (performance.now() - t0) / 1000;
      if (result.code !== 0) throw new Error(`sync --formats ${formats} failed:\n${result.stdout}`);
      return { seconds, objects: storedObjects(s0) };
    };
    // A first run warms the registry and the page cache, so that the three timed runs are alike.
    await syncInto("warm-up", "sandbox");
    const sandbox = await syncInto("sandbox", "sandbox");
    const podman = await syncInto("podman", "sandbox,podman");
    const all = await syncInto("all", "sandbox,podman,layers");

    const sandboxBytes = total(sandbox.objects.values());
    const extra = (more: Map<string, number>, than: Map<string, number>) => [...more].filter(([name]) => !than.has(name));
    const podmanExtra = extra(podman.objects, sandbox.objects);
    const layersExtra = extra(all.objects, podman.objects);
    const catalogs = (list: Array<[string, number]>) => total(list.filter(([n]) => n.endsWith("C")).map(([, s]) => s));
    const files = (list: Array<[string, number]>) => total(list.filter(([n]) => !/[CHXM]$/.test(n)).map(([, s]) => s));

    ctx.figure({ name: `${IMAGES} images, --formats sandbox: time`, value: round(sandbox.seconds), unit: "s" });
    ctx.figure({ name: "--formats sandbox: bytes stored", value: round(sandboxBytes / MiB, 2), unit: "MiB" });
    ctx.figure({ name: "sandbox,podman: time / sandbox alone", value: round(podman.seconds / sandbox.seconds), unit: "ratio" });
    ctx.figure({
      name: "sandbox,podman: extra bytes / sandbox bytes",
      value: round((100 * total(podmanExtra.map(([, s]) => s))) / sandboxBytes, 3),
      unit: "%",
      goal: "< 1 %",
    });
    ctx.figure({ name: "sandbox,podman,layers: time / sandbox alone", value: round(all.seconds / sandbox.seconds), unit: "ratio" });
    ctx.figure({ name: "layers: extra file objects", value: round(files(layersExtra) / MiB, 3), unit: "MiB" });
    ctx.figure({ name: "layers: files only in the layers (hidden base files)", value: round(hiddenBytes / MiB, 3), unit: "MiB" });
    // Converting an image stores every file of its layers, hidden ones too, so the layers' own
    // files are mostly there already: the layers add at most those, plus their catalogs.
    ctx.figure({ name: "layers: extra file objects / files only in the layers", value: round(files(layersExtra) / hiddenBytes, 3), unit: "ratio", goal: "≤ 1" });
    ctx.figure({ name: "layers: extra catalogs", value: round(catalogs(layersExtra) / 1024, 1), unit: "KiB" });
    ctx.note(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  } finally {
    await registry.stop();
  }
}
