/** Plan JSON documents as `plan --format json` prints them (planToJson), built in code. */
import type { PlanJson } from "../../src/gitlab/schema.js";

const d = (c: string): string => `sha256:${c.repeat(64)}`;

/** One add (new conversion), one update, one remove, one keep, one image waiting for removal. */
export function samplePlan(): PlanJson {
  return {
    version: 1,
    layout: "osg",
    summary: { add: 1, update: 1, keep: 1, remove: 1, others: 0, convert: 2, removeImages: 0, waiting: 1 },
    tags: [
      { action: "keep", publicPath: "/library/alpine:3", reference: "docker.io/library/alpine:3", file: "images.txt", line: 1, manifestDigest: d("a"), convert: false, bytes: 1536 },
      { action: "add", publicPath: "/ns/app:1", reference: "127.0.0.1:5000/ns/app:1", file: "images.txt", line: 2, manifestDigest: d("b"), convert: true },
      { action: "remove", publicPath: "/ns/old:1", reference: "127.0.0.1:5000/ns/old:1", previousManifestDigest: d("c"), convert: false },
      { action: "update", publicPath: "/ns/tool:latest", reference: "127.0.0.1:5000/ns/tool:latest", file: "more.txt", line: 4, manifestDigest: d("e"), previousManifestDigest: d("f"), convert: true },
    ],
    imageRemovals: [{ imageDir: "/.images/cc/cccc", due: false, removeAfter: "2026-12-01T00:00:00.000Z", lastNames: ["/ns/old:1"], bytes: 2 * 1024 * 1024 }],
  };
}

/** A plan that changes nothing: `n` kept names. */
export function keepOnlyPlan(n: number): PlanJson {
  return {
    version: 1,
    layout: "osg",
    summary: { add: 0, update: 0, keep: n, remove: 0, others: 0, convert: 0, removeImages: 0, waiting: 0 },
    tags: Array.from({ length: n }, (_, i) => ({ action: "keep" as const, publicPath: `/ns/img:${i}`, reference: `r.example/ns/img:${i}`, manifestDigest: d("1"), convert: false, bytes: 10 })),
    imageRemovals: [],
  };
}
