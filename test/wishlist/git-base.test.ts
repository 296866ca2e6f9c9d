import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, WishlistError } from "../../src/errors.js";
import { entryKey } from "../../src/wishlist/entry.js";
import { diffWishlists, getWishlistChanges, readWishlistsAtRevision } from "../../src/wishlist/git-base.js";
import { checkWishlists } from "../../src/wishlist/load-wishlists.js";

describe("git base", () => {
  let repo: string;
  const git = (...args: string[]) => execa("git", args, { cwd: repo });

  beforeAll(async () => {
    repo = await mkdtemp(path.join(tmpdir(), "wishlist-git-"));
    await git("init", "-q", "-b", "main");
    await git("config", "user.email", "ci@example.org");
    await git("config", "user.name", "CI");
    await git("config", "commit.gpgsign", "false");
    await writeFile(path.join(repo, "images.txt"), "# base\ncentos:7\nns/kept:1\nns/dropped:1\n");
    await git("add", ".");
    await git("commit", "-q", "-m", "base");
    await git("tag", "base");
    // The working tree: one line removed, one moved and respelled, two added, a new DUCC file.
    await writeFile(path.join(repo, "images.txt"), "# now\nns/new:2\ndocker.io/ns/kept:1\n\ncentos:7 # still here\n");
    await mkdir(path.join(repo, "lists"));
    await writeFile(path.join(repo, "lists", "recipe.yaml"), "version: 1\ninput:\n  - 'https://ghcr.io/lab/tool:1'\n");
  });
  afterAll(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  it("reads files as they were at the revision; a file missing there is empty", async () => {
    const sources = await readWishlistsAtRevision("base", ["images.txt", path.join(repo, "lists", "recipe.yaml")], { cwd: repo });
    expect(sources).toEqual([
      { file: "images.txt", text: "# base\ncentos:7\nns/kept:1\nns/dropped:1\n" },
      { file: path.join(repo, "lists", "recipe.yaml"), text: "" },
    ]);
  });

  it("diffs old and new entries by normalised reference, keeping new-side file:line", async () => {
    const { diff, base, current } = await getWishlistChanges("HEAD", ["images.txt", "lists/recipe.yaml"], { cwd: repo });
    expect(base.problems).toEqual([]);
    expect(current.problems).toEqual([]);
    const show = (es: typeof diff.added) => es.map((e) => `${e.file}:${e.line} ${entryKey(e)}`);
    expect(show(diff.added)).toEqual(["images.txt:2 docker.io/ns/new:2", "lists/recipe.yaml:3 ghcr.io/lab/tool:1"]);
    expect(show(diff.removed)).toEqual(["images.txt:4 docker.io/ns/dropped:1"]);
    expect(show(diff.unchanged)).toEqual(["images.txt:3 docker.io/ns/kept:1", "images.txt:5 docker.io/library/centos:7"]);
  });

  it("diffs parsed entries directly too", () => {
    const a = checkWishlists([{ file: "a.txt", text: "x:1\ny:1\n" }]).entries;
    const b = checkWishlists([{ file: "b.txt", text: "docker.io/library/y:1\nz:1\n" }]).entries;
    const diff = diffWishlists(a, b);
    expect(diff.added.map((e) => `${e.file}:${e.line}`)).toEqual(["b.txt:2"]);
    expect(diff.removed.map((e) => `${e.file}:${e.line}`)).toEqual(["a.txt:1"]);
    expect(diff.unchanged.map((e) => `${e.file}:${e.line}`)).toEqual(["b.txt:1"]);
  });

  it("rejects an unknown revision and a file outside the working tree with ConfigError", async () => {
    await expect(readWishlistsAtRevision("no-such-rev", ["images.txt"], { cwd: repo })).rejects.toBeInstanceOf(ConfigError);
    await expect(readWishlistsAtRevision("--output=x", ["images.txt"], { cwd: repo })).rejects.toBeInstanceOf(ConfigError);
    await expect(readWishlistsAtRevision("base", ["../elsewhere.txt"], { cwd: repo })).rejects.toThrow(/outside the git working tree/);
    await expect(getWishlistChanges("base", ["missing.txt"], { cwd: repo })).rejects.toBeInstanceOf(WishlistError);
  });
});
