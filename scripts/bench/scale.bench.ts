/**
 * Scale: a generated registry of 200 and then 2,000 small images (two shared base layers,
 * distinct configs, 50 tags a repository, the first two repositories listed by tag glob) synced
 * into a local stratum 0. For each size: first sync time per image, a no-change re-sync of every
 * tag (layer downloads, new revisions), a re-sync after 10 tags moved against syncing those 10
 * into an empty repository, `plan` time, the root catalog's size and the largest catalog; then
 * the growth factor of each figure from the small size to the large one. A figure that grows
 * with what is published rather than with what changed shows up as a factor near 10.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import pLimit from "p-limit";
import { main } from "../../src/cli/main.js";
import { RepositoryReader } from "../../src/cvmfs/repository/repository-reader.js";
import { pushImage, type PushedImage } from "../../test/support/image-builder.js";
import { buildLayer } from "../../test/support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../../test/support/registry.js";
import { round, publishedRevision, type BenchContext } from "./context.js";

const SIZES = (process.env.BENCH_SCALE_SIZES ?? "200,2000").split(",").map(Number);
const TAGS_PER_REPOSITORY = 50;
const GLOB_REPOSITORIES = 2;
const FQRN = "scale.local";

interface RunResult {
  code: number;
  stdout: string;
  seconds: number;
  events: Record<string, unknown>[];
}

async function cli(args: string[]): Promise<RunResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  err.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const t0 = performance.now();
  const code = await main([...args, "--log-format", "json", "--quiet"], { stdout: out, stderr: err, env: process.env, signal: new AbortController().signal });
  const seconds = (performance.now() - t0) / 1000;
  const events = stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, stdout, seconds, events };
}

const layerDownloads = (r: RunResult): number => r.events.filter((e) => e["event"] === "layer.start").length;

const revisionOf = (stratum0: string): Promise<number> => publishedRevision(stratum0, FQRN);

/** Root catalog size and the largest catalog, in bytes (uncompressed SQLite files). */
async function catalogSizes(stratum0: string): Promise<{ root: number; largest: number; count: number }> {
  const reader = await RepositoryReader.open({ dir: stratum0 }, { fqrn: FQRN });
  try {
    const root = reader.manifest.catalogSize;
    let largest = root;
    let count = 1;
    const visit = async (hash: string): Promise<void> => {
      for (const nested of (await reader.catalog(hash)).nested()) {
        count++;
        largest = Math.max(largest, nested.size);
        await visit(nested.hash);
      }
    };
    await visit(reader.manifest.catalogHash);
    return { root, largest, count };
  } finally {
    await reader.close();
  }
}

/** The images of one size: `scale/r<k>:<t>`, each with its own config over shared layers. */
async function pushImages(registry: TestRegistry, count: number, generation: string): Promise<PushedImage[]> {
  const baseA = await buildLayer(Array.from({ length: 40 }, (_, i) => ({ type: "file" as const, path: `usr/lib/a/f${i}`, content: `a ${i}\n`.repeat(50) })));
  const baseB = await buildLayer(Array.from({ length: 10 }, (_, i) => ({ type: "file" as const, path: `opt/b/f${i}`, content: `b ${i}\n`.repeat(20) })));
  const limit = pLimit(8);
  return Promise.all(
    Array.from({ length: count }, (_, n) =>
      limit(() =>
        pushImage(registry, nameOf(n), { layers: n % 2 === 0 ? [baseA, baseB] : [baseA], config: { Env: [`IMAGE=${n}`, `GENERATION=${generation}`], Cmd: ["/bin/sh"] } }),
      ),
    ),
  );
}

const nameOf = (n: number): string => `scale/r${Math.floor(n / TAGS_PER_REPOSITORY)}:${n % TAGS_PER_REPOSITORY}`;

function wishlistLines(registry: TestRegistry, count: number): string[] {
  const lines: string[] = [];
  for (let r = 0; r < Math.ceil(count / TAGS_PER_REPOSITORY); r++) {
    if (r < GLOB_REPOSITORIES) lines.push(`${registry.host}/scale/r${r}:*`);
    else for (let t = 0; t < TAGS_PER_REPOSITORY && r * TAGS_PER_REPOSITORY + t < count; t++) lines.push(`${registry.host}/scale/r${r}:${t}`);
  }
  return lines;
}

interface SizeFigures {
  firstPerImage: number;
  resync: number;
  resyncLayerDownloads: number;
  resyncRevisions: number;
  moved: number;
  movedBaseline: number;
  plan: number;
  rootCatalog: number;
  largestCatalog: number;
}

async function measure(ctx: BenchContext, size: number): Promise<SizeFigures> {
  const dir = join(ctx.scratch, `n${size}`);
  const registry = await startRegistry("anonymous", { parentDir: ctx.scratch });
  try {
    const tPush = performance.now();
    await pushImages(registry, size, "1");
    ctx.note(`${size} images pushed in ${round((performance.now() - tPush) / 1000, 1)} s`);
    const wishlist = join(dir, "images.txt");
    await mkdir(dir, { recursive: true });
    await writeFile(wishlist, `${wishlistLines(registry, size).join("\n")}\n`);
    const common = (stratum0: string) => [
      "--repo", FQRN,
      "--stratum0", stratum0,
      "--keys-dir", join(dir, "keys"),
      "--cache-dir", join(dir, "cache"),
      "--insecure-registry", registry.host,
      "--concurrency", "4",
    ];
    const s0 = join(dir, "s0");

    const first = await cli(["sync", "--wishlist", wishlist, ...common(s0)]);
    if (first.code !== 0) throw new Error(`first sync of ${size} failed:\n${first.stdout.slice(-2000)}`);
    const revisionAfterFirst = await revisionOf(s0);

    const resync = await cli(["sync", "--wishlist", wishlist, ...common(s0)]);
    if (resync.code !== 0) throw new Error(`re-sync of ${size} failed:\n${resync.stdout.slice(-2000)}`);
    const resyncRevisions = (await revisionOf(s0)) - revisionAfterFirst;

    const plan = await cli(["plan", "--wishlist", wishlist, "--format", "json", ...common(s0)]);
    if (plan.code !== 0) throw new Error(`plan of ${size} failed`);

    // Ten tags move (new configs over the same layers); the same ten alone into an empty repository.
    const movedIndexes = Array.from({ length: 10 }, (_, i) => Math.floor((i * size) / 10) + 3);
    const baseA = await buildLayer(Array.from({ length: 40 }, (_, i) => ({ type: "file" as const, path: `usr/lib/a/f${i}`, content: `a ${i}\n`.repeat(50) })));
    await Promise.all(movedIndexes.map((n) => pushImage(registry, nameOf(n), { layers: [baseA], config: { Env: [`IMAGE=${n}`, "GENERATION=2"], Cmd: ["/bin/sh"] } })));
    const moved = await cli(["sync", "--wishlist", wishlist, ...common(s0)]);
    if (moved.code !== 0) throw new Error(`moved re-sync of ${size} failed`);
    const tenList = join(dir, "ten.txt");
    await writeFile(tenList, `${movedIndexes.map((n) => `${registry.host}/${nameOf(n)}`).join("\n")}\n`);
    const ten = await cli(["sync", "--wishlist", tenList, ...common(join(dir, "s0-ten"))]);
    if (ten.code !== 0) throw new Error("sync of ten into an empty repository failed");

    const catalogs = await catalogSizes(s0);
    const figures: SizeFigures = {
      firstPerImage: first.seconds / size,
      resync: resync.seconds,
      resyncLayerDownloads: layerDownloads(resync),
      resyncRevisions,
      moved: moved.seconds,
      movedBaseline: ten.seconds,
      plan: plan.seconds,
      rootCatalog: catalogs.root,
      largestCatalog: catalogs.largest,
    };
    const n = `${size} images:`;
    ctx.figure({ name: `${n} first sync, per image`, value: round(figures.firstPerImage * 1000, 1), unit: "ms" });
    ctx.figure({ name: `${n} no-change re-sync of every tag`, value: round(figures.resync, 2), unit: "s", goal: size >= 2000 ? "≤ 5" : undefined });
    ctx.figure({ name: `${n} no-change re-sync: layer downloads`, value: figures.resyncLayerDownloads, unit: "", goal: "0" });
    ctx.figure({ name: `${n} no-change re-sync: new revisions`, value: figures.resyncRevisions, unit: "", goal: "0" });
    ctx.figure({ name: `${n} re-sync after 10 tags moved`, value: round(figures.moved, 2), unit: "s" });
    ctx.figure({ name: `${n} the same 10 into an empty repository`, value: round(figures.movedBaseline, 2), unit: "s" });
    ctx.figure({ name: `${n} moved re-sync / empty-repository sync`, value: round(figures.moved / figures.movedBaseline, 2), unit: "×", goal: "≤ 2" });
    // What the moved tags cost beyond the HEAD of every tag that any run pays (the no-change re-sync).
    ctx.figure({ name: `${n} (moved − no-change re-sync) / empty-repository sync`, value: round((figures.moved - figures.resync) / figures.movedBaseline, 2), unit: "×", goal: "≤ 2" });
    ctx.figure({ name: `${n} plan (every tag resolved)`, value: round(figures.plan, 2), unit: "s" });
    ctx.figure({ name: `${n} root catalog`, value: round(figures.rootCatalog / 1024, 1), unit: "KiB" });
    ctx.figure({ name: `${n} largest catalog (${catalogs.count} catalogs)`, value: round(figures.largestCatalog / 1024, 1), unit: "KiB" });
    return figures;
  } finally {
    await registry.stop();
  }
}

export async function run(ctx: BenchContext): Promise<void> {
  ctx.note(`load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} (2 cores; figures from a busy machine read slow)`);
  const results: Array<[number, SizeFigures]> = [];
  for (const size of SIZES) results.push([size, await measure(ctx, size)]);
  if (results.length >= 2) {
    const [small, smallFigures] = results[0]!;
    const [large, largeFigures] = results[results.length - 1]!;
    const growth = (k: keyof SizeFigures): number => round(smallFigures[k] === 0 ? 0 : largeFigures[k] / smallFigures[k], 2);
    const label = `growth ${small} → ${large} images (${round(large / small, 1)}× the images):`;
    ctx.figure({ name: `${label} first sync per image`, value: growth("firstPerImage"), unit: "×", goal: "≈ 1" });
    ctx.figure({ name: `${label} no-change re-sync`, value: growth("resync"), unit: "×", goal: "≤ tags" });
    ctx.figure({ name: `${label} moved re-sync`, value: growth("moved"), unit: "×" });
    ctx.figure({ name: `${label} plan`, value: growth("plan"), unit: "×" });
    ctx.figure({ name: `${label} root catalog`, value: growth("rootCatalog"), unit: "×" });
    ctx.figure({ name: `${label} largest catalog`, value: growth("largestCatalog"), unit: "×" });
  }
  ctx.note(`load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} at the end`);
}
