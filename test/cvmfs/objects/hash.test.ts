import { describe, expect, it } from "vitest";
import { RepositoryError } from "../../../src/errors.js";
import {
  createContentHasher,
  hashBytes,
  hashString,
  isHashString,
  objectPath,
  parseHashString,
} from "../../../src/cvmfs/objects/hash.js";

const abc = Buffer.from("abc");

describe("hash strings", () => {
  it.each([
    ["sha1", "a9993e364706816aba3e25717850c26c9cd0d89d"],
    ["rmd160", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc-rmd160"],
    // SHAKE128("abc") squeezed to 20 bytes: the first 20 bytes of the FIPS 202 vector.
    ["shake128", "5881092dd818bf5cf8a3ddb793fbcba74097d5c5-shake128"],
  ] as const)("%s of 'abc' is %s", (algo, expected) => {
    expect(hashBytes(abc, algo)).toBe(expected);
    expect(hashString(createContentHasher(algo).update(abc).digest(), algo)).toBe(expected);
  });

  it("hashes incrementally the same as at once", () => {
    const h = createContentHasher("shake128");
    h.update(abc.subarray(0, 1));
    h.update(abc.subarray(1));
    expect(hashString(h.digest(), "shake128")).toBe(hashBytes(abc, "shake128"));
  });

  it("rejects a digest of the wrong size", () => {
    expect(() => hashString(Buffer.alloc(16), "sha1")).toThrow(RepositoryError);
  });

  it.each([
    ["e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78", "sha1", ""],
    ["e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78C", "sha1", "C"],
    ["e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78-rmd160", "rmd160", ""],
    ["e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78-rmd160P", "rmd160", "P"],
    ["e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78-shake128X", "shake128", "X"],
  ] as const)("parses %s", (s, algorithm, suffix) => {
    const p = parseHashString(s);
    expect(p.algorithm).toBe(algorithm);
    expect(p.suffix).toBe(suffix);
    expect(p.digest.toString("hex")).toBe("e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78");
    expect(p.hash + p.suffix).toBe(s);
    expect(hashString(p.digest, p.algorithm)).toBe(p.hash);
  });

  it.each([
    "d41d8cd98f00b204e9800998ecf8427e", // MD5: never a content hash
    "E8EC3D88B62EBF526E4E5A4FF6162A3AA48A6B78",
    "e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78CC",
    "e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78-md5",
    "e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78Z",
    "",
  ])("rejects %j", (s) => {
    expect(() => parseHashString(s)).toThrow(RepositoryError);
  });

  it("tells bare hash strings from suffixed ones", () => {
    expect(isHashString("e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78-rmd160")).toBe(true);
    expect(isHashString("e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78C")).toBe(false);
  });
});

describe("objectPath", () => {
  it.each([
    ["e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78", "", "data/e8/ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78"],
    ["e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78", "C", "data/e8/ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78C"],
    ["0a1b2c3d4e5f60718293a4b5c6d7e8f901234567-rmd160", "P", "data/0a/1b2c3d4e5f60718293a4b5c6d7e8f901234567-rmd160P"],
  ] as const)("%s + %j → %s", (hash, suffix, path) => {
    expect(objectPath(hash, suffix)).toBe(path);
  });

  it("refuses a hash string that already carries a suffix", () => {
    expect(() => objectPath("e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78C", "C")).toThrow(RepositoryError);
  });
});
