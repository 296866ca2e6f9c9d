/**
 * Gateway upload throughput on loopback: object packs pushed through the gateway client into the
 * dev gateway (which re-hashes every object and stores it), as a ratio to a plain HTTP POST of
 * the same bytes, read from the same files, to a node:http server that discards them.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { Readable } from "node:stream";
import { request } from "undici";
import { GatewayClient } from "../../src/gateway/gateway-client.js";
import { GatewayKey } from "../../src/gateway/key-file.js";
import type { PackFileObject } from "../../src/gateway/object-pack.js";
import { MiB, round, type BenchContext } from "./context.js";

const FQRN = "bench.gw.org";
const OBJECTS = 48;
const OBJECT_SIZE = 4 * MiB;
const ROUNDS = 3;

const CLI = fileURLToPath(new URL("../../bin/cvmfs-image-sync.js", import.meta.url));
const SINK_SOURCE = `const s = require("node:http").createServer((q, r) => { q.on("data", () => {}); q.on("end", () => r.end("ok")); });
s.listen(0, "127.0.0.1", () => console.log("listening " + s.address().port));`;

/** Starts a server process and waits for the line that says where it listens. */
async function startProcess(cmd: string, args: string[], ready: RegExp): Promise<{ match: RegExpExecArray; stop(): void }> {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve(m);
    });
    child.once("exit", (code) => reject(new Error(`${args[0]} exited ${code} before it was ready:\n${out}`)));
  });
  return { match, stop: () => void child.kill("SIGTERM") };
}

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

  // Servers run in processes of their own, as `serve` (or a real gateway) does in production,
  // so the client and the receiving side each have a core, for the baseline and the gateway alike.
  const sink = await startProcess(process.execPath, ["-e", SINK_SOURCE], /^listening (\d+)$/m);
  const sinkUrl = `http://127.0.0.1:${sink.match[1]}/`;
  const plainPost = async (): Promise<void> => {
    const body = Readable.from(
      (async function* () {
        for (const o of objects) yield* createReadStream(o.path, { highWaterMark: 256 * 1024 });
      })(),
    );
    const res = await request(sinkUrl, { method: "POST", body, headers: { "content-length": String(total) } });
    await res.body.text();
  };

  const keyFile = join(ctx.scratch, "bench.gw");
  await writeFile(keyFile, "plain_text bench bench-secret\n", { mode: 0o600 });
  const key = new GatewayKey("bench", "bench-secret");
  let round_ = 0;
  const gateway = async (): Promise<void> => {
    const dir = join(ctx.scratch, `stratum0-${round_++}`);
    const server = await startProcess(
      process.execPath,
      [CLI, "serve", "--port", "0", "--stratum0", dir, "--keys-dir", join(ctx.scratch, "keys"), "--repo", FQRN, "--gateway-key", keyFile, "--quiet"],
      /gateway (http:\/\/127\.0\.0\.1:\d+\/api\/v1)$/m,
    );
    try {
      const client = new GatewayClient({ url: server.match[1]!, key });
      const token = await client.acquire(FQRN, "/bench");
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await client.upload(token, objects);
      timings.push(performance.now() - t0);
      cpu.push(cpuMs(process.cpuUsage(c0)));
      await client.drop(token);
    } finally {
      server.stop();
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
  sink.stop();
  const best = (xs: number[]) => Math.min(...xs);
  const mbps = (ms: number) => round(total / MiB / (ms / 1000), 0);
  ctx.note(`${OBJECTS} objects × ${OBJECT_SIZE / MiB} MiB, best of ${ROUNDS}: plain POST ${mbps(best(baseline))} MiB/s, gateway ${mbps(best(timings))} MiB/s`);
  ctx.figure({ name: "gateway upload throughput / plain HTTP POST", value: round(best(baseline) / best(timings)), unit: "×", goal: "≥ 0.8" });
  // Client-side CPU time is steadier than wall time on a shared machine: what packing and HMAC cost.
  ctx.figure({ name: "client CPU time: gateway upload / plain HTTP POST", value: round(best(cpu) / best(baselineCpu)), unit: "×" });
}
