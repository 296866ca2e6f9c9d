/**
 * A large published state made in memory, for the size tests and the benchmark of the status
 * page: `images` images with realistic metadata (8 layers, env, labels) and `names` names spread
 * over them (the first images get several tags), plus a run report that checked every name and
 * failed a few.
 */
import { createHash } from "node:crypto";
import { createLayout } from "../../src/published/layout.js";
import type { ImageMetadata } from "../../src/published/image-metadata.js";
import { emptyPublishedState, type PublishedState } from "../../src/published/published-state.js";
import type { RunReport } from "../../src/status/run-report.js";

const hex = (seed: string): string => createHash("sha256").update(seed).digest("hex");

export interface Synthetic {
  state: PublishedState;
  report: RunReport;
}

export function syntheticState(images: number, names: number, now = new Date("2026-11-20T08:00:00Z")): Synthetic {
  const layout = createLayout({ kind: "osg" });
  const state = emptyPublishedState();
  const dirs: string[] = [];
  for (let i = 0; i < images; i++) {
    const config = `sha256:${hex(`config-${i}`)}`;
    const dir = layout.imageDir(config);
    const metadata: ImageMetadata = {
      version: 1,
      references: [],
      manifestDigest: `sha256:${hex(`manifest-${i}`)}`,
      configDigest: config,
      platform: i % 7 === 0 ? "linux/arm64" : "linux/amd64",
      layers: Array.from({ length: 8 }, (_, l) => ({ digest: `sha256:${hex(`layer-${i % 50}-${l}`)}`, size: 1_000_000 + l * 12_345, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" })),
      config: {
        architecture: "amd64",
        os: "linux",
        config: {
          Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", `TOOL_VERSION=1.${i}.0`, "LANG=C.UTF-8", "HOME=/root"],
          Cmd: ["/bin/bash"],
          Labels: { "org.opencontainers.image.source": `https://gitlab.example.org/group-${i % 40}/project-${i}`, "org.opencontainers.image.version": `1.${i}.0`, maintainer: "Site Admins <admins@example.org>" },
        },
      },
      convertedAt: new Date(now.getTime() - (i % 90) * 86_400_000).toISOString(),
      files: 20_000 + i,
      bytes: 800_000_000 + i * 1_000,
    };
    state.images.set(layout.configHexOf(dir)!, { hex: layout.configHexOf(dir)!, dir, metadata });
    dirs.push(dir);
  }
  const rows: RunReport["rows"] = [];
  for (let n = 0; n < names; n++) {
    const i = n % images;
    const tag = `v${Math.floor(n / images)}.${n % 13}.${n % 97}`;
    const reference = `registry.example.org/group-${i % 40}/project-${i}/tool:${tag}`;
    const path = `/group-${i % 40}/project-${i}/tool:${tag}`;
    const image = state.images.get(createLayout().configHexOf(dirs[i]!)!)!;
    image.metadata!.references.push(reference);
    state.tags.set(path, dirs[i]!);
    state.owners.set(path, ["sites/images"]);
    const failed = n % 1000 === 999;
    rows.push({
      image: reference,
      publicPath: path,
      action: failed ? "update" : "keep",
      digest: image.metadata!.manifestDigest,
      result: failed ? "failed" : "ok",
      ...(failed ? { error: { code: "E_REGISTRY", message: `resolve ${reference}: HTTP 503 (gave up after 5 tries)` } } : {}),
      origin: { file: "images.txt", line: n + 2, text: reference },
    });
  }
  const failedCount = rows.filter((r) => r.result === "failed").length;
  const report: RunReport = {
    version: 1,
    repository: "images.example.org",
    owner: "sites/images",
    shard: null,
    wishlists: ["images.txt"],
    startedAt: new Date(now.getTime() - 600_000).toISOString(),
    finishedAt: now.toISOString(),
    seconds: 600,
    result: failedCount > 0 ? "failed" : "ok",
    summary: { names, ok: names - failedCount, failed: failedCount, skipped: 0, failedImages: failedCount },
    rows,
  };
  return { state, report };
}

/** A run report of a run on 2026-11-01 into images.test.org, with `overrides` (its rows at least). */
export function runReport(overrides: Partial<RunReport> & { rows: RunReport["rows"] }): RunReport {
  return {
    version: 1,
    repository: "images.test.org",
    shard: null,
    wishlists: ["images.txt"],
    startedAt: "2026-11-01T10:00:00.000Z",
    finishedAt: "2026-11-01T10:05:00.000Z",
    seconds: 300,
    result: "ok",
    summary: { names: 0, ok: 0, failed: 0, skipped: 0, failedImages: 0 },
    ...overrides,
  };
}
