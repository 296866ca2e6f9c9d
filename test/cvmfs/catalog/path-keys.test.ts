import { describe, expect, it } from "vitest";
import { md5PathKey } from "../../../src/cvmfs/catalog/md5-path.js";
import { int64Reader, keyAt, PathKeys } from "../../../src/cvmfs/catalog/path-keys.js";

/** Names whose paths end at every offset around the 64-byte blocks and the 56-byte padding limit. */
const lengths = Array.from({ length: 140 }, (_, i) => "n".repeat(i + 1));
const awkward = ["é", "日本語", "emoji-😀", "lone-\ud800-surrogate", "tab\tand space", ".cvmfscatalog", "x".repeat(5_000)];

describe("PathKeys", () => {
  it("gives the key md5PathKey gives, for every path length and for non-ASCII names", () => {
    const keys = new PathKeys();
    const words = new Int32Array(4);
    for (const dir of ["", "/a", `/.images/ab/${"c".repeat(62)}`, `/${"d".repeat(63)}`, `/${"e".repeat(64)}/€`]) {
      const prefix = keys.prefix(dir);
      for (const name of [...lengths, ...awkward]) {
        keys.keyOf(prefix, name, words, 0);
        expect(keyAt(words, 0), `${dir}/${name}`).toEqual(md5PathKey(`${dir}/${name}`));
      }
    }
  });

  it("carries a directory's state down to its children, and keys whole paths", () => {
    const keys = new PathKeys();
    const words = new Int32Array(8);
    let prefix = keys.prefix("/.images/ab/cdef");
    let path = "/.images/ab/cdef";
    for (const name of ["usr", "lib", "python3.12", "site-packages", "ü".repeat(40), "x".repeat(70), "y"]) {
      keys.keyOf(prefix, name, words, 4);
      path = `${path}/${name}`;
      expect(keyAt(words, 1), path).toEqual(md5PathKey(path));
      prefix = keys.childPrefix(prefix, name);
    }
    for (const p of ["", "/a", "/a/b", path]) {
      keys.keyOfPath(p, words, 0);
      expect(keyAt(words, 0), p).toEqual(md5PathKey(p));
    }
  });

  it("reads the two int64 columns of each key in place", () => {
    const keys = new PathKeys();
    const words = new Int32Array(12);
    const paths = ["", "/lib/lhcb/ALIGNMENT/ALIGNMENT_v9r2/Phys/CommonParticles/tests/qmtest/commonparticles.qms/.svn/tmp/prop-base", "/x"];
    for (const [i, p] of paths.entries()) keys.keyOfPath(p, words, 4 * i);
    const read = int64Reader(words);
    // cvmfs-formats.md §3 test vectors.
    expect([read(0), read(2)]).toEqual([338333539836370388n, 9098107892288553193n]);
    expect([read(4), read(6)]).toEqual([4069996547627848455n, -3471940481646685085n]);
    expect([read(8), read(10)]).toEqual(md5PathKey("/x"));
  });
});
