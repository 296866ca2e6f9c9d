/**
 * The cold-sync figures, for each compressor (libdeflate when its addon is built, and
 * the node:zlib fallback). The image is built here from real files of this machine in three gzip
 * layers: Python's library and Perl's (text, bytecode, a few shared objects), `/usr/bin` (ELF
 * binaries), and the man pages and docs (mostly gzip already). Baselines on the same bytes in the
 * same run: `umoci unpack --rootless` of the image, `tar -xzf` of the three layers, and each
 * compressor alone on two threads over the files' contents (every distinct file, whole). Printed
 * per compressor: sync time ÷ umoci (goal ≤ 1.0), ÷ tar (reported), sync throughput ÷ the
 * compressor alone (goal ≥ 0.8), stored bytes ÷ zlib level 6 over the same distinct files (goal
 * ≤ 1.05), CPU use of both cores, and the load average around the run.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, readFileSync, readdirSync, statSync, lstatSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Worker } from "node:worker_threads";
import { CompressPool } from "../../src/cvmfs/objects/compress-pool.js";
import { COMPRESSOR_ENV, resolveCompressor, type Compressor } from "../../src/cvmfs/objects/compressor.js";
import type { PushLayer } from "../../test/support/image-builder.js";
import { pushImage } from "../../test/support/image-builder.js";
import { writeOciLayout } from "../../test/support/oci-layout.js";
import type { TestRegistry } from "../../test/support/registry.js";
import { MiB, round, type BenchContext } from "./context.js";

/** The three layers, base first: paths under / that exist on a Debian 12 machine with the test dependencies. */
const LAYERS: string[][] = [
  ["usr/lib/python3.11", "usr/lib/python3", "usr/share/perl"],
  ["usr/bin"],
  ["usr/share/man", "usr/share/doc"],
];

const GZIP_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";

/** Pack `paths` (relative to /) into a gzip layer file (pigz -6); diff_id from the tar stream, digest from the file. */
async function packLayer(paths: string[], file: string): Promise<PushLayer> {
  const existing = paths.filter((p) => {
    try {
      return statSync(join("/", p)).isDirectory();
    } catch {
      return false;
    }
  });
  const tar = spawn("tar", ["-C", "/", "--sort=name", "-cf", "-", ...existing], { stdio: ["ignore", "pipe", "ignore"] });
  const pigz = spawn("pigz", ["-6"], { stdio: ["pipe", "pipe", "inherit"] });
  const diffId = createHash("sha256");
  const digest = createHash("sha256");
  tar.stdout.on("data", (c: Buffer) => diffId.update(c));
  tar.stdout.pipe(pigz.stdin);
  pigz.stdout.on("data", (c: Buffer) => digest.update(c));
  const tarExit = new Promise<number | null>((r) => tar.once("close", r));
  await pipeline(pigz.stdout, createWriteStream(file));
  // 1 is GNU tar's "some files differed" (a file changed while read): the layer is still whole.
  const code = await tarExit;
  if (code !== 0 && code !== 1) throw new Error(`tar of ${existing.join(" ")} exited with ${code}`);
  return { digest: `sha256:${digest.digest("hex")}`, diffId: `sha256:${diffId.digest("hex")}`, size: statSync(file).size, mediaType: GZIP_MEDIA_TYPE, file };
}

/** Regular files under `dir`, recursively (symlinks and others left out). */
function regularFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) regularFiles(p, out);
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/** Every distinct file content of an unpacked tree, in one shared buffer for the compressor-alone runs. */
function distinctContents(dir: string): { shared: SharedArrayBuffer; spans: Float64Array; bytes: number; files: number } {
  const seen = new Set<string>();
  const parts: Buffer[] = [];
  let files = 0;
  for (const f of regularFiles(dir)) {
    files++;
    const b = readFileSync(f);
    const h = createHash("sha1").update(b).digest("hex");
    if (seen.has(h)) continue;
    seen.add(h);
    parts.push(b);
  }
  const bytes = parts.reduce((a, b) => a + b.length, 0);
  const shared = new SharedArrayBuffer(bytes);
  const view = new Uint8Array(shared);
  const spans = new Float64Array(parts.length * 2);
  let at = 0;
  parts.forEach((b, i) => {
    view.set(b, at);
    spans[2 * i] = at;
    spans[2 * i + 1] = b.length;
    at += b.length;
  });
  return { shared, spans, bytes, files };
}

/** A worker that deflates every `threads`-th content with one compressor and reports the stored bytes. */
const ALONE_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const zlib = require("node:zlib");
const { shared, spans, index, threads, addon, level } = workerData;
const lib = addon ? require(addon) : null;
const view = new Uint8Array(shared);
let out = Buffer.allocUnsafe(1 << 20);
parentPort.once("message", () => {
  let stored = 0;
  for (let i = index; i < spans.length / 2; i += threads) {
    const input = view.subarray(spans[2 * i], spans[2 * i] + spans[2 * i + 1]);
    if (lib) {
      const bound = lib.zlibCompressBound(input.length, level);
      if (out.length < bound) out = Buffer.allocUnsafe(bound);
      stored += lib.zlibCompress(input, out, level);
    } else {
      stored += zlib.deflateSync(input, { level }).length;
    }
  }
  parentPort.postMessage(stored);
});
parentPort.postMessage("ready");
`;

/** The compressor alone on `threads` threads over the contents: seconds and stored bytes. */
async function compressorAlone(c: Compressor, contents: ReturnType<typeof distinctContents>, threads: number): Promise<{ seconds: number; stored: number }> {
  const workers = Array.from(
    { length: threads },
    (_, index) => new Worker(ALONE_WORKER, { eval: true, workerData: { shared: contents.shared, spans: contents.spans, index, threads, addon: c.addon, level: c.level } }),
  );
  await Promise.all(workers.map((w) => new Promise((r) => w.once("message", r))));
  const t0 = performance.now();
  const sizes = await Promise.all(
    workers.map((w) => {
      const done = new Promise<number>((r) => w.once("message", r));
      w.postMessage("go");
      return done;
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  return { seconds, stored: sizes.reduce((a, b) => a + b, 0) };
}

/** Bytes of the file objects (no suffix, or P) under a stratum 0's data/. */
function fileObjectBytes(stratum0: string): number {
  let total = 0;
  const data = join(stratum0, "data");
  for (const sub of readdirSync(data)) {
    if (sub === "txn") continue;
    for (const f of readdirSync(join(data, sub))) if (!/[CHXM]$/.test(f)) total += statSync(join(data, sub, f)).size;
  }
  return total;
}

const timedSync = <T>(fn: () => T): number => {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
};

/**
 * Build the image, push it to `registry`, and print the figures for each compressor. `sync`
 * runs the CLI in this process (`runSync`), so its CPU time counts the worker threads too.
 */
export async function coldSyncFigures(
  ctx: BenchContext,
  registry: TestRegistry,
  runSync: (wishlist: string, stratum0: string, cacheDir: string) => Promise<void>,
): Promise<void> {
  const s = join(ctx.scratch, "cold");
  await mkdir(join(s, "layers"), { recursive: true });
  const layers: PushLayer[] = [];
  for (const [i, paths] of LAYERS.entries()) layers.push(await packLayer(paths, join(s, "layers", `l${i}.tar.gz`)));
  await writeOciLayout(join(s, "layout"), layers, { refName: "bench" });
  const pushed = await pushImage(registry, "bench/usr:1", { layers });
  const wishlist = join(s, "images.txt");
  await writeFile(wishlist, `${pushed.reference}\n`);

  const umoci = timedSync(() =>
    execFileSync("umoci", ["--log", "error", "unpack", "--rootless", "--image", `${join(s, "layout")}:bench`, join(s, "umoci")], { stdio: "pipe" }),
  );
  await rm(join(s, "umoci"), { recursive: true, force: true });
  const tarDir = join(s, "tar");
  await mkdir(tarDir);
  const tar = timedSync(() => {
    for (const l of layers) execFileSync("tar", ["-xzf", l.file as string, "-C", tarDir]);
  });
  const contents = distinctContents(tarDir);
  await rm(tarDir, { recursive: true, force: true });
  const compressed = layers.reduce((a, l) => a + l.size, 0);
  ctx.note(
    `image: 3 gzip layers, ${round(compressed / MiB, 0)} MiB compressed; ${contents.files} files, ${round(contents.bytes / MiB, 0)} MiB distinct content; ` +
      `umoci ${round(umoci, 1)} s, tar -xzf ${round(tar, 1)} s`,
  );
  const zlib6 = await compressorAlone(resolveCompressor("zlib"), contents, 2);

  const cores = availableParallelism();
  const compressors = [resolveCompressor("auto"), resolveCompressor("zlib")].filter((c, i, all) => all.findIndex((d) => d.name === c.name) === i);
  const previous = process.env[COMPRESSOR_ENV];
  try {
    for (const c of compressors) {
      const alone = c.name === "zlib" ? zlib6 : await compressorAlone(c, contents, 2);
      // A new shared pool picks the compressor up from the environment.
      process.env[COMPRESSOR_ENV] = c.name;
      await CompressPool.shared().close();
      const stratum0 = join(s, `s0-${c.name}`);
      const load0 = loadavg()[0] as number;
      const cpu0 = process.cpuUsage();
      const elu0 = performance.eventLoopUtilization();
      const t0 = performance.now();
      await runSync(wishlist, stratum0, join(s, `cache-${c.name}`));
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const mainBusy = performance.eventLoopUtilization(elu0).utilization;
      const load1 = loadavg()[0] as number;
      const stored = fileObjectBytes(stratum0);
      const tag = `[${c.name} ${c.version} level ${c.level}]`;
      ctx.note(`${tag} cold sync ${round(seconds, 1)} s; the compressor alone on 2 threads ${round(alone.seconds, 1)} s; load average ${round(load0, 1)} → ${round(load1, 1)}; main thread busy ${round(mainBusy * 100, 0)} %`);
      ctx.figure({ name: `${tag} sync / umoci unpack --rootless (time)`, value: round(seconds / umoci), unit: "×", goal: "≤ 1.0" });
      ctx.figure({ name: `${tag} sync / tar -xzf of the layers (time)`, value: round(seconds / tar), unit: "×" });
      ctx.figure({ name: `${tag} sync throughput / compressor alone, 2 threads`, value: round(alone.seconds / seconds), unit: "×", goal: "≥ 0.8" });
      ctx.figure({ name: `${tag} stored bytes / zlib level 6`, value: round(stored / zlib6.stored, 3), unit: "×", goal: "≤ 1.05" });
      ctx.figure({ name: `${tag} CPU use of ${cores} cores during sync`, value: round(((cpu.user + cpu.system) / 1e6 / seconds / cores) * 100, 0), unit: "%" });
      await rm(stratum0, { recursive: true, force: true });
    }
  } finally {
    if (previous === undefined) delete process.env[COMPRESSOR_ENV];
    else process.env[COMPRESSOR_ENV] = previous;
    await CompressPool.shared().close();
  }
}
