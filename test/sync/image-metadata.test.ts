import { describe, expect, it } from "vitest";
import { RepositoryError } from "../../src/errors.js";
import { formatImageMetadata, IMAGE_METADATA_PATH, parseImageMetadata } from "../../src/published/image-metadata.js";
import { digest, metadata } from "./_fixtures.js";

describe("image metadata", () => {
  it("lives in .singularity.d and round-trips through its bytes", () => {
    expect(IMAGE_METADATA_PATH).toBe(".singularity.d/cvmfs-image-sync.json");
    const m = metadata("c1", "m1", ["docker.io/library/centos:7"], { indexDigest: digest("i1") });
    const bytes = formatImageMetadata(m);
    expect(bytes.toString("utf8").endsWith("}\n")).toBe(true);
    expect(JSON.parse(bytes.toString("utf8")).version).toBe(1);
    expect(parseImageMetadata(bytes, "x")).toEqual(m);
  });

  it("keeps unknown fields of the OCI config", () => {
    const m = metadata("c1", "m1", [], { config: { os: "linux", architecture: "amd64", "x-extra": { a: 1 } } });
    expect(parseImageMetadata(formatImageMetadata(m), "x").config).toEqual({ os: "linux", architecture: "amd64", "x-extra": { a: 1 } });
  });

  it.each([
    ["not JSON", "{", "not JSON"],
    ["wrong version", JSON.stringify({ ...metadata("c1", "m1", []), version: 2 }), "version"],
    ["bad digest", JSON.stringify({ ...metadata("c1", "m1", []), manifestDigest: "sha256:xyz" }), "manifestDigest"],
    ["bad time", JSON.stringify({ ...metadata("c1", "m1", []), convertedAt: "yesterday" }), "convertedAt"],
    ["negative size", JSON.stringify({ ...metadata("c1", "m1", []), bytes: -1 }), "bytes"],
  ])("rejects %s with RepositoryError naming the place", (_name, text, field) => {
    const err = (() => {
      try {
        parseImageMetadata(text, "/.images/c1/x/.singularity.d/cvmfs-image-sync.json");
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(RepositoryError);
    expect(err!.message).toContain("/.images/c1/x/.singularity.d/cvmfs-image-sync.json");
    expect(err!.message).toContain(field);
  });
});
