/**
 * Memory: the peak resident set of a `sync --concurrency 4` process, the way a CI runner with
 * 2–4 GiB sees it. Images hold one large file and 50,000 small ones each; the large case is four
 * images with a 2 GiB file each, the small case one image with a 256 MiB file. The peak should
 * not grow with file size or image count (goal: under 1 GiB for the large case).
 *
 * The sync runs as its own process (the installed command, `bin/cvmfs-image-sync.js`), which
 * reports `process.resourceUsage().maxRSS` (the kernel's high-water mark) when it exits.
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { pushImage } from "../../test/support/image-builder.js";
import { writeLayerFile, type TestEntry } from "../../test/support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../../test/support/registry.js";
import { MiB, round, type BenchContext } from "./context.js";

const SMALL_FILES = Number(process.env.BENCH_MEMORY_SMALL_FILES ?? 50_000);
const LARGE_MIB = Number(process.env.BENCH_MEMORY_LARGE_MIB ?? 2048);
const bin = fileURLToPath(new URL("../../bin/cvmfs-image-sync.js", import.meta.url));

function* imageEntries(seed: number, largeBytes: number): Generator<TestEntry> {
  yield { type: "file", path: "data/large.bin", content: { size: largeBytes, seed, compressible: true } };
  for (let i = 0; i < SMALL_FILES; i++) {
    yield { type: "file", path: `usr/share/pkg${i % 250}/f${i}.txt`, content: `image ${seed} file ${i}\n`.repeat(1 + (i % 7)) };
  }
}

async function pushLarge(ctx: BenchContext, registry: TestRegistry, name: string, seed: number, largeBytes: number): Promise<void> {
  const layer = await writeLayerFile(imageEntries(seed, largeBytes), join(ctx.scratch, `${name.replace(/[/:]/g, "_")}.tar.gz`));
  await pushImage(registry, name, { layers: [layer], config: { Cmd: ["/bin/sh"] } });
}

/** Peak RSS in bytes of one sync process over `names`. */
async function syncPeak(ctx: BenchContext, registry: TestRegistry, label: string, names: string[]): Promise<{ peak: number; seconds: number }> {
  const dir = join(ctx.scratch, label);
  await mkdir(dir, { recursive: true });
  const wishlist = join(dir, "images.txt");
  await writeFile(wishlist, `${names.map((n) => `${registry.host}/${n}`).join("\n")}\n`);
  const hook = join(dir, "peak.mjs");
  await writeFile(hook, 'process.on("exit", () => process.stderr.write(`\\nMAXRSS_KB ${process.resourceUsage().maxRSS}\\n`));\n');
  const t0 = performance.now();
  const { stderr } = await promisify(execFile)(
    process.execPath,
    ["--import", hook, bin, "sync", "--wishlist", wishlist, "--repo", "memory.local", "--stratum0", join(dir, "s0"), "--keys-dir", join(dir, "keys"),
      "--cache-dir", join(dir, "cache"), "--insecure-registry", registry.host, "--concurrency", "4", "--quiet"],
    { maxBuffer: 64 * MiB, env: { ...process.env, TMPDIR: dir } },
  );
  const seconds = (performance.now() - t0) / 1000;
  const kb = /MAXRSS_KB (\d+)/.exec(stderr)?.[1];
  if (kb === undefined) throw new Error(`sync of ${label} reported no peak:\n${stderr.slice(-2000)}`);
  return { peak: Number(kb) * 1024, seconds };
}

export async function run(ctx: BenchContext): Promise<void> {
  ctx.note(`load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} (2 cores)`);
  const registry = await startRegistry("anonymous", { parentDir: ctx.scratch });
  try {
    const t0 = performance.now();
    await pushLarge(ctx, registry, "mem/small:1", 1, 256 * MiB);
    const large = [2, 3, 4, 5].map((seed) => `mem/large${seed}:1`);
    for (const [i, name] of large.entries()) await pushLarge(ctx, registry, name, 10 + i, LARGE_MIB * MiB);
    ctx.note(`images built and pushed in ${round((performance.now() - t0) / 1000, 1)} s (${SMALL_FILES} small files each)`);

    const small = await syncPeak(ctx, registry, "small", ["mem/small:1"]);
    ctx.figure({ name: `1 image, 256 MiB file + ${SMALL_FILES} files: peak RSS`, value: round(small.peak / MiB), unit: "MiB" });
    const big = await syncPeak(ctx, registry, "large", large);
    ctx.figure({ name: `4 images, ${LARGE_MIB} MiB file + ${SMALL_FILES} files each: peak RSS`, value: round(big.peak / MiB), unit: "MiB", goal: "< 1024" });
    ctx.figure({ name: "4 large images: sync time", value: round(big.seconds, 1), unit: "s" });
    ctx.figure({ name: "peak growth, small case → large case", value: round(big.peak / small.peak, 2), unit: "×", goal: "≈ 1" });
  } finally {
    await registry.stop();
  }
  ctx.note(`load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} at the end`);
}
