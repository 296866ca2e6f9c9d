/**
 * Convert benchmark: a generated 5-layer gzip image (30,000 files, ~1 GiB, plus one 2 GiB file)
 * as an OCI layout on /dev/shm, read through a file-backed `Image`. Figures, all measured in
 * this run on the same bytes:
 * - `convert --sandbox` (layers → tree, bodies staged, then moved into the sandbox), as a time
 *   ratio to `umoci unpack --rootless` and to `tar -xzf` of the five layers in order; where its
 *   time goes; CPU utilisation over both cores (process.cpuUsage, worker threads included, over
 *   wall time); peak RSS growth with a 2 GiB file in the image (must not grow with file size);
 * - `convert --sandbox --layer-cache` (a plain store kept in the cache, then copies);
 * - the convert `sync` runs (CVMFS objects in a content store, layer results cached), and a
 *   second convert of an image sharing 4 of the 5 layers, as a ratio to the first.
 * `BENCH_CONVERT_SCALE=0.1` shrinks every size for a quick run.
 */
import { execFileSync } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { ContentStore } from "../../src/content/content-store.js";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import { silentLogger } from "../../src/logger.js";
import { convertImage } from "../../src/sandbox/convert-image.js";
import { materialiseTree } from "../../src/sandbox/materialise.js";
import { PlainContentStore } from "../../src/sandbox/materialise-plain-store.js";
import { StagingContentStore } from "../../src/sandbox/staging-store.js";
import { writeLayerFile, type TestEntry } from "../../test/support/layer-builder.js";
import { openOciLayout, writeOciLayout, type LayoutLayer } from "../../test/support/oci-layout.js";
import { MiB, round, sampleRss, type BenchContext } from "./context.js";

const SCALE = Number(process.env.BENCH_CONVERT_SCALE ?? "1");

/** Layer plans: [files, average file size]; the 2 GiB file goes into layer 2. */
const PLAN: Array<[number, number]> = [
  [12_000, 30 * 1024],
  [8_000, 25 * 1024],
  [6_000, 42 * 1024],
  [3_000, 60 * 1024],
  [1_000, 30 * 1024],
];
const HUGE = Math.round(2 * 1024 * MiB * SCALE);

function* layerEntries(index: number, variant: number): Generator<TestEntry> {
  const [files, avg] = PLAN[index]!;
  const n = Math.max(10, Math.round(files * SCALE));
  let state = (index + 1) * 7919 + variant * 104729;
  const rand = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  yield { type: "dir", path: `l${index}` };
  for (let i = 0; i < n; i++) {
    const dir = `l${index}/d${Math.floor(i / 100)}`;
    if (i % 100 === 0) yield { type: "dir", path: dir };
    // Two thirds text-like (compressible), one third random, sizes spread around the average.
    const size = Math.floor(avg * 2 * rand() * rand() * 2);
    yield { type: "file", path: `${dir}/f${i}`, content: { size, seed: index * 1_000_000 + i + variant, compressible: i % 3 !== 0 } };
    if (i % 500 === 0) yield { type: "symlink", path: `${dir}/link${i}`, target: `f${i}` };
  }
  if (index === 1) yield { type: "file", path: "huge.bin", content: { size: HUGE, seed: 42, compressible: true } };
}

async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; seconds: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { value, seconds, cpu: (cpu.user + cpu.system) / 1e6 };
}

export async function run(ctx: BenchContext): Promise<void> {
  const s = ctx.scratch;
  const layout = join(s, "layout");
  const layerDir = join(s, "layers");
  await mkdir(layerDir, { recursive: true });

  const gen = await timed(async () => {
    const built: LayoutLayer[] = [];
    for (let i = 0; i < PLAN.length; i++) built.push(await writeLayerFile(layerEntries(i, 0), join(layerDir, `l${i}.tar.gz`)));
    const other = await writeLayerFile(layerEntries(4, 1), join(layerDir, "l4b.tar.gz"));
    return { built, other };
  });
  const { built, other } = gen.value;
  await writeOciLayout(layout, built, { refName: "first" });
  await writeOciLayout(layout, [...built.slice(0, 4), other], { refName: "second", append: true });
  await rm(layerDir, { recursive: true });
  const compressed = built.reduce((a, l) => a + l.size, 0);
  ctx.note(`generated ${PLAN.length} gzip layers, ${round(compressed / MiB, 0)} MiB compressed, in ${round(gen.seconds, 1)} s (scale ${SCALE})`);

  // Baselines: umoci rootless unpack, and GNU tar of the same layers in order.
  const umoci = await timed(() => execFileSync("umoci", ["--log", "error", "unpack", "--rootless", "--image", `${layout}:first`, join(s, "umoci")], { stdio: "pipe" }));
  await rm(join(s, "umoci"), { recursive: true, force: true });
  const tarDir = join(s, "tar");
  await mkdir(tarDir);
  const tar = await timed(() => {
    for (const l of built) execFileSync("tar", ["-xzf", join(layout, "blobs", "sha256", l.digest.slice(7)), "-C", tarDir]);
  });
  await rm(tarDir, { recursive: true, force: true });

  // The `convert` command's own path: file bodies staged beside the sandbox, then moved in.
  const sandbox = join(s, "sandbox");
  const stagedRss = sampleRss();
  const staged = await timed(async () => {
    const store = await StagingContentStore.create(join(s, ".sandbox.staging"));
    try {
      const conv = await timed(async () => convertImage(await openOciLayout(layout, "first"), { store, cacheDir: false, logger: silentLogger, buildDate: new Date(0) }));
      const mat = await timed(() => materialiseTree(conv.value.tree, sandbox, { store }));
      return { conv, mat };
    } finally {
      await store.dispose();
    }
  });
  const stagedPeak = stagedRss.stop();
  await removeSandbox(sandbox);

  // `convert --layer-cache`: a plain (uncompressed) store in the cache, objects copied into place.
  const plainStore = await PlainContentStore.create(join(s, "plain-store"));
  const withLayerCache = (ref: string): Promise<{ value: unknown; seconds: number; cpu: number }> =>
    timed(async () => {
      const { tree } = await convertImage(await openOciLayout(layout, ref), { store: plainStore, cacheDir: join(s, "plain-cache"), logger: silentLogger, buildDate: new Date(0) });
      return materialiseTree(tree, sandbox, { store: plainStore });
    });
  const plain = await withLayerCache("first");
  await removeSandbox(sandbox);
  const plainSecond = await withLayerCache("second");
  await removeSandbox(sandbox);
  await rm(join(s, "plain-store"), { recursive: true, force: true });

  // Where the time goes: the same convert with a store that only drains the bodies (no hashing,
  // no compression, no writes) leaves fetch + digest check + gunzip + tar parsing + tree.
  const draining: ContentStore = {
    hashAlgorithm: "sha1",
    async putFile(body) {
      let size = 0;
      for await (const c of body as AsyncIterable<Uint8Array>) size += c.length;
      return { size, hash: "0".repeat(40) };
    },
    putBuffer: async () => "0".repeat(40),
    has: async () => false,
    readFile: () => Readable.from([]),
    objectPath: () => "/dev/null",
  };
  const decodeOnly = await timed(async () => convertImage(await openOciLayout(layout, "first"), { store: draining, cacheDir: false, logger: silentLogger, apptainer: false }));

  // What `sync` does with an image: CVMFS objects (zlib, SHA-1) in a content store, layer results
  // cached; then a second image sharing 4 of the 5 layers.
  const store = await LocalContentStore.create(join(s, "store"));
  const cacheDir = join(s, "cache");
  const storeRss = sampleRss();
  const conv = await timed(async () => convertImage(await openOciLayout(layout, "first"), { store, cacheDir, logger: silentLogger, buildDate: new Date(0) }));
  const storePeak = storeRss.stop();
  const second = await timed(async () => convertImage(await openOciLayout(layout, "second"), { store, cacheDir, logger: silentLogger, buildDate: new Date(0) }));

  const cores = availableParallelism();
  const st = conv.value.stats;
  const { conv: sConv, mat: sMat } = staged.value;
  ctx.note(`image: ${st.files} files, ${round(st.bytes / MiB, 0)} MiB; the CVMFS store wrote ${round(store.bytesWritten / MiB, 0)} MiB in ${store.objectsWritten} objects`);
  ctx.note(`umoci ${round(umoci.seconds, 1)} s, tar -xzf ${round(tar.seconds, 1)} s; convert: layers ${round(sConv.seconds, 1)} s + materialise ${round(sMat.seconds, 1)} s`);
  ctx.figure({ name: "convert --sandbox / umoci unpack --rootless (time)", value: round(staged.seconds / umoci.seconds), unit: "×", goal: "≤ 0.5" });
  ctx.figure({ name: "convert --sandbox / tar -xzf of the layers (time)", value: round(staged.seconds / tar.seconds), unit: "×" });
  ctx.figure({ name: "  of which decode+parse+tree (draining store) / umoci", value: round(decodeOnly.seconds / umoci.seconds), unit: "×" });
  ctx.figure({ name: "  of which materialise / umoci", value: round(sMat.seconds / umoci.seconds), unit: "×" });
  ctx.figure({ name: `convert --sandbox: CPU utilisation over ${cores} cores`, value: round((staged.cpu / staged.seconds / cores) * 100, 0), unit: "%" });
  ctx.figure({ name: "convert --sandbox: peak RSS growth (image with a 2 GiB file)", value: round(stagedPeak / MiB, 0), unit: "MiB", goal: "< 400" });
  ctx.figure({ name: "convert --sandbox --layer-cache (first run) / umoci", value: round(plain.seconds / umoci.seconds), unit: "×" });
  ctx.figure({ name: "  second image (4 of 5 layers cached) / first, sandbox written", value: round(plainSecond.seconds / plain.seconds), unit: "×" });
  ctx.figure({ name: "into the CVMFS store (what sync does) / umoci", value: round(conv.seconds / umoci.seconds), unit: "×" });
  ctx.figure({ name: "into the CVMFS store: CPU utilisation", value: round((conv.cpu / conv.seconds / cores) * 100, 0), unit: "%" });
  ctx.figure({ name: "into the CVMFS store: peak RSS growth", value: round(storePeak / MiB, 0), unit: "MiB", goal: "< 400" });
  ctx.figure({ name: "second convert (4 of 5 layers shared) / first (time)", value: round(second.seconds / conv.seconds, 3), unit: "×", goal: "≤ 0.1" });
  ctx.figure({ name: "layers from cache in the second convert", value: second.value.stats.layersFromCache, unit: "of 5" });
}

async function removeSandbox(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await rm(`${dir}.meta.json`, { force: true });
}
