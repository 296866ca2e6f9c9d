/**
 * The status page at scale: 2,000 images and 5,000 names (a published state made in memory, with
 * a run report that checked every name). Generation time of the model and the site (the pure
 * core, median of 3), the size of index.html (goal under 1.5 MB) and of its gzip copy; then
 * Debian's Chromium, headless, loads the page from 127.0.0.1: time to first render (first
 * contentful paint) and to the whole table (DOMContentLoaded), then the time from a keystroke in
 * the filter box to the next painted frame, and a sort by size (goals: under 1 s each).
 */
import { loadavg } from "node:os";
import { gzipSync } from "node:zlib";
import { assembleSite } from "../../src/status/assemble-site.js";
import { assembleStatus } from "../../src/status/assemble-status.js";
import { PAGE_ASSETS } from "../../src/status/page-assets.js";
import { writeSite } from "../../src/status/write-site.js";
import { createLayout } from "../../src/published/layout.js";
import { launchChromium, serveDirectory } from "../../test/support/chromium.js";
import { syntheticState } from "../../test/status/synthetic.js";
import { MiB, round, type BenchContext } from "./context.js";

const IMAGES = 2000;
const NAMES = 5000;

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(" ");

/** Milliseconds from the first keystroke (or click) to the frame after it, measured in the page. */
const TIMED_INPUT = (value: string): string => `new Promise((resolve) => {
  const q = document.getElementById("q");
  const t0 = performance.now();
  q.value = ${JSON.stringify(value)};
  q.dispatchEvent(new Event("input"));
  requestAnimationFrame(() => setTimeout(() => resolve({ ms: performance.now() - t0, shown: document.getElementById("count").textContent }), 0));
})`;
const TIMED_SORT = `new Promise((resolve) => {
  const t0 = performance.now();
  document.querySelector("#t thead th:nth-child(5) button").click();
  requestAnimationFrame(() => setTimeout(() => resolve({ ms: performance.now() - t0 }), 0));
})`;

export async function run(ctx: BenchContext): Promise<void> {
  ctx.note(`load average ${load()} at the start (2 cores shared; figures from a busy machine read slow)`);
  const { state, report } = syntheticState(IMAGES, NAMES);
  const layout = createLayout({ kind: "osg" });
  const times: number[] = [];
  let site = new Map<string, string>();
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const status = assembleStatus({ repository: "images.example.org", layout, state, revision: 4321, publishedAt: new Date(), storage: { bytes: 2e12, storedBytes: 6e11 }, reports: [report], now: new Date() });
    site = assembleSite(status, PAGE_ASSETS);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const index = site.get("index.html") ?? "";
  ctx.figure({ name: `generation, ${IMAGES} images / ${NAMES} names (model + ${site.size} files, median of 3)`, value: round((times[1] ?? 0) / 1000, 3), unit: "s" });
  ctx.figure({ name: "index.html size", value: round(Buffer.byteLength(index) / MiB, 3), unit: "MiB", goal: "< 1.43 MiB (1.5 MB)" });
  ctx.figure({ name: "index.html.gz size (what GitLab Pages sends)", value: round(gzipSync(index, { level: 9 }).length / 1024, 1), unit: "KiB" });
  ctx.figure({ name: "status.json size", value: round(Buffer.byteLength(site.get("status.json") ?? "") / MiB, 2), unit: "MiB" });

  const t0 = performance.now();
  await writeSite(`${ctx.scratch}/public`, site);
  ctx.figure({ name: "writing the site to disk (tmpfs)", value: round((performance.now() - t0) / 1000, 3), unit: "s" });

  const server = await serveDirectory(`${ctx.scratch}/public`);
  const chromium = await launchChromium();
  try {
    const renders: Array<{ fcp: number; dcl: number }> = [];
    const filters: number[] = [];
    const sorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const page = await chromium.browser.newPage();
      await page.setViewport({ width: 1440, height: 900 });
      await page.goto(`${server.url}/index.html`, { waitUntil: "load" });
      renders.push(
        (await page.evaluate(`(() => {
          const paint = performance.getEntriesByName("first-contentful-paint")[0];
          const nav = performance.getEntriesByType("navigation")[0];
          return { fcp: paint ? paint.startTime : -1, dcl: nav.domContentLoadedEventEnd };
        })()`)) as { fcp: number; dcl: number },
      );
      const first = (await page.evaluate(TIMED_INPUT("project-17/"))) as { ms: number; shown: string };
      if (i === 0) ctx.note(`filter "project-17/": ${first.shown}`);
      filters.push(first.ms);
      await page.evaluate(TIMED_INPUT(""));
      sorts.push(((await page.evaluate(TIMED_SORT)) as { ms: number }).ms);
      await page.close();
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    ctx.figure({ name: "Chromium: first contentful paint (median of 3)", value: round(median(renders.map((r) => r.fcp)) / 1000, 3), unit: "s", goal: "< 1 s" });
    ctx.figure({ name: "Chromium: whole table parsed (DOMContentLoaded)", value: round(median(renders.map((r) => r.dcl)) / 1000, 3), unit: "s" });
    ctx.figure({ name: "Chromium: keystroke to filtered frame", value: round(median(filters) / 1000, 3), unit: "s", goal: "< 1 s" });
    ctx.figure({ name: "Chromium: sort 5,000 rows by size", value: round(median(sorts) / 1000, 3), unit: "s" });
  } finally {
    await chromium.close();
    await server.close();
  }
  ctx.note(`load average ${load()} at the end`);
}
