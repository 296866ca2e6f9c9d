import { describe, expect, it } from "vitest";
import { UnsafePathError } from "../../src/errors.js";
import {
  classifyName,
  cleanArchivePath,
  escapesRoot,
  isSingleComponent,
  isUnsafeArchivePath,
  parentPath,
  resolveInRoot,
  resolveInRootDetailed,
} from "../../src/tree/path-safety.js";

describe("cleanArchivePath", () => {
  it.each([
    ["etc/passwd", "/etc/passwd"],
    ["./etc//passwd", "/etc/passwd"],
    ["etc/", "/etc"],
    ["", "/"],
    [".", "/"],
    ["./", "/"],
    ["/etc/shadow", "/etc/shadow"],
    ["../../etc/shadow", "/etc/shadow"],
    ["a/../../b", "/b"],
    ["a/b/../c", "/a/c"],
    ["a/./b/.", "/a/b"],
  ])("%j → %s", (name, clean) => expect(cleanArchivePath(name)).toBe(clean));
});

describe("isUnsafeArchivePath", () => {
  it.each([
    ["etc/passwd", false],
    ["./a/b", false],
    ["a/..b/c", false],
    ["/etc", true],
    ["../x", true],
    ["a/../../x", true],
    ["a/..", true],
  ])("%j → %s", (name, unsafe) => expect(isUnsafeArchivePath(name)).toBe(unsafe));
});

describe("resolveInRoot", () => {
  const links: Record<string, string> = {
    "/abs": "/etc",
    "/up": "../../..",
    "/rel": "usr/lib",
    "/usr/lib64": "lib",
    "/chain": "rel",
    "/loop1": "loop2",
    "/loop2": "loop1",
    "/dot": ".",
    "/d/deep": "../../../../../tmp",
  };
  const readlink = (p: string): string | undefined => links[p];
  it.each([
    ["/plain/x", "/plain/x"],
    ["/abs", "/etc"],
    ["/abs/x", "/etc/x"],
    ["/up", "/"],
    ["/up/x", "/x"],
    ["/rel/x", "/usr/lib/x"],
    ["/chain/x", "/usr/lib/x"],
    ["/usr/lib64/libc.so", "/usr/lib/libc.so"],
    ["/dot/dot/abs", "/etc"],
    ["/d/deep/f", "/tmp/f"],
    ["/", "/"],
  ])("%s → %s", (path, out) => expect(resolveInRoot(path, readlink)).toBe(out));

  it("says when a link climbed above the root and how many links it followed", () => {
    expect(resolveInRootDetailed("/up/x", readlink)).toEqual({ path: "/x", followed: 1, clamped: true });
    expect(resolveInRootDetailed("/abs/x", readlink)).toEqual({ path: "/etc/x", followed: 1, clamped: false });
    expect(resolveInRootDetailed("/chain/x", readlink)).toEqual({ path: "/usr/lib/x", followed: 2, clamped: false });
    expect(resolveInRootDetailed("/plain", readlink)).toEqual({ path: "/plain", followed: 0, clamped: false });
  });

  it("refuses loops", () => {
    expect(() => resolveInRoot("/loop1/x", readlink)).toThrow(UnsafePathError);
  });

  it("leaves the last component to callers that resolve the parent only", () => {
    expect(resolveInRoot(parentPath("/abs"), readlink)).toBe("/");
  });
});

describe("escapesRoot", () => {
  it.each([
    ["/a/link", "target", false],
    ["/a/link", "../b", false],
    ["/a/link", "../../b", true],
    ["/link", "..", true],
    ["/a/b/link", "./../x/../../y", false],
    ["/a/link", "/etc/passwd", true],
  ])("%s -> %s: %s", (link, target, out) => expect(escapesRoot(link, target)).toBe(out));
});

describe("classifyName", () => {
  it.each([
    ["file", { kind: "plain" }],
    [".wh.file", { kind: "whiteout", name: "file" }],
    [".wh..hidden", { kind: "whiteout", name: ".hidden" }],
    [".wh..wh..opq", { kind: "opaque" }],
    [".wh..wh.plnk", { kind: "meta" }],
    [".wh.", { kind: "meta" }],
    [".wh..", { kind: "meta" }],
    [".wh...", { kind: "meta" }],
  ])("%s", (base, kind) => expect(classifyName(base)).toEqual(kind));
});

describe("isSingleComponent", () => {
  it.each([
    ["etc", true],
    [".hidden", true],
    ["...", true],
    ["a b", true],
    ["", false],
    [".", false],
    ["..", false],
    ["a/b", false],
    ["/", false],
    ["l/x", false],
    ["nul\0byte", false],
  ])("%j → %s", (name, ok) => expect(isSingleComponent(name)).toBe(ok));
});
