/**
 * A wishlist line is anyone's text (a merge request): whatever it holds must reach logs and
 * errors escaped and bounded, never as raw control bytes or ten thousand characters twice.
 */
import { describe, expect, it } from "vitest";
import { WishlistError } from "../../src/errors.js";
import { parseDuccWishlist } from "../../src/wishlist/ducc-wishlist.js";
import { assembleWishlists } from "../../src/wishlist/load-wishlists.js";
import { parseOsgWishlist } from "../../src/wishlist/osg-wishlist.js";

const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
const FAKE_OK = "\x1b[2K\r\x1b[32mall lines OK\x1b[0m";

describe("hostile wishlist lines", () => {
  it.each([
    ["an escape sequence painting a fake result", `centos:7${FAKE_OK}`],
    ["a carriage return", "centos:7\rall lines OK"],
    ["a NUL byte", "centos\x00:7"],
    ["escapes in a tag", `centos:7x${FAKE_OK}x`],
    ["a C1 control", "centos:\u009b7"],
  ])("%s is reported escaped", (_what, line) => {
    const { problems, entries } = parseOsgWishlist("images.txt", `${line}\n`);
    expect(entries).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).not.toMatch(RAW_CONTROL);
    expect(problems[0]!.message).toMatch(/\\x1b|\\x0d|\\x00|\\u009b/);
    let thrown: unknown;
    try {
      assembleWishlists([{ file: "images.txt", text: `${line}\n` }]);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(WishlistError);
    expect((thrown as Error).message).not.toMatch(RAW_CONTROL);
  });

  it("a 10,000-character line is shortened, with its length, wherever it is quoted", () => {
    for (const line of ["a".repeat(10_000), `Library/${"A".repeat(10_000)}:1`, `centos:${"t".repeat(10_000)}`, `a b${"c".repeat(10_000)}`]) {
      const { problems } = parseOsgWishlist("images.txt", `${line}\n`);
      expect(problems).toHaveLength(1);
      expect(problems[0]!.message.length).toBeLessThan(400);
      expect(problems[0]!.message).toMatch(/\(\d{5} characters\)/);
    }
  });

  it("DUCC recipes are held to the same rules", () => {
    const recipe = `version: 1\ninput:\n  - "centos:7\\e[32m OK"\n  - "${"x".repeat(5000)}:Bad"\n`;
    const { problems } = parseDuccWishlist("recipe.yaml", recipe);
    expect(problems).toHaveLength(2);
    for (const p of problems) {
      expect(p.message).not.toMatch(RAW_CONTROL);
      expect(p.message.length).toBeLessThan(400);
    }
  });
});
