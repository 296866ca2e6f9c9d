/**
 * Registry events: a local stratum 0 holding 2,000 small images (40 repositories of 50 tags, two
 * shared base layers, distinct configs), then one of them pushed again with a new config. Times
 * `sync --event` on the registry's notification (wrapped as GitLab's trigger wraps it) from the
 * start of the run to its new revision, against syncing that same image alone into an empty
 * repository; median of a few rounds, each with a new push. Also: a repeated event (the tag did
 * not move), and an event for an image the wishlist does not name.
 */
import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import pLimit from "p-limit";
import { main } from "../../src/cli/main.js";
import { pushImage, type PushedImage } from "../../test/support/image-builder.js";
import { buildLayer } from "../../test/support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../../test/support/registry.js";
import { round, publishedRevision, type BenchContext } from "./context.js";

const IMAGES = Number(process.env.BENCH_EVENT_IMAGES ?? 2000);
const TAGS_PER_REPOSITORY = 50;
const ROUNDS = 5;
const FQRN = "event.local";
const CHANGED = 1234 % IMAGES;

const nameOf = (n: number): string => `bench/r${Math.floor(n / TAGS_PER_REPOSITORY)}:${n % TAGS_PER_REPOSITORY}`;
const loads = (): string => loadavg().map((l) => l.toFixed(2)).join(" ");

async function cli(args: string[]): Promise<{ code: number; stdout: string; seconds: number }> {
  const out = new PassThrough();
  let stdout = "";
  out.on("data", (d: Buffer) => (stdout += d.toString()));
  const t0 = performance.now();
  const code = await main([...args, "--quiet"], { stdout: out, stderr: new PassThrough(), env: process.env, signal: new AbortController().signal });
  return { code, stdout, seconds: (performance.now() - t0) / 1000 };
}

const revisionOf = (stratum0: string): Promise<number> => publishedRevision(stratum0, FQRN);

/** The images: each its own config over one or two shared base layers (a conversion reuses the layer cache). */
async function baseLayers() {
  const a = await buildLayer(Array.from({ length: 40 }, (_, i) => ({ type: "file" as const, path: `usr/lib/a/f${i}`, content: `a ${i}\n`.repeat(50) })));
  const b = await buildLayer(Array.from({ length: 10 }, (_, i) => ({ type: "file" as const, path: `opt/b/f${i}`, content: `b ${i}\n`.repeat(20) })));
  return { a, b };
}

async function pushGeneration(registry: TestRegistry, n: number, generation: string, layers: Awaited<ReturnType<typeof baseLayers>>): Promise<PushedImage> {
  return pushImage(registry, nameOf(n), { layers: n % 2 === 0 ? [layers.a, layers.b] : [layers.a], config: { Env: [`IMAGE=${n}`, `GENERATION=${generation}`], Cmd: ["/bin/sh"] } });
}

/** The distribution registry's notification of a manifest push, as GitLab hands it to the job. */
function triggerPayload(registry: TestRegistry, image: PushedImage, name: string): string {
  const [repository, tag] = name.split(":") as [string, string];
  const event = {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    action: "push",
    target: { mediaType: image.manifestMediaType, size: image.manifest.length, digest: image.manifestDigest, length: image.manifest.length, repository, url: `${registry.url}/v2/${repository}/manifests/${image.manifestDigest}`, tag },
    request: { id: randomUUID(), addr: "127.0.0.1:40000", host: registry.host, method: "PUT", useragent: "skopeo/1.9.3" },
    actor: {},
    source: { addr: "bench:5000", instanceID: randomUUID() },
  };
  return JSON.stringify({ events: [event], id: "1217", ref: "main", variables: {} });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(ctx: BenchContext): Promise<void> {
  ctx.note(`load average ${loads()} (2 cores; figures from a busy machine read slow)`);
  const registry = await startRegistry("anonymous", { parentDir: ctx.scratch });
  try {
    const layers = await baseLayers();
    const tPush = performance.now();
    const limit = pLimit(8);
    await Promise.all(Array.from({ length: IMAGES }, (_, n) => limit(() => pushGeneration(registry, n, "1", layers))));
    ctx.note(`${IMAGES} images pushed in ${round((performance.now() - tPush) / 1000, 1)} s`);

    const dir = join(ctx.scratch, "work");
    await mkdir(dir, { recursive: true });
    const wishlist = join(dir, "images.txt");
    const lines = Array.from({ length: IMAGES }, (_, n) => `${registry.host}/${nameOf(n)}`);
    await writeFile(wishlist, `${lines.join("\n")}\n`);
    const common = (stratum0: string) => ["--repo", FQRN, "--stratum0", stratum0, "--keys-dir", join(dir, "keys"), "--cache-dir", join(dir, "cache"), "--insecure-registry", registry.host, "--concurrency", "4"];
    const s0 = join(dir, "s0");
    const first = await cli(["sync", "--wishlist", wishlist, ...common(s0)]);
    if (first.code !== 0) throw new Error(`first sync failed:\n${first.stdout.slice(-2000)}`);
    ctx.note(`repository of ${IMAGES} images published in ${round(first.seconds, 1)} s (revision ${await revisionOf(s0)})`);

    const single = join(dir, "single.txt");
    await writeFile(single, `${registry.host}/${nameOf(CHANGED)}\n`);
    const eventTimes: number[] = [];
    const emptyTimes: number[] = [];
    let payload = "";
    for (let round = 1; round <= ROUNDS; round++) {
      const pushed = await pushGeneration(registry, CHANGED, `${round + 1}`, layers);
      payload = join(dir, `event-${round}.json`);
      await writeFile(payload, triggerPayload(registry, pushed, nameOf(CHANGED)));
      const before = await revisionOf(s0);
      const event = await cli(["sync", "--event", payload, "--wishlist", wishlist, ...common(s0)]);
      if (event.code !== 0 || (await revisionOf(s0)) !== before + 1) throw new Error(`event run ${round} published no new revision:\n${event.stdout}`);
      eventTimes.push(event.seconds);
      // The same image alone, into an empty repository (keys and layer cache as the event run had them).
      const alone = await cli(["sync", "--wishlist", single, ...common(join(dir, `empty-${round}`))]);
      if (alone.code !== 0) throw new Error(`sync into an empty repository failed:\n${alone.stdout}`);
      emptyTimes.push(alone.seconds);
    }
    const repeated = await cli(["sync", "--event", payload, "--wishlist", wishlist, ...common(s0)]);
    if (repeated.code !== 0 || !/nothing to publish/.test(repeated.stdout)) throw new Error(`repeated event published:\n${repeated.stdout}`);
    const unlistedFile = join(dir, "unlisted.json");
    const stranger = await pushImage(registry, "elsewhere/tool:1", { layers: [layers.a], config: { Env: ["TOOL=1"] } });
    await writeFile(unlistedFile, triggerPayload(registry, stranger, "elsewhere/tool:1"));
    const unlisted = await cli(["sync", "--event", unlistedFile, "--wishlist", wishlist, ...common(s0)]);
    if (unlisted.code !== 0 || !/not on the wishlist/.test(unlisted.stdout)) throw new Error(`unlisted event:\n${unlisted.stdout}`);

    const n = `${IMAGES} images:`;
    const ms = (seconds: number): number => round(seconds * 1000, 0);
    ctx.figure({ name: `${n} event → new revision, one changed image (median of ${ROUNDS})`, value: ms(median(eventTimes)), unit: "ms" });
    ctx.figure({ name: "that image alone into an empty repository (median)", value: ms(median(emptyTimes)), unit: "ms" });
    ctx.figure({ name: `${n} event run / empty-repository sync`, value: round(median(eventTimes) / median(emptyTimes), 2), unit: "×", goal: "≤ 1.2" });
    ctx.figure({ name: `${n} the same event again (tag did not move)`, value: ms(repeated.seconds), unit: "ms" });
    ctx.figure({ name: `${n} event for an image not on the wishlist`, value: ms(unlisted.seconds), unit: "ms" });
    ctx.note(`rounds: event ${eventTimes.map(ms).join(", ")} ms; empty ${emptyTimes.map(ms).join(", ")} ms`);
  } finally {
    await registry.stop();
  }
  ctx.note(`load average ${loads()} at the end`);
}
