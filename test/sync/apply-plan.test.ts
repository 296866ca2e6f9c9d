import { describe, expect, it } from "vitest";
import { assembleTagEdits, dueRemovals } from "../../src/sync/apply-plan.js";
import type { Plan, PlannedTag } from "../../src/sync/plan.js";
import { emptyRemovalSchedule } from "../../src/published/removal-schedule.js";

const dirA = "/.images/aa/1111";
const dirB = "/.images/bb/2222";
const plan = (tags: PlannedTag[], removals: string[]): Plan => ({
  layout: "osg",
  tags,
  conversions: [],
  imageRemovals: removals.map((imageDir) => ({ hex: imageDir.replace(/\W/g, ""), imageDir, due: true, lastNames: [] })),
  schedule: emptyRemovalSchedule(),
  owners: new Map(),
  summary: { add: 0, update: 0, keep: 0, remove: 0, others: 0, convert: 0, removeImages: removals.length, waiting: 0 },
});

describe("assembleTagEdits and dueRemovals", () => {
  it("keeps the old link of a name whose conversion failed, and its image", () => {
    const p = plan([{ action: "update", publicPath: "/ns/x:1", manifestDigest: "sha256:new", previousImageDir: dirA, convert: true }], [dirA]);
    const edits = assembleTagEdits(p, new Map(), new Map([["sha256:new", "[E_LAYER] broken"]]));
    expect(edits[0]).toMatchObject({ changed: false, imageDir: dirA, skipped: "[E_LAYER] broken" });
    expect(dueRemovals(p, edits)).toEqual([]);
  });

  it("does not delete an image a new manifest turned out to be", () => {
    const p = plan([{ action: "add", publicPath: "/ns/y:1", manifestDigest: "sha256:m", convert: true }], [dirA, dirB]);
    const edits = assembleTagEdits(p, new Map([["sha256:m", dirB]]), new Map());
    expect(edits[0]).toMatchObject({ changed: true, imageDir: dirB });
    expect(dueRemovals(p, edits, [dirB])).toEqual([dirA]);
  });

  it("removes names and leaves keeps alone", () => {
    const p = plan(
      [
        { action: "remove", publicPath: "/ns/gone:1", previousImageDir: dirA, convert: false },
        { action: "keep", publicPath: "/ns/kept:1", imageDir: dirB, convert: false },
      ],
      [dirA],
    );
    const edits = assembleTagEdits(p, new Map(), new Map());
    expect(edits.map((e) => e.changed)).toEqual([true, false]);
    expect(dueRemovals(p, edits)).toEqual([dirA]);
  });
});
