import { describe, expect, it } from "vitest";
import { WishlistError } from "../../src/errors.js";
import { createLayout } from "../../src/published/layout.js";
import { formatPlanTable, planToJson } from "../../src/sync/plan-format.js";
import { assemblePlan, type DesiredImage } from "../../src/sync/plan.js";
import { assemblePublishedState, emptyPublishedState, type PublishedState } from "../../src/published/published-state.js";
import { emptyRemovalSchedule, type RemovalSchedule } from "../../src/published/removal-schedule.js";
import type { WishlistEntry } from "../../src/wishlist/entry.js";
import { parseImageReference } from "../../src/wishlist/reference.js";
import { digest, hexOf, metadata } from "./_fixtures.js";

const layout = createLayout();
const now = new Date("2026-11-20T12:00:00.000Z");

let lineNo = 0;
function want(ref: string, manifest: string, config?: string): DesiredImage {
  const parsed = parseImageReference(ref);
  const entry: WishlistEntry = { file: "images.txt", line: ++lineNo, text: ref, ref: parsed };
  return { entry, ref: parsed, manifestDigest: digest(manifest), ...(config ? { configDigest: digest(config) } : {}) };
}

/** A published state: images (config seed → manifest seed) and names (public path → config seed). */
function published(images: Record<string, string>, tags: Record<string, string>, schedule: RemovalSchedule = emptyRemovalSchedule()): PublishedState {
  const state = emptyPublishedState();
  for (const [config, manifest] of Object.entries(images)) {
    const dir = layout.imageDir(digest(config));
    state.images.set(hexOf(config), { hex: hexOf(config), dir, metadata: metadata(config, manifest, []) });
  }
  for (const [p, config] of Object.entries(tags)) state.tags.set(p, layout.imageDir(digest(config)));
  state.schedule = schedule;
  return state;
}

describe("assemblePlan", () => {
  it("adds a new name and plans one conversion", () => {
    const plan = assemblePlan([want("centos:7", "m-centos7")], emptyPublishedState(), layout, { now });
    expect(plan.tags).toEqual([
      expect.objectContaining({ action: "add", publicPath: "/library/centos:7", reference: "docker.io/library/centos:7", manifestDigest: digest("m-centos7"), convert: true }),
    ]);
    expect(plan.tags[0]!.imageDir).toBeUndefined();
    expect(plan.conversions).toEqual([{ manifestDigest: digest("m-centos7"), references: ["docker.io/library/centos:7"], publicPaths: ["/library/centos:7"] }]);
    expect(plan.summary).toMatchObject({ add: 1, update: 0, keep: 0, remove: 0, convert: 1, removeImages: 0 });
  });

  it("keeps a name whose manifest digest is unchanged, without knowing its config", () => {
    const state = published({ c1: "m1" }, { "/library/centos:7": "c1" });
    const plan = assemblePlan([want("centos:7", "m1")], state, layout, { now });
    expect(plan.tags).toEqual([
      expect.objectContaining({ action: "keep", publicPath: "/library/centos:7", imageDir: layout.imageDir(digest("c1")), convert: false, files: 100, bytes: 1_048_576 }),
    ]);
    expect(plan.conversions).toEqual([]);
    expect(plan.imageRemovals).toEqual([]);
  });

  it("keeps a name on a multi-platform index whose digest is unchanged, without fetching it", () => {
    const state = published({ c1: "m1" }, { "/library/centos:7": "c1" });
    const image = state.images.get(hexOf("c1"))!;
    image.metadata = { ...image.metadata!, indexDigest: digest("index-1") };
    const plan = assemblePlan([want("centos:7", "index-1")], state, layout, { now });
    expect(plan.tags[0]).toMatchObject({ action: "keep", convert: false });
    expect(plan.conversions).toEqual([]);
    // The index moved: a conversion is planned (the executor finds out whether the platform's image changed).
    const moved = assemblePlan([want("centos:7", "index-2")], state, layout, { now });
    expect(moved.tags[0]).toMatchObject({ action: "update", convert: true });
  });

  it("updates a name whose tag moved to a new digest, and schedules the old image", () => {
    const state = published({ c1: "m1" }, { "/library/centos:7": "c1" });
    const plan = assemblePlan([want("centos:7", "m2", "c2")], state, layout, { now, keepRemovedDays: 7 });
    expect(plan.tags[0]).toMatchObject({
      action: "update",
      manifestDigest: digest("m2"),
      previousManifestDigest: digest("m1"),
      imageDir: layout.imageDir(digest("c2")),
      previousImageDir: layout.imageDir(digest("c1")),
      convert: true,
    });
    expect(plan.conversions).toEqual([
      { manifestDigest: digest("m2"), configDigest: digest("c2"), imageDir: layout.imageDir(digest("c2")), references: ["docker.io/library/centos:7"], publicPaths: ["/library/centos:7"] },
    ]);
    expect(plan.imageRemovals).toEqual([
      { hex: hexOf("c1"), imageDir: layout.imageDir(digest("c1")), due: false, removeAfter: "2026-11-27T12:00:00.000Z", lastNames: ["/library/centos:7"], files: 100, bytes: 1_048_576 },
    ]);
    expect(plan.schedule.images[hexOf("c1")]).toMatchObject({ removeAfter: "2026-11-27T12:00:00.000Z" });
  });

  it("does not count the old image as untagged while the new config is unknown", () => {
    const state = published({ c1: "m1" }, { "/library/centos:7": "c1" });
    const plan = assemblePlan([want("centos:7", "m2")], state, layout, { now, keepRemovedDays: 0 });
    expect(plan.tags[0]).toMatchObject({ action: "update", convert: true });
    expect(plan.imageRemovals).toEqual([]);
  });

  it("removes a name nobody wants and, past the grace period, its image", () => {
    const schedule: RemovalSchedule = {
      version: 1,
      images: { [hexOf("c-old")]: { untaggedAt: "2026-11-01T00:00:00.000Z", removeAfter: "2026-11-08T00:00:00.000Z", lastNames: ["/a/old:1"] } },
    };
    const state = published({ c1: "m1", "c-old": "m-old" }, { "/a/gone:1": "c1" }, schedule);
    state.images.get(hexOf("c1"))!.metadata!.references = ["docker.io/a/gone:1"];
    const plan = assemblePlan([], state, layout, { now, keepRemovedDays: 7 });
    expect(plan.tags).toEqual([
      { action: "remove", publicPath: "/a/gone:1", reference: "docker.io/a/gone:1", previousManifestDigest: digest("m1"), previousImageDir: layout.imageDir(digest("c1")), convert: false },
    ]);
    expect(plan.imageRemovals.map((r) => [r.hex, r.due, r.lastNames])).toEqual(
      [
        [hexOf("c1"), false, ["/a/gone:1"]],
        [hexOf("c-old"), true, ["/a/old:1"]],
      ].sort((x, y) => ((x[0] as string) < (y[0] as string) ? -1 : 1)),
    );
    expect(plan.summary).toMatchObject({ remove: 1, removeImages: 1, waiting: 1 });
    expect(Object.keys(plan.schedule.images)).toEqual([hexOf("c1")]);
  });

  it("converts once for two names of one image, whatever their registries", () => {
    // ns/app:latest has only its manifest digest resolved: the config known for that manifest applies.
    const plan = assemblePlan([want("ns/app:1", "m1", "c1"), want("ns/app:latest", "m1"), want("quay.io/ns/app:1.0", "m1b", "c1")], emptyPublishedState(), layout, { now });
    expect(plan.tags.map((t) => [t.action, t.publicPath, t.convert])).toEqual([
      ["add", "/ns/app:1", true],
      ["add", "/ns/app:1.0", true],
      ["add", "/ns/app:latest", true],
    ]);
    expect(plan.conversions).toHaveLength(1);
    expect(plan.conversions[0]!.publicPaths.sort()).toEqual(["/ns/app:1", "/ns/app:1.0", "/ns/app:latest"]);
    expect(plan.conversions[0]!.imageDir).toBe(layout.imageDir(digest("c1")));
    expect(new Set(plan.tags.map((t) => t.imageDir))).toEqual(new Set([layout.imageDir(digest("c1"))]));
    expect(plan.summary.convert).toBe(1);
  });

  it("moves a tag to an image already present without converting (found by config or by manifest)", () => {
    const state = published({ c1: "m1", c2: "m2" }, { "/ns/app:stable": "c1", "/ns/app:2": "c2" });
    const plan = assemblePlan([want("ns/app:stable", "m2"), want("ns/app:2", "m2"), want("ns/app:two", "m-other", "c2")], state, layout, { now, keepRemovedDays: 0 });
    expect(plan.tags.map((t) => [t.action, t.publicPath, t.convert, t.imageDir])).toEqual([
      ["keep", "/ns/app:2", false, layout.imageDir(digest("c2"))],
      ["update", "/ns/app:stable", false, layout.imageDir(digest("c2"))],
      ["add", "/ns/app:two", false, layout.imageDir(digest("c2"))],
    ]);
    expect(plan.conversions).toEqual([]);
    // c1 lost its last name; keepRemovedDays 0 removes it in this run.
    expect(plan.imageRemovals.map((r) => [r.hex, r.due])).toEqual([[hexOf("c1"), true]]);
  });

  it("re-creates a wanted dangling name and removes an unwanted one", () => {
    const state = published({}, {});
    state.dangling.set("/ns/broken:1", layout.imageDir(digest("c-gone")));
    state.dangling.set("/ns/stale:1", layout.imageDir(digest("c-gone")));
    const plan = assemblePlan([want("ns/broken:1", "m1", "c1")], state, layout, { now });
    expect(plan.tags.map((t) => [t.action, t.publicPath, t.convert])).toEqual([
      ["add", "/ns/broken:1", true],
      ["remove", "/ns/stale:1", false],
    ]);
  });

  it("keeps retained names and their images", () => {
    const state = published({ c1: "m1" }, { "/ns/flaky:1": "c1" });
    const plan = assemblePlan([], state, layout, { now, keepRemovedDays: 0, retain: ["/ns/flaky:1"] });
    expect(plan.tags).toEqual([expect.objectContaining({ action: "keep", publicPath: "/ns/flaky:1", retained: true, convert: false })]);
    expect(plan.imageRemovals).toEqual([]);
  });

  it("refuses two different references on one public name, listing file:line", () => {
    const a = want("docker.io/ns/app:1", "m1");
    const b = want("ghcr.io/ns/app:1", "m2");
    const err = (() => {
      try {
        assemblePlan([a, b], emptyPublishedState(), layout, { now });
      } catch (e) {
        return e as WishlistError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(WishlistError);
    expect(err!.problems).toEqual([
      { file: "images.txt", line: b.entry.line, message: `ghcr.io/ns/app:1 would be published as /ns/app:1, which docker.io/ns/app:1 (images.txt:${a.entry.line}) already uses` },
    ]);
    // The registry-prefixed layout keeps them apart.
    expect(assemblePlan([a, b], emptyPublishedState(), createLayout({ kind: "osg-registry" }), { now }).tags).toHaveLength(2);
  });

  it("works from a state assembled from a snapshot", () => {
    const dir = layout.imageDir(digest("c1"));
    const [, , fan, rest] = dir.split("/");
    const state = assemblePublishedState(layout, {
      listings: {
        "/": [{ name: "ns", type: "dir" }],
        "/ns": [{ name: "app:1", type: "symlink", target: `../${dir.slice(1)}` }],
        "/.images": [{ name: fan!, type: "dir" }],
        [`/.images/${fan}`]: [{ name: rest!, type: "dir" }],
      },
      files: { [`${dir}/.singularity.d/cvmfs-image-sync.json`]: JSON.stringify(metadata("c1", "m1", ["docker.io/ns/app:1"])) },
    });
    const plan = assemblePlan([want("ns/app:1", "m1")], state, layout, { now });
    expect(plan.summary).toMatchObject({ keep: 1, convert: 0 });
  });
});

describe("plan output", () => {
  const state = published({ c1: "m1", c9: "m9" }, { "/library/centos:7": "c1", "/ns/old:1": "c9" });
  const plan = assemblePlan([want("centos:7", "m1"), want("ns/new:2", "m2", "c2")], state, layout, { now, keepRemovedDays: 3 });

  it("renders a table with one row per name, images without a name, and a summary", () => {
    const text = formatPlanTable(plan);
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^ACTION\s+PUBLIC NAME\s+REFERENCE\s+MANIFEST\s+IMAGE\s+SIZE\s+SOURCE$/);
    expect(lines[1]).toMatch(/^keep\s+\/library\/centos:7\s+docker\.io\/library\/centos:7\s+sha256:[0-9a-f]{12}\s+\/\.images\/[0-9a-f]{2}\/[0-9a-f]{10}…\s+1\.0 MiB\s+images\.txt:\d+$/);
    expect(lines[2]).toMatch(/^add\s+\/ns\/new:2\s+docker\.io\/ns\/new:2\s+sha256:[0-9a-f]{12}\s+convert → \/\.images\//);
    expect(lines[3]).toMatch(/^remove\s+\/ns\/old:1\s+sha256:[0-9a-f]{12}$/);
    expect(text).toContain("Images without a name:");
    expect(text).toContain("keep until 2026-11-23T12:00:00.000Z");
    expect(text).toContain("was /ns/old:1");
    expect(text.trimEnd().split("\n").at(-1)).toBe(
      "1 to add, 0 to update, 1 to keep, 1 to remove; 1 image(s) to convert; 0 image(s) to delete, 1 waiting for their removal date",
    );
  });

  it("turns into plain JSON that survives a round trip", () => {
    const json = planToJson(plan);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(json).toMatchObject({ version: 1, layout: "osg", summary: plan.summary });
    expect((json.tags as { action: string }[]).map((t) => t.action)).toEqual(["keep", "add", "remove"]);
    expect(json).not.toHaveProperty("schedule");
  });

  describe("owners", () => {
    const owned = (owners: Record<string, string[]>): PublishedState => {
      const state = published({ c1: "m1", c2: "m2", c3: "m3" }, { "/ns/a:1": "c1", "/ns/b:1": "c2", "/ns/c:1": "c3", "/ns/legacy:1": "c3" });
      state.owners = new Map(Object.entries(owners));
      return state;
    };

    it("removes only this owner's names (and unowned ones); others' stay, with their images", () => {
      const state = owned({ "/ns/a:1": ["me"], "/ns/b:1": ["me", "them"], "/ns/c:1": ["them"] });
      const plan = assemblePlan([], state, layout, { now, keepRemovedDays: 0, owner: "me" });
      const byPath = Object.fromEntries(plan.tags.map((t) => [t.publicPath, [t.action, t.otherOwners]]));
      expect(byPath).toEqual({
        "/ns/a:1": ["remove", undefined],
        "/ns/b:1": ["keep", ["them"]],
        "/ns/c:1": ["keep", ["them"]],
        "/ns/legacy:1": ["remove", undefined],
      });
      expect(plan.imageRemovals.map((r) => r.hex)).toEqual([hexOf("c1")]);
      expect(Object.fromEntries(plan.owners)).toEqual({ "/ns/b:1": ["them"], "/ns/c:1": ["them"] });
      expect(plan.summary).toMatchObject({ keep: 2, others: 2, remove: 2 });
      expect(formatPlanTable(plan)).toMatch(/keep \(owned by them\)\s+\/ns\/b:1/);
      expect(planToJson(plan).tags).toContainEqual(expect.objectContaining({ publicPath: "/ns/c:1", otherOwners: ["them"] }));
    });

    it("records this owner on every name it wants, beside the others, and adopts unowned ones", () => {
      const state = owned({ "/ns/b:1": ["them"] });
      const plan = assemblePlan([want("ns/b:1", "m2"), want("ns/legacy:1", "m3"), want("ns/new:1", "m9")], state, layout, { now, owner: "me" });
      expect(Object.fromEntries(plan.owners)).toEqual({ "/ns/b:1": ["me", "them"], "/ns/legacy:1": ["me"], "/ns/new:1": ["me"] });
    });

    it("without an owner, removes every name the wishlist lacks, whoever has it", () => {
      const state = owned({ "/ns/c:1": ["them"] });
      const plan = assemblePlan([], state, layout, { now });
      expect(plan.tags.every((t) => t.action === "remove")).toBe(true);
    });
  });
});
