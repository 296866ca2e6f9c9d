/**
 * Gateway upload throughput on loopback: object packs pushed through the gateway client into the
 * dev gateway (which re-hashes every object and stores it), as a ratio to a plain HTTP POST of
 * the same bytes, read from the same files, to a node:http server that discards them.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { request } from "undici";
import { createRepositoryServer } from "../../src/cvmfs/serve.js";
import { singleKeyAccess } from "../../src/gateway/access-config.js";
import { createGatewayHandler } from "../../src/gateway/dev-gateway.js";
import { GatewayClient } from "../../src/gateway/gateway-client.js";
import { GatewayKey } from "../../src/gateway/key-file.js";
import type { PackFileObject } from "../../src/gateway/object-pack.js";
import { MiB, round, type BenchContext } from "./context.js";

const FQRN = "bench.gw.org";
const OBJECTS = 48;
const OBJECT_SIZE = 4 * MiB;
const ROUNDS = 3;

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

export async function run(ctx: BenchContext): Promise<void> {
  const src = join(ctx.scratch, "objects");
  await mkdir(src, { recursive: true });
  const objects: PackFileObject[] = [];
  for (let i = 0; i < OBJECTS; i++) {
    const bytes = randomBytes(OBJECT_SIZE);
    const path = join(src, `o${i}`);
    await writeFile(path, bytes);
    objects.push({ hash: createHash("sha1").update(bytes).digest("hex"), size: bytes.length, path });
  }
  const total = OBJECTS * OBJECT_SIZE;

  // Baseline: the same files streamed in one POST to a sink.
  const sink = createServer((req, res) => {
    req.on("data", () => undefined);
    req.on("end", () => res.end("ok"));
  });
  await new Promise<void>((r) => sink.listen(0, "127.0.0.1", () => r()));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;
  const plainPost = async (): Promise<void> => {
    const body = Readable.from(
      (async function* () {
        for (const o of objects) yield* createReadStream(o.path, { highWaterMark: 256 * 1024 });
      })(),
    );
    const res = await request(sinkUrl, { method: "POST", body, headers: { "content-length": String(total) } });
    await res.body.text();
  };

  const key = new GatewayKey("bench", "bench-secret");
  let round_ = 0;
  const gateway = async (): Promise<void> => {
    const dir = join(ctx.scratch, `stratum0-${round_++}`);
    await mkdir(join(dir, "data", "txn"), { recursive: true });
    const handler = await createGatewayHandler({ stratum0Dir: dir, fqrn: FQRN, keysDir: join(ctx.scratch, "keys"), access: singleKeyAccess(FQRN, key) });
    const server = await createRepositoryServer({ dir, fqrn: FQRN, apiHandler: handler });
    try {
      const client = new GatewayClient({ url: `http://127.0.0.1:${server.port}/api/v1`, key });
      const token = await client.acquire(FQRN, "/bench");
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await client.upload(token, objects);
      timings.push(performance.now() - t0);
      cpu.push(cpuMs(process.cpuUsage(c0)));
      await client.drop(token);
    } finally {
      await server.close();
    }
  };

  const timings: number[] = [];
  const baseline: number[] = [];
  const cpu: number[] = [];
  const baselineCpu: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await plainPost();
    baseline.push(performance.now() - t0);
    baselineCpu.push(cpuMs(process.cpuUsage(c0)));
    await gateway();
  }
  sink.close();
  const best = (xs: number[]) => Math.min(...xs);
  const mbps = (ms: number) => round(total / MiB / (ms / 1000), 0);
  ctx.note(`${OBJECTS} objects × ${OBJECT_SIZE / MiB} MiB, best of ${ROUNDS}: plain POST ${mbps(best(baseline))} MiB/s, gateway ${mbps(best(timings))} MiB/s`);
  ctx.figure({ name: "gateway upload throughput / plain HTTP POST", value: round(best(baseline) / best(timings)), unit: "×", goal: "≥ 0.8" });
  // CPU time (all threads) is steadier than wall time on a shared machine: what verification costs.
  ctx.figure({ name: "gateway upload CPU time / plain HTTP POST CPU time", value: round(best(cpu) / best(baselineCpu)), unit: "×" });
}
