import { describe, expect, it } from "vitest";
import { ConfigError, RepositoryError } from "../../src/errors.js";
import {
  emptyRemovalSchedule,
  formatRemovalSchedule,
  parseRemovalSchedule,
  updateRemovalSchedule,
} from "../../src/published/removal-schedule.js";

const a = "aa".repeat(32);
const b = "bb".repeat(32);
const c = "cc".repeat(32);
const day = 86_400_000;
const t0 = new Date("2026-11-01T00:00:00.000Z");

describe("removal schedule", () => {
  it("schedules a newly untagged image at now + keepDays and removes it once the date has passed", () => {
    const first = updateRemovalSchedule(emptyRemovalSchedule(), {
      present: [a, b],
      untagged: [a],
      lastNames: new Map([[a, ["/x/y:1", "/x/y:0"]]]),
      now: t0,
      keepDays: 7,
    });
    expect(first.due).toEqual([]);
    expect(first.schedule.images).toEqual({
      [a]: { untaggedAt: "2026-11-01T00:00:00.000Z", removeAfter: "2026-11-08T00:00:00.000Z", lastNames: ["/x/y:0", "/x/y:1"] },
    });
    const early = updateRemovalSchedule(first.schedule, { present: [a, b], untagged: [a], now: new Date(t0.getTime() + 6 * day), keepDays: 7 });
    expect(early.due).toEqual([]);
    expect(early.schedule).toEqual(first.schedule);
    const late = updateRemovalSchedule(first.schedule, { present: [a, b], untagged: [a], now: new Date(t0.getTime() + 7 * day), keepDays: 7 });
    expect(late.due).toEqual([a]);
    expect(late.schedule.images).toEqual({});
  });

  it("takes an image off the schedule when it has a name again, and forgets directories that are gone", () => {
    const s = updateRemovalSchedule(emptyRemovalSchedule(), { present: [a, b, c], untagged: [a, b], now: t0, keepDays: 3 }).schedule;
    const next = updateRemovalSchedule(s, { present: [a, c], untagged: [c], now: new Date(t0.getTime() + day), keepDays: 3 });
    expect(Object.keys(next.schedule.images)).toEqual([c]);
    expect(next.due).toEqual([]);
  });

  it("removes at once with keepDays 0, and refuses a negative grace period", () => {
    expect(updateRemovalSchedule(emptyRemovalSchedule(), { present: [a], untagged: [a], now: t0, keepDays: 0 }).due).toEqual([a]);
    expect(() => updateRemovalSchedule(emptyRemovalSchedule(), { present: [a], untagged: [a], now: t0, keepDays: -1 })).toThrow(ConfigError);
  });

  it("keeps a promised date when the grace period is shortened later", () => {
    const s = updateRemovalSchedule(emptyRemovalSchedule(), { present: [a], untagged: [a], now: t0, keepDays: 30 }).schedule;
    const next = updateRemovalSchedule(s, { present: [a], untagged: [a], now: new Date(t0.getTime() + 2 * day), keepDays: 1 });
    expect(next.due).toEqual([]);
    expect(next.schedule.images[a]!.removeAfter).toBe("2026-12-01T00:00:00.000Z");
  });

  it("round-trips through its file, sorted, and rejects a malformed one", () => {
    const s = updateRemovalSchedule(emptyRemovalSchedule(), { present: [b, a], untagged: [b, a], now: t0, keepDays: 1 }).schedule;
    const text = formatRemovalSchedule(s).toString("utf8");
    expect(text.indexOf(a)).toBeLessThan(text.indexOf(b));
    expect(parseRemovalSchedule(text, "f")).toEqual(s);
    expect(() => parseRemovalSchedule('{"version":1,"images":{"zz":{}}}', "/.images/.removal-schedule.json")).toThrow(RepositoryError);
    expect(() => parseRemovalSchedule("nope", "f")).toThrow(/not JSON/);
  });
});
