/**
 * Sync figures. First the cold sync of a real image with each compressor (cold-sync.ts).
 * Then 10 images sharing a base layer synced into a local stratum 0 from the local
 * registry (total time; bytes stored vs the sum of the images' uncompressed sizes, i.e. the
 * file-level dedup ratio), and a no-change re-sync of 100 tags (goal: under 1 s per 100 tags).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pushImage, retag } from "../../test/support/image-builder.js";
import { buildLayer, type TestEntry } from "../../test/support/layer-builder.js";
import { startRegistry } from "../../test/support/registry.js";
import { runQuiet, storedObjects } from "./cli-run.js";
import { coldSyncFigures } from "./cold-sync.js";
import { MiB, round, type BenchContext } from "./context.js";

const storedBytes = (dir: string): number => [...storedObjects(dir).values()].reduce((a, b) => a + b, 0);

export async function run(ctx: BenchContext): Promise<void> {
  const registry = await startRegistry("anonymous", { parentDir: ctx.scratch });
  try {
    await coldSyncFigures(ctx, registry, async (wishlist, stratum0, cacheDir) => {
      const args = ["sync", "--wishlist", wishlist, "--repo", "bench.local", "--stratum0", stratum0, "--keys-dir", join(ctx.scratch, "keys-cold"), "--cache-dir", cacheDir, "--insecure-registry", registry.host, "--quiet"];
      const r = await runQuiet(args);
      if (r.code !== 0) throw new Error(`cold sync failed:\n${r.stdout}`);
    });
    if (process.env.BENCH_SYNC_COLD_ONLY) return;
    // A ~64 MiB base (text-like and random files, as a distribution's /usr) shared by 10 images,
    // each adding ~4 MiB of its own.
    const baseEntries: TestEntry[] = [];
    for (let i = 0; i < 400; i++) {
      baseEntries.push({ type: "file", path: `usr/lib/pkg${i % 20}/file${i}`, content: { size: 160 * 1024, seed: i, compressible: i % 2 === 0 } });
    }
    const base = await buildLayer(baseEntries);
    const baseBytes = 400 * 160 * 1024;
    let sumUncompressed = 0;
    const lines: string[] = [];
    for (let n = 0; n < 10; n++) {
      const own = await buildLayer([
        { type: "file", path: `opt/app${n}/data`, content: { size: 4 * MiB, seed: 1000 + n } },
        { type: "file", path: `opt/app${n}/conf`, content: `app ${n}\n` },
      ]);
      await pushImage(registry, `bench/app${n}:1`, { layers: [base, own] });
      sumUncompressed += baseBytes + 4 * MiB;
      lines.push(`${registry.host}/bench/app${n}:1`);
    }
    const wishlist = join(ctx.scratch, "images.txt");
    await writeFile(wishlist, `${lines.join("\n")}\n`);
    const common = [
      "--repo", "bench.local",
      "--stratum0", join(ctx.scratch, "s0"),
      "--keys-dir", join(ctx.scratch, "keys"),
      "--cache-dir", join(ctx.scratch, "cache"),
      "--insecure-registry", registry.host,
      "--concurrency", "4",
      "--quiet",
    ];
    const t0 = performance.now();
    const first = await runQuiet(["sync", "--wishlist", wishlist, ...common]);
    const syncSeconds = (performance.now() - t0) / 1000;
    if (first.code !== 0) throw new Error(`sync failed:\n${first.stdout}`);
    const stored = storedBytes(join(ctx.scratch, "s0"));
    ctx.figure({ name: "sync of 10 images sharing a base layer: total time", value: round(syncSeconds), unit: "s" });
    ctx.figure({ name: "sum of the images' uncompressed sizes", value: round(sumUncompressed / MiB, 1), unit: "MiB" });
    ctx.figure({ name: "bytes stored in the repository (objects, catalogs)", value: round(stored / MiB, 1), unit: "MiB" });
    ctx.figure({ name: "stored / uncompressed (file-level dedup and zlib)", value: round(stored / sumUncompressed, 3), unit: "ratio" });

    // 100 tags: the 10 images under 10 tags each; a first sync moves the names in, then time a no-change re-sync.
    const many: string[] = [];
    for (let n = 0; n < 10; n++) {
      for (let t = 1; t <= 10; t++) {
        if (t > 1) await retag(registry, `bench/app${n}:1`, String(t));
        many.push(`${registry.host}/bench/app${n}:${t}`);
      }
    }
    await writeFile(wishlist, `${many.join("\n")}\n`);
    const prime = await runQuiet(["sync", "--wishlist", wishlist, ...common]);
    if (prime.code !== 0) throw new Error(`sync of 100 tags failed:\n${prime.stdout}`);
    const t1 = performance.now();
    const again = await runQuiet(["sync", "--wishlist", wishlist, ...common]);
    const resyncSeconds = (performance.now() - t1) / 1000;
    if (again.code !== 0 || !again.stdout.includes("nothing to publish")) throw new Error(`no-change re-sync published:\n${again.stdout}`);
    ctx.figure({ name: "no-change re-sync of 100 tags", value: round(resyncSeconds, 3), unit: "s per 100 tags", goal: "< 1" });
  } finally {
    await registry.stop();
  }
}
