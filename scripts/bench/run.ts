/**
 * `npm run bench`: runs every scripts/bench/*.bench.ts (or the ones named on the command line,
 * e.g. `npm run bench -- registry`) and prints their figures. Figures are ratios against a
 * baseline measured in the same run, on /dev/shm, because absolute disk timings are noise here.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchContext, Figure } from "./context.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const wanted = process.argv.slice(2);
const files = (await readdir(here))
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();

const scratchRoot = existsSync("/dev/shm") ? "/dev/shm" : undefined;
const figures: Figure[] = [];
for (const file of files) {
  const name = file.replace(/\.bench\.ts$/, "");
  const dir = await mkdtemp(join(scratchRoot ?? (await import("node:os")).tmpdir(), `cis-bench-${name}-`));
  const ctx: BenchContext = {
    scratch: dir,
    figure(figure) {
      const f = { ...figure, bench: name };
      figures.push(f);
      const goal = f.goal ? `   (goal ${f.goal})` : "";
      console.log(`${name.padEnd(10)} ${f.name.padEnd(58)} ${String(f.value).padStart(12)} ${f.unit}${goal}`);
    },
    note(text) {
      console.log(`${name.padEnd(10)} ${text}`);
    },
  };
  console.log(`── ${name} ─────────────────────────────────────────`);
  try {
    const mod = (await import(join(here, file))) as { run(ctx: BenchContext): Promise<void> };
    await mod.run(ctx);
  } catch (err) {
    console.error(`${name}: failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
if (process.env.BENCH_JSON) console.log(JSON.stringify(figures));
