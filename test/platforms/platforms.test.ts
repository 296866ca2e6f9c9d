/**
 * Per-architecture publishing, unit by unit: the wishlist syntaxes, the names of every layout,
 * the variant link as a client resolves it, the plan of a multi-platform line, and the note.
 */
import { describe, expect, it } from "vitest";
import { expandVariantSymlink, resolveRepositoryPath } from "../../src/cvmfs/repository/variant-symlink.js";
import { renderPlanNote } from "../../src/gitlab/plan-note.js";
import { PlanJson } from "../../src/gitlab/schema.js";
import { archDirName, archLinks } from "../../src/platforms/arch-names.js";
import { entryPlatforms } from "../../src/platforms/entry-platforms.js";
import { resolveCommonSettings } from "../../src/config/settings.js";
import { createLayout } from "../../src/published/layout.js";
import { formatPlanTable, planToJson } from "../../src/sync/plan-format.js";
import { assemblePlan, type DesiredImage } from "../../src/sync/plan.js";
import { emptyPublishedState } from "../../src/published/published-state.js";
import { parseDuccWishlist } from "../../src/wishlist/ducc-wishlist.js";
import { parseOsgWishlist } from "../../src/wishlist/osg-wishlist.js";
import { parseImageReference } from "../../src/wishlist/reference.js";
import { digest, hexOf, metadata } from "../sync/_fixtures.js";

const amd64 = { os: "linux", architecture: "amd64" };
const arm64 = { os: "linux", architecture: "arm64", variant: "v8" };

describe("wishlist platforms", () => {
  it("reads a trailing `# platforms=` on an OSG line; other comments stay comments", () => {
    const { entries, problems } = parseOsgWishlist(
      "images.txt",
      ["centos:7 # platforms=linux/amd64,linux/arm64", "alpine:3 # pinned for the paper", "busybox:1#platforms=linux/ppc64le", "x:1 # platforms=linux"].join("\n"),
    );
    expect(entries.map((e) => [e.text, e.platforms])).toEqual([
      ["centos:7", ["linux/amd64", "linux/arm64"]],
      ["alpine:3", undefined],
      ["busybox:1", ["linux/ppc64le"]],
    ]);
    expect(problems).toEqual([{ file: "images.txt", line: 4, message: '# platforms=: platform "linux" is not os/arch[/variant], e.g. linux/arm64' }]);
  });

  it("reads `platforms:` of a DUCC recipe for every input", () => {
    const { entries, problems, settings } = parseDuccWishlist(
      "ducc.yaml",
      "version: 1\nplatforms: [linux/amd64, linux/arm64/v8]\ninput:\n  - 'https://registry.hub.docker.com/library/centos:7'\n",
    );
    expect(problems).toEqual([]);
    expect(settings.platforms).toEqual(["linux/amd64", "linux/arm64/v8"]);
    expect(entries[0]?.platforms).toEqual(["linux/amd64", "linux/arm64/v8"]);
    expect(parseDuccWishlist("d.yaml", "version: 1\nplatforms: 3\ninput: []\n").problems[0]?.message).toMatch(/platforms/);
  });

  it("--platforms overrides --platform, default first; one platform is today's single name", () => {
    const s = resolveCommonSettings({ platform: "linux/amd64", platforms: "linux/arm64,linux/amd64,linux/arm64" }, {});
    expect(s.platforms).toEqual([{ os: "linux", architecture: "arm64" }, amd64]);
    expect(s.platform).toEqual({ os: "linux", architecture: "arm64" });
    expect(resolveCommonSettings({ platform: "linux/ppc64le" }, {}).platforms).toEqual([{ os: "linux", architecture: "ppc64le" }]);
    expect(entryPlatforms(undefined, [amd64]).perArch).toBe(false);
    expect(entryPlatforms(undefined, [amd64, arm64]).perArch).toBe(true);
    expect(entryPlatforms(["linux/arm64"], [amd64]).perArch).toBe(true);
    expect(entryPlatforms(["linux/x86_64"], [amd64]).perArch).toBe(false);
  });
});

describe("per-architecture names", () => {
  const ref = parseImageReference("centos:7");
  it.each([
    ["osg", "/.multiarch/arm64/library/centos:7"],
    ["osg-registry", "/.multiarch/arm64/docker.io/library/centos:7"],
    ["ducc", "/.multiarch/arm64/registry.hub.docker.com/library/centos:7"],
  ] as const)("%s: %s", (kind, expected) => {
    expect(createLayout({ kind }).archPath(ref, arm64)).toBe(expected);
  });

  it("names architectures as OCI does, with aliases for the kernel's names", () => {
    expect([amd64, arm64, { os: "linux", architecture: "aarch64" }, { os: "linux", architecture: "arm", variant: "v7" }, { os: "linux", architecture: "ppc64le" }].map(archDirName)).toEqual([
      "amd64",
      "arm64",
      "arm64",
      "arm-v7",
      "ppc64le",
    ]);
    expect(archLinks()).toEqual([
      { path: "/.multiarch/host", target: "$(CVMFS_ARCH)" },
      { path: "/.multiarch/x86_64", target: "amd64" },
      { path: "/.multiarch/aarch64", target: "arm64" },
    ]);
  });

  it("expands variant targets as the client does and follows them to the node's image", async () => {
    expect(expandVariantSymlink("$(CVMFS_ARCH)", { CVMFS_ARCH: "aarch64" })).toBe("aarch64");
    expect(expandVariantSymlink("a/$(X:-def)/$(Y)", {})).toBe("a/def/");
    const links: Record<string, string> = {
      "/.multiarch/host": "$(CVMFS_ARCH)",
      "/.multiarch/x86_64": "amd64",
      "/.multiarch/aarch64": "arm64",
      "/.multiarch/arm64/library/centos:7": "../../../.images/bb/22",
      "/.multiarch/amd64/library/centos:7": "/cvmfs/images.local/.images/aa/11",
      "/loop": "loop",
    };
    const lookup = async (p: string) => (links[p] !== undefined ? { kind: "symlink", symlink: links[p]! } : { kind: "dir", symlink: "" });
    expect(await resolveRepositoryPath("/.multiarch/host/library/centos:7", lookup, { CVMFS_ARCH: "aarch64" })).toBe("/.images/bb/22");
    expect(await resolveRepositoryPath("/.multiarch/host/library/centos:7", lookup, { CVMFS_ARCH: "x86_64" }, "/cvmfs/images.local")).toBe("/.images/aa/11");
    await expect(resolveRepositoryPath("/loop", lookup, {})).rejects.toThrow(/loop/);
    await expect(resolveRepositoryPath("/.multiarch/amd64/library/centos:7", lookup, {})).rejects.toThrow(/out of the repository/);
  });
});

describe("the plan of a multi-platform line", () => {
  const layout = createLayout();
  const now = new Date("2026-11-20T12:00:00.000Z");
  const ref = parseImageReference("centos:7");
  const entry = { file: "images.txt", line: 1, text: "centos:7", ref };
  const names = (index: string): DesiredImage[] => [
    { entry, ref, manifestDigest: digest(index) },
    { entry, ref, manifestDigest: digest(index), arch: "linux/amd64", publicPath: layout.archPath(ref, amd64) },
    { entry, ref, manifestDigest: digest(index), platform: "linux/arm64/v8", arch: "linux/arm64/v8", publicPath: layout.archPath(ref, arm64) },
  ];

  it("converts each platform of one index once, the default one for both its names", () => {
    const plan = assemblePlan(names("index-1"), emptyPublishedState(), layout, { now });
    expect(plan.tags.map((t) => [t.publicPath, t.action, t.arch])).toEqual([
      ["/.multiarch/amd64/library/centos:7", "add", "linux/amd64"],
      ["/.multiarch/arm64/library/centos:7", "add", "linux/arm64/v8"],
      ["/library/centos:7", "add", undefined],
    ]);
    expect(plan.conversions.map((c) => [c.platform, c.publicPaths])).toEqual([
      [undefined, ["/.multiarch/amd64/library/centos:7", "/library/centos:7"]],
      ["linux/arm64/v8", ["/.multiarch/arm64/library/centos:7"]],
    ]);
  });

  it("keeps every name of an unchanged index, and the table and note give each platform's digest", () => {
    const state = emptyPublishedState();
    const images = { amd: ["m-amd", "linux/amd64"], arm: ["m-arm", "linux/arm64/v8"] } as const;
    for (const [config, [manifest, platform]] of Object.entries(images)) {
      const dir = layout.imageDir(digest(config));
      state.images.set(hexOf(config), { hex: hexOf(config), dir, metadata: metadata(config, manifest, ["docker.io/library/centos:7"], { platform, indexDigest: digest("index-1") }) });
    }
    state.tags.set("/library/centos:7", layout.imageDir(digest("amd")));
    state.tags.set("/.multiarch/amd64/library/centos:7", layout.imageDir(digest("amd")));
    state.tags.set("/.multiarch/arm64/library/centos:7", layout.imageDir(digest("arm")));
    const plan = assemblePlan(names("index-1"), state, layout, { now });
    expect(plan.tags.map((t) => t.action)).toEqual(["keep", "keep", "keep"]);
    expect(plan.conversions).toEqual([]);
    const armRow = formatPlanTable(plan).split("\n").find((l) => l.includes("/.multiarch/arm64/"));
    expect(armRow).toContain(`linux/arm64/v8 sha256:${hexOf("m-arm").slice(0, 12)}`);
    const note = renderPlanNote(PlanJson.parse(planToJson(plan)), { repo: "images.local" });
    expect(note).toContain(
      `| \`docker.io/library/centos:7 (linux/arm64/v8)\` <sub>images.txt:1</sub> | keep | \`sha256:${hexOf("index-1").slice(0, 12)}\` (linux/arm64/v8: \`sha256:${hexOf("m-arm").slice(0, 12)}\`) | 1.0 MiB |`,
    );

    // The arm64 image never serves the amd64 name, even when found by its digest.
    state.tags.delete("/.multiarch/amd64/library/centos:7");
    const single = assemblePlan([{ entry, ref, manifestDigest: digest("m-arm"), arch: "linux/amd64", publicPath: layout.archPath(ref, amd64) }], state, layout, { now });
    expect(single.tags.find((t) => t.publicPath === "/.multiarch/amd64/library/centos:7")?.convert).toBe(true);
  });
});
