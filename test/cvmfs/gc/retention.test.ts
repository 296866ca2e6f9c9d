import { describe, expect, it } from "vitest";
import { planRetention, resolveRetention, type RevisionInfo } from "../../../src/cvmfs/gc/retention.js";
import { ConfigError } from "../../../src/errors.js";

const NOW = new Date(Date.UTC(2030, 0, 11));
const days = (d: number) => Math.floor(NOW.getTime() / 1000) - d * 86_400;
const rev = (revision: number, ageDays: number, available = true): RevisionInfo => ({
  rootHash: `${String(revision).padStart(2, "0")}${"a".repeat(38)}`,
  revision,
  timestamp: days(ageDays),
  tags: [`t${revision}`],
  available,
});

describe("resolveRetention", () => {
  it.each([
    [{}, { keepRevisions: 1, keepDays: 3 }],
    [{ keepRevisions: 1 }, { keepRevisions: 1, keepDays: 0 }],
    [{ keepRevisions: 5 }, { keepRevisions: 5, keepDays: 0 }],
    [{ keepDays: 7 }, { keepRevisions: 1, keepDays: 7 }],
    [{ keepDays: 0 }, { keepRevisions: 1, keepDays: 0 }],
    [{ keepRevisions: 2, keepDays: 0.5 }, { keepRevisions: 2, keepDays: 0.5 }],
  ])("%j → %j (cvmfs_server gc: three days unless told otherwise)", (given, policy) => {
    expect(resolveRetention(given)).toEqual(policy);
  });

  it.each([{ keepRevisions: 0 }, { keepRevisions: 1.5 }, { keepRevisions: -1 }, { keepDays: -1 }, { keepDays: Number.NaN }])(
    "refuses %j with a ConfigError",
    (given) => {
      expect(() => resolveRetention(given)).toThrow(ConfigError);
    },
  );
});

describe("planRetention", () => {
  const history = [rev(1, 30), rev(2, 10), rev(3, 4), rev(4, 2), rev(5, 0)];
  const current = history[4]!.rootHash;
  const kept = (policy: { keepRevisions: number; keepDays: number }, revisions = history, root = current) =>
    planRetention(revisions, root, policy, NOW).kept.map((r) => r.revision);

  it.each([
    [{ keepRevisions: 1, keepDays: 0 }, [5]],
    [{ keepRevisions: 2, keepDays: 0 }, [5, 4]],
    [{ keepRevisions: 1, keepDays: 3 }, [5, 4]],
    [{ keepRevisions: 1, keepDays: 5 }, [5, 4, 3]],
    [{ keepRevisions: 4, keepDays: 3 }, [5, 4, 3, 2]],
    [{ keepRevisions: 2, keepDays: 20 }, [5, 4, 3, 2]],
    [{ keepRevisions: 99, keepDays: 0 }, [5, 4, 3, 2, 1]],
  ])("%j keeps %j", (policy, revisions) => {
    expect(kept(policy)).toEqual(revisions);
  });

  it("always keeps the current revision, even when it is not the newest number", () => {
    expect(kept({ keepRevisions: 1, keepDays: 0 }, history, history[1]!.rootHash)).toEqual([5, 2]);
  });

  it("never keeps a revision whose root catalog is gone, nor counts it", () => {
    const gone = [rev(1, 30), rev(2, 10), rev(3, 4, false), rev(4, 2), rev(5, 0)];
    const plan = planRetention(gone, current, { keepRevisions: 3, keepDays: 0 }, NOW);
    expect(plan.kept.map((r) => r.revision)).toEqual([5, 4, 2]);
    expect(plan.dropped.map((r) => r.revision)).toEqual([3, 1]);
  });
});
