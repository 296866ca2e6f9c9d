import { describe, expect, it } from "vitest";
import { parseOsgWishlist } from "../../src/wishlist/osg-wishlist.js";
import { entryKey } from "../../src/wishlist/entry.js";

const digest = `sha256:${"7c".repeat(32)}`;

describe("parseOsgWishlist", () => {
  it.each([
    ["centos:7", "docker.io/library/centos:7", undefined],
    ["busybox", "docker.io/library/busybox:latest", undefined],
    ["myorg/analysis", "docker.io/myorg/analysis:latest", undefined],
    ["myorg/analysis:v2.1", "docker.io/myorg/analysis:v2.1", undefined],
    ["   myorg/analysis:v2.1   ", "docker.io/myorg/analysis:v2.1", undefined],
    ["\tmyorg/tabbed:1\t", "docker.io/myorg/tabbed:1", undefined],
    ["myorg/analysis:v2.1 # pinned for the paper", "docker.io/myorg/analysis:v2.1", undefined],
    ["myorg/analysis:v2.1# no space before the comment", "docker.io/myorg/analysis:v2.1", undefined],
    ["ghcr.io/lab/group/tool:2024.1", "ghcr.io/lab/group/tool:2024.1", undefined],
    ["registry.example.org:8443/ns/name:tag", "registry.example.org:8443/ns/name:tag", undefined],
    ["localhost:5000/ns/name", "localhost:5000/ns/name:latest", undefined],
    ["experiments.example.edu/user.name/deep/path/image:latest", "experiments.example.edu/user.name/deep/path/image:latest", undefined],
    [`myorg/pinned@${digest}`, `docker.io/myorg/pinned@${digest}`, undefined],
    [`myorg/pinned:1.0@${digest}`, `docker.io/myorg/pinned:1.0@${digest}`, undefined],
    ["myorg/all:*", "docker.io/myorg/all:*", "*"],
    ["myorg/series:v1.*", "docker.io/myorg/series:v1.*", "v1.*"],
    ["myorg/ranged:3.1[0-9]", "docker.io/myorg/ranged:3.1[0-9]", "3.1[0-9]"],
    ["myorg/suffix:*-stable", "docker.io/myorg/suffix:*-stable", "*-stable"],
    ["myorg/one:rel?", "docker.io/myorg/one:rel?", "rel?"],
    ["myorg/brace:{a,b}", "docker.io/myorg/brace:{a,b}", "{a,b}"],
    ["quay.io/org/img:el*", "quay.io/org/img:el*", "el*"],
  ])("%j → %s", (line, normalised, pattern) => {
    const result = parseOsgWishlist("images.txt", line);
    expect(result.problems).toEqual([]);
    expect(result.entries).toHaveLength(1);
    const entry = result.entries[0]!;
    expect(entryKey(entry)).toBe(normalised);
    expect(entry.tagPattern).toBe(pattern);
    expect(entry.text).toBe(line.split("#")[0]!.trim());
    expect(entry).toMatchObject({ file: "images.txt", line: 1 });
  });

  it("skips comments and blank lines and keeps 1-based line numbers, with CRLF too", () => {
    const text = ["# heading", "", "   ", "centos:7", "  # indented comment", "#commented/out:1", "ubuntu:22.04 # trailing", ""].join("\r\n");
    const result = parseOsgWishlist("list.txt", text);
    expect(result.problems).toEqual([]);
    expect(result.entries.map((e) => [e.line, entryKey(e)])).toEqual([
      [4, "docker.io/library/centos:7"],
      [7, "docker.io/library/ubuntu:22.04"],
    ]);
  });

  it("ignores a leading byte order mark", () => {
    const result = parseOsgWishlist("bom.txt", "\uFEFFcentos:7\n");
    expect(result.problems).toEqual([]);
    expect(result.entries.map(entryKey)).toEqual(["docker.io/library/centos:7"]);
  });

  it("reports each bad line with its line number and reason, and keeps the good ones", () => {
    const text = ["good/one:1", "Bad/Upper:1", "two words", "x@sha256:123", "a//b", "ok/pattern:*@" + digest, "good/two"].join("\n");
    const result = parseOsgWishlist("w.txt", text);
    expect(result.entries.map((e) => e.line)).toEqual([1, 7]);
    expect(result.problems.map((p) => p.line)).toEqual([2, 3, 4, 5, 6]);
    expect(result.problems[0]!.message).toContain("not a valid name component");
    expect(result.problems[1]!.message).toContain("more than one word");
    expect(result.problems[2]!.message).toContain("64 lowercase hex");
    expect(result.problems[3]!.message).toContain("empty path component");
    expect(result.problems[4]!.message).toContain("cannot be pinned");
  });

  it("rejects tag patterns with characters no tag or glob has", () => {
    const result = parseOsgWishlist("w.txt", "ns/name:v1/*");
    expect(result.entries).toEqual([]);
    expect(result.problems).toHaveLength(1);
  });
});
