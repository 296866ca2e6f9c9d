import { describe, expect, it } from "vitest";
import { describeEventTargets, matchEventTargets } from "../../src/events/event-targets.js";
import { parseEntryReference } from "../../src/wishlist/entry.js";
import { formatImageReference, parseImageReference } from "../../src/wishlist/reference.js";

const wishlist = [
  "registry.example.org/sites/app:1",
  "registry.example.org/sites/app:v*",
  "registry.example.org/sites/tool:*",
  "registry.example.org/sites/pinned:1@sha256:" + "a".repeat(64),
  "centos:7",
].map((text, i) => parseEntryReference("images.txt", i + 1, text));

const refs = (...texts: string[]) => texts.map((t) => parseImageReference(t));

describe("matchEventTargets", () => {
  it("an exact line, a pattern line (made concrete), Docker Hub short forms; the rest is unlisted", () => {
    const { targets, unlisted } = matchEventTargets(
      refs("registry.example.org/sites/app:1", "registry.example.org/sites/app:v2", "registry.example.org/sites/tool:nightly", "docker.io/library/centos:7", "registry.example.org/sites/app:2", "other.example.org/sites/app:1"),
      wishlist,
    );
    expect(targets.map((t) => [formatImageReference(t.ref), `${t.entry.file}:${t.entry.line}`, formatImageReference(t.entry.ref), t.entry.tagPattern])).toEqual([
      ["registry.example.org/sites/app:1", "images.txt:1", "registry.example.org/sites/app:1", undefined],
      ["registry.example.org/sites/app:v2", "images.txt:2", "registry.example.org/sites/app:v2", undefined],
      ["registry.example.org/sites/tool:nightly", "images.txt:3", "registry.example.org/sites/tool:nightly", undefined],
      ["docker.io/library/centos:7", "images.txt:5", "docker.io/library/centos:7", undefined],
    ]);
    expect(unlisted.map(formatImageReference)).toEqual(["registry.example.org/sites/app:2", "other.example.org/sites/app:1"]);
  });

  it("an explicit line wins over a pattern that also matches; a line pinned to a digest never counts", () => {
    const both = [parseEntryReference("a.txt", 1, "registry.example.org/sites/app:*"), parseEntryReference("b.txt", 7, "registry.example.org/sites/app:1")];
    expect(matchEventTargets(refs("registry.example.org/sites/app:1"), both).targets.map((t) => `${t.entry.file}:${t.entry.line}`)).toEqual(["b.txt:7"]);
    expect(matchEventTargets(refs("registry.example.org/sites/pinned:1"), wishlist)).toEqual({ targets: [], unlisted: refs("registry.example.org/sites/pinned:1") });
  });
});

describe("describeEventTargets", () => {
  it("says what a run syncs, or why it has nothing to do", () => {
    const some = matchEventTargets(refs("registry.example.org/sites/app:1", "quay.io/a/b:1"), wishlist);
    expect(describeEventTargets("Quay notification", [], some)).toBe("Quay notification: syncing registry.example.org/sites/app:1; quay.io/a/b:1 not on the wishlist");
    const none = matchEventTargets(refs("quay.io/a/b:1", "quay.io/a/b:2", "quay.io/a/b:3", "quay.io/a/b:4"), wishlist);
    expect(describeEventTargets("Quay notification", [], none)).toBe("Quay notification: quay.io/a/b:1, quay.io/a/b:2, quay.io/a/b:3 and 1 more not on the wishlist; nothing to sync");
    expect(describeEventTargets("distribution registry notification", ["a blob push", "a blob push", "a pull"], matchEventTargets([], wishlist))).toBe(
      "distribution registry notification: no tag pushed (2 × a blob push, a pull); nothing to sync",
    );
  });
});
