import { describe, expect, it } from "vitest";
import { CatalogError } from "../../../src/errors.js";
import { parseXattrs, serializeXattrs } from "../../../src/cvmfs/catalog/xattr-blob.js";

describe("serializeXattrs", () => {
  it("writes version 1, the count, and entries sorted by key bytes", () => {
    const blob = serializeXattrs({ "user.z": Buffer.from("1"), "security.capability": Buffer.from([0, 1]), "user.a": Buffer.alloc(0) });
    const expected = Buffer.concat([
      Buffer.from([1, 3]),
      Buffer.from([19, 2]), Buffer.from("security.capability"), Buffer.from([0, 1]),
      Buffer.from([6, 0]), Buffer.from("user.a"),
      Buffer.from([6, 1]), Buffer.from("user.z"), Buffer.from("1"),
    ]);
    expect(blob).toEqual(expected);
    expect(parseXattrs(blob as Buffer)).toEqual({
      "security.capability": Buffer.from([0, 1]),
      "user.a": Buffer.alloc(0),
      "user.z": Buffer.from("1"),
    });
  });

  it("gives null for no attributes", () => {
    expect(serializeXattrs(undefined)).toBeNull();
    expect(serializeXattrs({})).toBeNull();
  });

  it.each([
    ["empty key", { "": Buffer.from("x") }],
    ["NUL in key", { "user.\0x": Buffer.from("x") }],
    ["key of 256 bytes", { ["k".repeat(256)]: Buffer.from("x") }],
    ["value of 256 bytes", { "user.v": Buffer.alloc(256) }],
    ["256 attributes", Object.fromEntries(Array.from({ length: 256 }, (_, i) => [`user.${i}`, Buffer.alloc(0)]))],
  ])("refuses %s", (_name, attrs) => {
    expect(() => serializeXattrs(attrs)).toThrow(CatalogError);
  });

  it("accepts the largest sizes the one-byte lengths carry", () => {
    const attrs = { ["k".repeat(255)]: Buffer.alloc(255, 7) };
    expect(parseXattrs(serializeXattrs(attrs) as Buffer)).toEqual(attrs);
  });

  it("refuses truncated or foreign blobs", () => {
    expect(() => parseXattrs(Buffer.from([2, 0]))).toThrow(CatalogError);
    expect(() => parseXattrs(Buffer.from([1, 1, 5, 0, 65]))).toThrow(CatalogError);
  });
});
