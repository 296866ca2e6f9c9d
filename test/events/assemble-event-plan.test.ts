import { describe, expect, it } from "vitest";
import { assembleEventPlan } from "../../src/events/assemble-event-plan.js";
import { createLayout } from "../../src/published/layout.js";
import type { DesiredImage } from "../../src/sync/plan.js";
import { emptyPublishedState, type PublishedState } from "../../src/published/published-state.js";
import type { WishlistEntry } from "../../src/wishlist/entry.js";
import { parseImageReference } from "../../src/wishlist/reference.js";
import { digest, hexOf, metadata } from "../sync/_fixtures.js";

const layout = createLayout();

function want(ref: string, manifest: string, config?: string): DesiredImage {
  const parsed = parseImageReference(ref);
  const entry: WishlistEntry = { file: "images.txt", line: 1, text: ref, ref: parsed };
  return { entry, ref: parsed, manifestDigest: digest(manifest), ...(config ? { configDigest: digest(config) } : {}) };
}

/**
 * Images c1..c4 (manifests m1..m4); names a, b and c on c1..c3, a dangling name, another owner's
 * name; c4 untagged and overdue on the schedule, which a full sync would delete now.
 */
function published(): PublishedState {
  const state = emptyPublishedState();
  for (const n of [1, 2, 3, 4]) state.images.set(hexOf(`c${n}`), { hex: hexOf(`c${n}`), dir: layout.imageDir(digest(`c${n}`)), metadata: metadata(`c${n}`, `m${n}`, []) });
  state.tags.set("/sites/a:1", layout.imageDir(digest("c1")));
  state.tags.set("/sites/b:1", layout.imageDir(digest("c2")));
  state.tags.set("/sites/c:1", layout.imageDir(digest("c3")));
  state.dangling.set("/sites/gone:1", layout.imageDir(digest("c9")));
  state.owners = new Map([["/sites/a:1", ["site"]], ["/sites/b:1", ["site"]], ["/sites/c:1", ["other"]]]);
  state.schedule = { version: 1, images: { [hexOf("c4")]: { untaggedAt: "2026-11-01T00:00:00.000Z", removeAfter: "2026-11-08T00:00:00.000Z", lastNames: ["/sites/d:1"] } } };
  return state;
}

describe("assembleEventPlan", () => {
  it("plans only the event's names: the others are neither rows nor removed; the schedule stays as it was", () => {
    const state = published();
    // sites/a:1 moved to a new image; sites/x:1 is new; sites/b:1 and the rest are not in the event.
    const plan = assembleEventPlan([want("registry.example.org/sites/a:1", "m5", "c5"), want("registry.example.org/sites/x:1", "m6")], state, layout, {
      names: ["/sites/a:1", "/sites/x:1"],
      owner: "site",
    });
    expect(plan.tags.map((t) => [t.action, t.publicPath, t.convert])).toEqual([
      ["update", "/sites/a:1", true],
      ["add", "/sites/x:1", true],
    ]);
    expect(plan.conversions.map((c) => c.publicPaths)).toEqual([["/sites/a:1"], ["/sites/x:1"]]);
    // c1 lost its name and c4 is overdue: neither is deleted nor rescheduled; the next full sync decides.
    expect(plan.imageRemovals).toEqual([]);
    expect(plan.schedule).toBe(state.schedule);
    expect(plan.summary).toEqual({ add: 1, update: 1, keep: 0, remove: 0, others: 0, convert: 2, removeImages: 0, waiting: 0 });
    expect(Object.fromEntries(plan.owners)).toEqual({ "/sites/a:1": ["site"], "/sites/b:1": ["site"], "/sites/c:1": ["other"], "/sites/x:1": ["site"] });
  });

  it("a tag moved to an image already published: the name moves, no conversion", () => {
    const plan = assembleEventPlan([want("registry.example.org/sites/a:1", "m2", "c2")], published(), layout, { names: ["/sites/a:1"], owner: "site" });
    expect(plan.tags.map((t) => [t.action, t.publicPath, t.convert, t.imageDir])).toEqual([["update", "/sites/a:1", false, layout.imageDir(digest("c2"))]]);
    expect(plan.conversions).toEqual([]);
    expect(plan.summary.removeImages).toBe(0);
  });

  it("a tag that did not move: one keep row and nothing else", () => {
    const plan = assembleEventPlan([want("registry.example.org/sites/b:1", "m2")], published(), layout, { names: ["/sites/b:1"], owner: "site" });
    expect(plan.tags.map((t) => [t.action, t.publicPath])).toEqual([["keep", "/sites/b:1"]]);
    expect(plan.conversions).toEqual([]);
    expect(plan.summary).toMatchObject({ add: 0, update: 0, keep: 1, remove: 0, convert: 0 });
  });

  it("another owner's name the event sets becomes shared; a name whose HEAD failed keeps its image", () => {
    const shared = assembleEventPlan([want("registry.example.org/sites/c:1", "m3")], published(), layout, { names: ["/sites/c:1"], owner: "site" });
    expect(shared.owners.get("/sites/c:1")).toEqual(["other", "site"]);
    const failed = assembleEventPlan([], published(), layout, { names: ["/sites/a:1"], owner: "site" });
    expect(failed.tags).toEqual([expect.objectContaining({ action: "keep", publicPath: "/sites/a:1", retained: true })]);
  });
});
