/**
 * Registry client throughput and memory: a 1 GiB blob, generated into the scratch dir and pushed
 * (streamed) into a local docker-registry, is downloaded by the client (auth, retries machinery,
 * digest verification while streaming) and by a plain undici GET that only drains the body.
 * Figures: the client's throughput as a ratio to the plain GET (goal ≥ 0.9) and the peak RSS
 * growth while the client downloads (goal: flat, under 64 MiB).
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Agent, request } from "undici";
import { createRegistryClient } from "../../src/registry/registry-client.js";
import { MediaTypes } from "../../src/registry/image.js";
import { pushBlob } from "../../test/support/image-builder.js";
import { generateContent } from "../../test/support/layer-builder.js";
import { startRegistry } from "../../test/support/registry.js";
import { MiB, round, sampleRss, type BenchContext } from "./context.js";

const SIZE = 1024 * MiB;

async function generateBlob(file: string): Promise<{ digest: string; size: number }> {
  const hash = createHash("sha256");
  await pipeline(
    Readable.from(generateContent({ size: SIZE, seed: 42 })),
    new Transform({
      transform(chunk: Buffer, _e, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    }),
    createWriteStream(file),
  );
  return { digest: `sha256:${hash.digest("hex")}`, size: SIZE };
}

async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += (chunk as Buffer).length;
  return n;
}

export async function run(ctx: BenchContext): Promise<void> {
  const registry = await startRegistry("anonymous", { parentDir: ctx.scratch });
  try {
    const file = join(ctx.scratch, "blob.bin");
    const blob = await generateBlob(file);
    let t = performance.now();
    await pushBlob(registry, "bench/blob", { ...blob, file }, "monolithic");
    ctx.note(`pushed 1 GiB (streamed, monolithic) in ${round((performance.now() - t) / 1000)} s`);

    const url = `${registry.url}/v2/bench/blob/blobs/${blob.digest}`;
    const agent = new Agent({ keepAliveTimeout: 30_000 });
    const plain = async (): Promise<number> => {
      const start = performance.now();
      const res = await request(url, { dispatcher: agent });
      if ((await drain(res.body)) !== SIZE) throw new Error("plain GET: short body");
      return performance.now() - start;
    };
    const client = createRegistryClient({ insecureRegistries: [registry.host], authFile: false });
    const descriptor = { mediaType: MediaTypes.ociLayer, ...blob };
    const viaClient = async (): Promise<number> => {
      const start = performance.now();
      const stream = await client.blob(`${registry.host}/bench/blob`, descriptor);
      if ((await drain(stream)) !== SIZE) throw new Error("client: short body");
      return performance.now() - start;
    };

    // Warm the page cache and both connection pools, then alternate, keeping each side's best.
    await plain();
    await viaClient();
    ctx.note("warmed up; measuring 3 rounds");
    let bestPlain = Infinity;
    let bestClient = Infinity;
    let peakRss = 0;
    for (let i = 0; i < 3; i++) {
      bestPlain = Math.min(bestPlain, await plain());
      global.gc?.();
      const rss = sampleRss(10);
      t = await viaClient();
      peakRss = Math.max(peakRss, rss.stop());
      bestClient = Math.min(bestClient, t);
    }
    const mibps = (ms: number) => round(SIZE / MiB / (ms / 1000), 0);
    // The ceiling of any verifying client: how fast one thread hashes, in this run.
    const hashStart = performance.now();
    const h = createHash("sha256");
    const block = Buffer.alloc(MiB, 7);
    for (let i = 0; i < 256; i++) h.update(block);
    h.digest();
    const hashMibps = round(256 / ((performance.now() - hashStart) / 1000), 0);
    ctx.figure({ name: "plain undici GET throughput (baseline)", value: mibps(bestPlain), unit: "MiB/s" });
    ctx.figure({ name: "client blob download throughput (sha256 verified)", value: mibps(bestClient), unit: "MiB/s" });
    ctx.note(`one-thread sha256 ran at ${hashMibps} MiB/s: a verifying client on one thread cannot beat 1/(1/plain + 1/sha256) = ${round(1 / (1 / mibps(bestPlain) + 1 / hashMibps), 0)} MiB/s`);
    ctx.figure({ name: "client throughput / plain GET", value: round(bestPlain / bestClient), unit: "ratio", goal: "≥ 0.9" });
    ctx.figure({ name: "client throughput / one-thread sha256+GET ceiling", value: round(mibps(bestClient) / (1 / (1 / mibps(bestPlain) + 1 / hashMibps))), unit: "ratio" });
    ctx.figure({ name: "peak RSS growth during a 1 GiB client download", value: round(peakRss / MiB, 1), unit: "MiB", goal: "< 64" });
    await client.close();
    await agent.close();
  } finally {
    await registry.stop();
  }
}
