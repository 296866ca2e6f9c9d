import { describe, expect, it } from "vitest";
import { checkWishlists } from "../../src/wishlist/load-wishlists.js";
import { wishlistCheckRows } from "../../src/wishlist/wishlist-report.js";

describe("wishlistCheckRows", () => {
  it("lists every line with its reference, error, duplicate or warning, by file then line", () => {
    const check = checkWishlists([
      { file: "b.yaml", text: "version: 1\nextra: 1\ninput:\n  - 'https://ghcr.io/a/b:1'\n" },
      { file: "a.txt", text: "centos:7\nBAD REF\nns/x:v1.*\ndocker.io/library/centos:7\n" },
    ]);
    expect(wishlistCheckRows(check, ["a.txt", "b.yaml"])).toEqual([
      { file: "a.txt", line: 1, reference: "docker.io/library/centos:7" },
      { file: "a.txt", line: 2, error: 'more than one word on a line: "BAD REF" (one image reference a line)' },
      { file: "a.txt", line: 3, reference: "docker.io/ns/x:v1.*", pattern: "v1.*" },
      { file: "a.txt", line: 4, reference: "docker.io/library/centos:7", duplicateOf: "a.txt:1" },
      { file: "b.yaml", line: 2, warning: 'unknown key "extra" ignored' },
      { file: "b.yaml", line: 4, reference: "ghcr.io/a/b:1" },
    ]);
  });
});
