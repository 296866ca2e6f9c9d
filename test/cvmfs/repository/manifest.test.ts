import { describe, expect, it } from "vitest";
import { formatManifest, parseManifest, ROOT_PATH_MD5, type Manifest } from "../../../src/cvmfs/repository/manifest.js";

const full: Manifest = {
  catalogHash: "0123456789abcdef0123456789abcdef01234567",
  catalogSize: 20480,
  rootPathHash: ROOT_PATH_MD5,
  ttl: 240,
  revision: 7,
  garbageCollectable: false,
  alternativePath: false,
  fqrn: "images.local",
  certificateHash: "1111111111111111111111111111111111111111",
  historyHash: "2222222222222222222222222222222222222222",
  publishTimestamp: 1700000000,
  reflogHash: "3333333333333333333333333333333333333333",
};

describe("manifest", () => {
  it("writes fields in ExportString order C B R D S G A, then N X H T M Y", () => {
    expect(formatManifest(full)).toBe(
      "C0123456789abcdef0123456789abcdef01234567\nB20480\nRd41d8cd98f00b204e9800998ecf8427e\nD240\nS7\nGno\nAno\n" +
        "Nimages.local\nX1111111111111111111111111111111111111111\nH2222222222222222222222222222222222222222\n" +
        "T1700000000\nY3333333333333333333333333333333333333333\n",
    );
  });

  it("round-trips through parse, stopping at the signature separator", () => {
    const bytes = Buffer.concat([Buffer.from(formatManifest(full)), Buffer.from("--\nabc\n"), Buffer.from([0x43, 0x0a, 0xff])]);
    const parsed = parseManifest(bytes);
    expect(parsed.manifest).toEqual(full);
    expect(parsed.letter?.hash).toBe("abc");
    expect(parsed.letter?.signature).toEqual(Buffer.from([0x43, 0x0a, 0xff]));
  });

  it("parses an unsigned minimal manifest with defaults", () => {
    const { manifest, letter } = parseManifest(Buffer.from(`Cabc\nR${ROOT_PATH_MD5}\nD60\nS3\nGyes\n`));
    expect(letter).toBeNull();
    expect(manifest).toEqual({ catalogHash: "abc", catalogSize: 0, rootPathHash: ROOT_PATH_MD5, ttl: 60, revision: 3, garbageCollectable: true, alternativePath: false });
  });

  it.each([
    ["C missing", `R${ROOT_PATH_MD5}\nD1\nS1\n`, /field C/],
    ["S not a number", `Cabc\nR${ROOT_PATH_MD5}\nD1\nSx\n`, /field S/],
    ["D missing", `Cabc\nR${ROOT_PATH_MD5}\nS1\n`, /field D/],
  ])("rejects a manifest with %s", (_name, text, re) => {
    expect(() => parseManifest(Buffer.from(text))).toThrow(re);
  });
});
