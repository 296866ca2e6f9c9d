/**
 * Chaos: `sync` runs killed with SIGKILL at random moments, into a local stratum 0 and through the
 * dev gateway (whose `serve` process is itself killed and restarted at random), each followed by
 * `verify`; after every kill, an undisturbed run must bring the repository to the wishlist. Prints
 * kills, broken repositories (goal 0), runs that recovered (goal all) and leftover bytes in the
 * temp directory, `data/txn` and the staging area once everything is done (goal 0).
 *
 * `BENCH_CHAOS_RUNS` (default 12 per target) sets the number of killed runs. The seed of the
 * random moments is printed, and `BENCH_CHAOS_SEED` replays one.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pushImage } from "../../test/support/image-builder.js";
import { buildLayer } from "../../test/support/layer-builder.js";
import { freePort, startRegistry, type TestRegistry } from "../../test/support/registry.js";
import { xorshift32, type BenchContext } from "./context.js";

const RUNS = Number(process.env.BENCH_CHAOS_RUNS ?? 12);
const FQRN = "chaos.local";
const bin = fileURLToPath(new URL("../../bin/cvmfs-image-sync.js", import.meta.url));

/** Numbers in [0, 1) from a seed, so a seed replays the same kill moments. */
function random(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 2 ** 32;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<Outcome> } {
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<Outcome>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function bytesUnder(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? bytesUnder(p) : statSync(p).size;
  }
  return total;
}

interface Target {
  label: string;
  syncArgs: string[];
  verifyArgs: string[];
  /** Called between runs: the gateway target may kill and restart its server. */
  disturb(rand: () => number): Promise<void>;
  stop(): Promise<void>;
  leftovers(): number;
}

async function localTarget(dir: string, common: string[]): Promise<Target> {
  const s0 = join(dir, "s0");
  return {
    label: "local stratum 0",
    syncArgs: ["--stratum0", s0, ...common],
    verifyArgs: ["verify", "--stratum0", s0, "--repo", FQRN, "--pubkey", join(dir, "keys", `${FQRN}.pub`)],
    disturb: async () => undefined,
    stop: async () => undefined,
    leftovers: () => bytesUnder(join(s0, "data", "txn")),
  };
}

async function gatewayTarget(dir: string, common: string[], env: NodeJS.ProcessEnv, ctx: BenchContext): Promise<Target> {
  const port = await freePort();
  const s0 = join(dir, "s0");
  const serveArgs = ["serve", "--stratum0", s0, "--repo", FQRN, "--keys-dir", join(dir, "keys"), "--port", String(port), "--gateway-key", join(dir, "gw.key"),
    // A killed publisher's lease blocks its path until it expires, as on a real gateway: keep that short here.
    "--max-lease-time", "8"];
  let server: ReturnType<typeof start> | undefined;
  let restarts = 0;
  const up = async (): Promise<void> => {
    server = start(serveArgs, env);
    for (let i = 0; i < 100 && !server.child.exitCode; i++) {
      const ready = await fetch(`http://127.0.0.1:${port}/cvmfs/${FQRN}/.cvmfspublished`).then((r) => r.ok, () => false);
      if (ready) return;
      await sleep(50);
    }
    throw new Error(`serve did not come up:\n${(await Promise.race([server.done, sleep(10).then(() => undefined)]))?.stderr ?? ""}`);
  };
  await up();
  return {
    label: "gateway",
    syncArgs: ["--gateway", `http://127.0.0.1:${port}/api/v1`, "--gateway-key", join(dir, "gw.key"), "--repo-url", `http://127.0.0.1:${port}/cvmfs/${FQRN}`, ...common],
    verifyArgs: ["verify", "--repo-url", `http://127.0.0.1:${port}/cvmfs/${FQRN}`, "--repo", FQRN, "--pubkey", join(dir, "keys", `${FQRN}.pub`)],
    async disturb(rand) {
      if (rand() < 0.5) return;
      // The server goes away for about a second, in the middle of whatever runs.
      setTimeout(() => {
        server?.child.kill("SIGKILL");
        restarts++;
        void server?.done.then(() => sleep(800 + rand() * 400)).then(up);
      }, rand() * 1500);
    },
    async stop() {
      await sleep(2000);
      // The end of the bench, not a fault: stop the server as an operator would.
      server?.child.kill("SIGTERM");
      await server?.done;
      ctx.note(`gateway: ${restarts} server restart(s)`);
    },
    leftovers: () => bytesUnder(join(s0, "data", "txn")) + bytesUnder(join(dir, "cache", "staging")),
  };
}

async function chaos(ctx: BenchContext, registry: TestRegistry, kind: "local" | "gateway", seed: number): Promise<void> {
  const dir = join(ctx.scratch, kind);
  const tmp = join(dir, "tmp");
  await mkdir(tmp, { recursive: true });
  const env = { ...process.env, TMPDIR: tmp };
  const lists = [
    [0, 1, 2, 3],
    [2, 3, 4, 5],
    [0, 5],
  ].map((l) => l.map((i) => `${registry.host}/chaos/img${i}:1`).join("\n"));
  const wishlist = join(dir, "images.txt");
  const common = ["--wishlist", wishlist, "--repo", FQRN, "--keys-dir", join(dir, "keys"), "--cache-dir", join(dir, "cache"), "--insecure-registry", registry.host, "--keep-removed", "0", "--quiet"];
  const target = kind === "local" ? await localTarget(dir, common) : await gatewayTarget(dir, common, env, ctx);
  const rand = random(seed);
  let kills = 0;
  let broken = 0;
  let recovered = 0;
  let ran = 0;
  let notCreated = 0;
  let everPublished = false;
  try {
    for (let run = 0; run < RUNS; run++) {
      await writeFile(wishlist, `${lists[run % lists.length]}\n`);
      await target.disturb(rand);
      const killAfter = 100 + rand() * 2500;
      const sync = start(["sync", ...target.syncArgs], env);
      const timer = setTimeout(() => {
        if (sync.child.exitCode === null) {
          sync.child.kill("SIGKILL");
          kills++;
        }
      }, killAfter);
      await sync.done;
      clearTimeout(timer);
      ran++;
      await sleep(1500); // a restarting server comes back
      const verify = await start(target.verifyArgs, env).done;
      // Killed before the first publish of a new repository: nothing was created yet, nothing broke.
      const neverCreated = !everPublished && verify.stderr.includes("no .cvmfspublished");
      if (neverCreated) notCreated++;
      else if (verify.code !== 0 && !verify.stderr.includes("ECONNREFUSED")) {
        broken++;
        ctx.note(`${target.label}: run ${run}: verify failed after a kill at ${Math.round(killAfter)} ms:\n${verify.stdout}${verify.stderr}`.slice(0, 1500));
      }
      // An undisturbed run brings the repository to the wishlist.
      const again = await start(["sync", ...target.syncArgs], env).done;
      const check = await start(target.verifyArgs, env).done;
      if (again.code === 0 && check.code === 0) {
        recovered++;
        everPublished = true;
      }
      else ctx.note(`${target.label}: run ${run}: no recovery (sync exit ${again.code}, verify exit ${check.code}): ${again.stderr.slice(-800)}`);
    }
  } finally {
    await target.stop();
  }
  const leftover = bytesUnder(tmp) + target.leftovers();
  if (leftover > 0) {
    const where = [tmp, join(dir, "s0", "data", "txn"), join(dir, "cache", "staging")].map((d) => `${d}: ${bytesUnder(d)} B ${existsSync(d) ? readdirSync(d).slice(0, 5).join(" ") : ""}`);
    ctx.note(`${target.label}: leftovers\n  ${where.join("\n  ")}`);
  }
  ctx.figure({ name: `${target.label}: runs / SIGKILLs that hit a running sync`, value: `${ran} / ${kills}`, unit: "" });
  ctx.figure({ name: `${target.label}: broken repositories after a kill`, value: broken, unit: "", goal: "0" });
  if (notCreated > 0) ctx.note(`${target.label}: ${notCreated} kill(s) came before the new repository's first publish: nothing there yet`);
  ctx.figure({ name: `${target.label}: runs that recovered on the next sync`, value: `${recovered} / ${ran}`, unit: "", goal: "all" });
  ctx.figure({ name: `${target.label}: leftover bytes (temp dir, data/txn, staging)`, value: leftover, unit: "B", goal: "0" });
}

export async function run(ctx: BenchContext): Promise<void> {
  const seed = Number(process.env.BENCH_CHAOS_SEED ?? Date.now() % 2 ** 31);
  ctx.note(`seed ${seed}, ${RUNS} killed runs per target; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const registry = await startRegistry("anonymous", { parentDir: ctx.scratch });
  try {
    const base = await buildLayer([{ type: "file", path: "usr/lib/base.bin", content: { size: 8 << 20, seed: 1 } }]);
    for (let i = 0; i < 6; i++) {
      const own = await buildLayer(
        Array.from({ length: 300 }, (_, f) => ({ type: "file" as const, path: `opt/app${i}/f${f}`, content: { size: 8192 + f, seed: i * 1000 + f, compressible: true } })),
      );
      await pushImage(registry, `chaos/img${i}:1`, { layers: [base, own], config: { Env: [`APP=${i}`] } });
    }
    await chaos(ctx, registry, "local", seed);
    await chaos(ctx, registry, "gateway", seed + 1);
  } finally {
    await registry.stop();
  }
}
