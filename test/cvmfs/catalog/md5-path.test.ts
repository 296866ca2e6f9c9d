import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { baseName, catalogPath, md5KeyDigest, md5PathKey, parentPath, ZERO_KEY } from "../../../src/cvmfs/catalog/md5-path.js";

describe("md5PathKey", () => {
  it.each([
    // python-cvmfsutils md5_handling_test.py
    [
      "/lib/lhcb/ALIGNMENT/ALIGNMENT_v9r2/Phys/CommonParticles/tests/qmtest/commonparticles.qms/.svn/tmp/prop-base",
      "07936cda4b887b38639426ee8630d1cf",
      4069996547627848455n,
      -3471940481646685085n,
    ],
    ["", "d41d8cd98f00b204e9800998ecf8427e", 338333539836370388n, 9098107892288553193n],
  ])("%s", (path, hex, p1, p2) => {
    expect(createHash("md5").update(path).digest("hex")).toBe(hex);
    const key = md5PathKey(path);
    expect(key[0]).toBe(p1);
    // Signed int64: values ≥ 2^63 wrap negative.
    expect(key[1]).toBe(BigInt.asIntN(64, p2));
    expect(md5KeyDigest(key).toString("hex")).toBe(hex);
  });

  it("reads both halves as signed little-endian int64", () => {
    const key = md5PathKey("");
    expect(key).toEqual([338333539836370388n, BigInt.asIntN(64, 9098107892288553193n)]);
    expect(ZERO_KEY).toEqual([0n, 0n]);
  });
});

describe("path helpers", () => {
  it.each([
    ["/", ""],
    ["", ""],
    ["/a//b/", "/a/b"],
    ["a/b", "/a/b"],
  ])("catalogPath(%j) = %j", (p, want) => expect(catalogPath(p)).toBe(want));

  it("parent and base name", () => {
    expect(parentPath("/a")).toBe("");
    expect(parentPath("/a/b/c")).toBe("/a/b");
    expect(parentPath("")).toBe("");
    expect(baseName("/a/b")).toBe("b");
    expect(baseName("")).toBe("");
  });
});
