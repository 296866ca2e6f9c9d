/**
 * The plan's per-platform facts, pure: which indexes `plan` reads (only those whose
 * per-architecture names move) and how each name gets its platform's digest, size or note.
 */
import { describe, expect, it } from "vitest";
import { matchIndexPlatforms } from "../../src/platforms/index-platforms.js";
import { platformQueries, withPlatformFacts, type PlatformRow } from "../../src/platforms/plan-platforms.js";

const ref = "r.example/ns/app:1";
const row = (publicPath: string, action: PlatformRow["action"], extra: Partial<PlatformRow> = {}): PlatformRow => ({ action, publicPath, reference: ref, manifestDigest: "sha256:index2", convert: true, ...extra });

describe("platformQueries", () => {
  it("asks once per moved index for the platforms of its per-architecture names; kept and single names ask nothing", () => {
    const tags = [
      row("/.multiarch/amd64/ns/app:1", "update", { arch: "linux/amd64" }),
      row("/.multiarch/arm64/ns/app:1", "update", { arch: "linux/arm64/v8", platform: "linux/arm64/v8" }),
      row("/ns/app:1", "update"),
      row("/.multiarch/amd64/ns/kept:1", "keep", { reference: "r.example/ns/kept:1", arch: "linux/amd64" }),
      row("/ns/single:1", "add", { reference: "r.example/ns/single:1" }),
    ];
    expect(platformQueries(tags)).toEqual([{ key: `${ref} sha256:index2`, reference: ref, manifestDigest: "sha256:index2", wanted: ["linux/amd64", "linux/arm64/v8"] }]);
  });
});

describe("withPlatformFacts", () => {
  it("gives each moving name its platform's digest and size, the usual name the run default's, a missing platform a note", () => {
    const tags = [row("/.multiarch/arm64/ns/app:1", "add", { arch: "linux/arm64/v8", platform: "linux/arm64/v8" }), row("/.multiarch/s390x/ns/app:1", "add", { arch: "linux/s390x", platform: "linux/s390x" }), row("/ns/app:1", "add"), row("/ns/other:1", "keep", { arch: "linux/amd64" })];
    const details = new Map([
      [`${ref} sha256:index2`, [
        { platform: "linux/amd64", manifestDigest: "sha256:m-amd64", compressedBytes: 100 },
        { platform: "linux/arm64/v8", manifestDigest: "sha256:m-arm64", compressedBytes: 200 },
        { platform: "linux/s390x", missing: "r.example/ns/app:1 has no image for platform linux/s390x (available: linux/amd64, linux/arm64/v8)" },
      ]],
    ]);
    const out = withPlatformFacts(tags, details, { os: "linux", architecture: "amd64" });
    expect(out.map((t) => [t.publicPath, t.platformManifestDigest, t.compressedBytes, t.platformNote, t.convert])).toEqual([
      ["/.multiarch/arm64/ns/app:1", "sha256:m-arm64", 200, undefined, true],
      ["/.multiarch/s390x/ns/app:1", undefined, undefined, "r.example/ns/app:1 has no image for platform linux/s390x (available: linux/amd64, linux/arm64/v8)", false],
      ["/ns/app:1", "sha256:m-amd64", 100, undefined, true],
      ["/ns/other:1", undefined, undefined, undefined, true],
    ]);
  });
});

describe("matchIndexPlatforms", () => {
  it("matches as the executor does (arm64 is arm64/v8), skips attestations and lists what is there", () => {
    const d = (digest: string, os: string, architecture: string, variant?: string) => ({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${digest}`, size: 500, platform: { os, architecture, ...(variant ? { variant } : {}) } });
    const entries = [d("a", "linux", "amd64"), d("b", "linux", "arm64", "v8"), d("c", "unknown", "unknown")];
    const out = matchIndexPlatforms(entries, [{ os: "linux", architecture: "aarch64" }, { os: "linux", architecture: "ppc64le" }], "r.example/x:1");
    expect(out).toEqual([
      { platform: "linux/arm64/v8", entry: entries[1] },
      { platform: "linux/ppc64le", missing: "r.example/x:1 has no image for platform linux/ppc64le (available: linux/amd64, linux/arm64/v8)" },
    ]);
  });
});
