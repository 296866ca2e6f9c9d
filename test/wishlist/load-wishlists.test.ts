import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WishlistError } from "../../src/errors.js";
import { memoryLogger } from "../../src/logger.js";
import { entryKey } from "../../src/wishlist/entry.js";
import {
  assembleWishlists,
  checkWishlists,
  detectWishlistFormat,
  loadWishlists,
} from "../../src/wishlist/load-wishlists.js";
import { expandWishlist } from "../../src/wishlist/expand-wishlist.js";
import type { ImageReference } from "../../src/wishlist/reference.js";

/**
 * A large list in OSG's style, generated from patterns seen in such lists: section comments,
 * Docker Hub short forms, five registries with deep paths and ports, wildcard and glob tags,
 * digests, commented-out lines, trailing comments, stray whitespace and blank lines.
 */
function generateOsgStyleList(): { text: string; expected: number } {
  const lines: string[] = ["", "# Images synchronised to the repository.", ""];
  let expected = 0;
  const add = (line: string): void => {
    lines.push(line);
    expected++;
  };
  const hex = (i: number): string => (i.toString(16).padStart(2, "0") + "a1b2c3d4").repeat(8).slice(0, 64);
  for (const distro of ["centos", "debian", "ubuntu", "fedora", "alpine", "rockylinux", "almalinux"]) {
    add(distro);
    add(`${distro}:${distro.length % 2 === 0 ? "stable" : "7"}`);
  }
  const tags = ["latest", "v1.0", "v2.3.1", "2024-05-01", "el9", "stable_29Sep2021_el7_py3", "3.3-testing-el7", "rhel8-itb", "cuda11.8", "1.16.12"];
  const globs = ["*", "v*", "v2.0.*", "*-stable", "rhel8-m*", "osg*", "3.1[0-9]", "release-?"];
  const registries = ["", "ghcr.io/", "quay.io/", "hub.experiment.example.org/", "containers.collab.example.edu:5050/"];
  for (let g = 0; g < 40; g++) {
    lines.push("", `# Group ${g}: user-defined images (contact: someone${g})`);
    if (g % 7 === 0) lines.push(`#retired${g}/old-image:latest`);
    for (let i = 0; i < 11; i++) {
      const reg = registries[(g + i) % registries.length]!;
      const ns = reg.startsWith("containers.") ? `user.name${g}/project-${i % 3}/sub` : `group${g}`;
      const name = `image_${i}-tool${i % 4 === 0 ? ".export" : ""}`;
      const n = g * 11 + i;
      if (n % 13 === 0) add(`${reg}${ns}/${name}@sha256:${hex(n)}`);
      else if (n % 17 === 0) add(`${reg}${ns}/${name}:${tags[n % tags.length]}@sha256:${hex(n)}`);
      else if (n % 5 === 0) add(`${reg}${ns}/${name}:${globs[n % globs.length]}`);
      else if (n % 9 === 0) add(`  ${reg}${ns}/${name}:${tags[n % tags.length]}   # pinned for a paper`);
      else if (n % 4 === 0) add(`${reg}${ns}/${name}`);
      else add(`${reg}${ns}/${name}:${tags[n % tags.length]}`);
    }
  }
  lines.push("");
  return { text: lines.join("\n"), expected };
}

describe("checkWishlists / assembleWishlists", () => {
  it("accepts a large OSG-style list with zero errors", () => {
    const { text, expected } = generateOsgStyleList();
    expect(text.split("\n").length).toBeGreaterThan(480);
    const check = checkWishlists([{ file: "images.txt", text }]);
    expect(check.problems).toEqual([]);
    expect(check.duplicates).toEqual([]);
    expect(check.entries).toHaveLength(expected);
    const registries = new Set(check.entries.map((e) => e.ref.registry));
    expect([...registries].sort()).toEqual(["containers.collab.example.edu:5050", "docker.io", "ghcr.io", "hub.experiment.example.org", "quay.io"]);
    expect(check.entries.filter((e) => e.tagPattern !== undefined).length).toBeGreaterThan(30);
    expect(check.entries.filter((e) => e.ref.digest !== undefined).length).toBeGreaterThan(30);
  });

  it("reports five kinds of bad line, across two files, in one WishlistError", () => {
    const osg = ["centos:7", "Ubuntu:22.04", "two refs:1 here", "ok/x:1", "bad/digest@sha256:abc"].join("\n");
    const ducc = ["version: 1", "input:", "  - 'https://ghcr.io/a//b:1'", "  - 'https://ghcr.io/ok/y:2'", "  - 'https://ghcr.io/ok/z:-dash'"].join("\n");
    let error: unknown;
    try {
      assembleWishlists([
        { file: "images.txt", text: osg },
        { file: "recipe.yaml", text: ducc },
      ]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WishlistError);
    const err = error as WishlistError;
    expect(err.code).toBe("E_WISHLIST");
    expect(err.exitCode).toBe(2);
    expect(err.problems.map((p) => `${p.file}:${p.line}`)).toEqual(["images.txt:2", "images.txt:3", "images.txt:5", "recipe.yaml:3", "recipe.yaml:5"]);
    expect(err.message).toContain("wishlist has 5 error(s)");
    for (const where of ["images.txt:2: ", "images.txt:3: ", "images.txt:5: ", "recipe.yaml:3: ", "recipe.yaml:5: "]) {
      expect(err.message).toContain(where);
    }
  });

  it("reports duplicates (same normalised reference, also across files) as warnings and keeps the first", () => {
    const logger = memoryLogger();
    const entries = assembleWishlists(
      [
        { file: "a.txt", text: "centos:7\ndocker.io/library/centos:7\nns/x:*\n" },
        { file: "b.yaml", text: "version: 1\ninput:\n  - 'https://registry.hub.docker.com/library/centos:7'\n  - 'https://registry.hub.docker.com/ns/x:*'\n" },
      ],
      logger,
    );
    expect(entries.map((e) => `${e.file}:${e.line} ${entryKey(e)}`)).toEqual(["a.txt:1 docker.io/library/centos:7", "a.txt:3 docker.io/ns/x:*"]);
    const dups = logger.events.filter((e) => e.event === "wishlist.duplicate");
    expect(dups.map((e) => e.level)).toEqual(["warn", "warn", "warn"]);
    expect(dups.map((e) => e.message)).toEqual([
      "a.txt:2: docker.io/library/centos:7 already listed at a.txt:1",
      "b.yaml:3: docker.io/library/centos:7 already listed at a.txt:1",
      "b.yaml:4: docker.io/ns/x:* already listed at a.txt:3",
    ]);
  });

  it("detects the format by extension, then by content", () => {
    expect(detectWishlistFormat("x.yaml", "")).toBe("ducc");
    expect(detectWishlistFormat("x.YML", "")).toBe("ducc");
    expect(detectWishlistFormat("images.txt", "version: 1\ninput: []")).toBe("osg");
    expect(detectWishlistFormat("wishlist", "version: 1\ninput:\n - a")).toBe("ducc");
    expect(detectWishlistFormat("wishlist", "centos:7\n")).toBe("osg");
  });
});

describe("loadWishlists", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "wishlist-load-"));
    await writeFile(path.join(dir, "images.txt"), "# list\ncentos:7\nghcr.io/a/b:1 # c\n");
    await writeFile(path.join(dir, "bad.txt"), "ok:1\nNOT OK\n");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads files from disk", async () => {
    const entries = await loadWishlists([path.join(dir, "images.txt")]);
    expect(entries.map((e) => [e.line, entryKey(e)])).toEqual([
      [2, "docker.io/library/centos:7"],
      [3, "ghcr.io/a/b:1"],
    ]);
  });

  it("reports a missing file together with the other files' bad lines", async () => {
    const missing = path.join(dir, "missing.txt");
    const err = await loadWishlists([missing, path.join(dir, "bad.txt")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WishlistError);
    expect((err as WishlistError).problems).toEqual([
      { file: missing, line: 0, message: "cannot read wishlist: file not found" },
      { file: path.join(dir, "bad.txt"), line: 2, message: 'more than one word on a line: "NOT OK" (one image reference a line)' },
    ]);
  });
});

describe("expandWishlist", () => {
  it("expands patterns through one tag listing per repository, explicit lines first", async () => {
    const check = checkWishlists([{ file: "w.txt", text: "ns/app:v1.*\nns/app:3.1[0-9]\nns/app:v1.2\nns/other:*-stable\nns/none:zzz*\ncentos:7\n" }]);
    const calls: string[] = [];
    const tags: Record<string, string[]> = {
      "docker.io/ns/app": ["v1.2", "v1.10", "v1.1", "v2.0", "3.15", "3.1", "3.19", "latest"],
      "docker.io/ns/other": ["a-stable", "b-beta", "c-stable"],
      "docker.io/ns/none": ["1"],
    };
    const listTags = async (ref: ImageReference): Promise<string[]> => {
      calls.push(`${ref.registry}/${ref.repository}`);
      expect(ref.tag).toBeUndefined();
      return tags[`${ref.registry}/${ref.repository}`] ?? [];
    };
    const logger = memoryLogger();
    const expanded = await expandWishlist(check.entries, listTags, { logger });
    expect(expanded.map((x) => `${x.entry.line} ${x.ref.repository}:${x.ref.tag}`)).toEqual([
      "3 ns/app:v1.2",
      "6 library/centos:7",
      "1 ns/app:v1.1",
      "1 ns/app:v1.10",
      "2 ns/app:3.15",
      "2 ns/app:3.19",
      "4 ns/other:a-stable",
      "4 ns/other:c-stable",
    ]);
    expect(calls).toEqual(["docker.io/ns/app", "docker.io/ns/other", "docker.io/ns/none"]);
    expect(logger.events.map((e) => [e.event, e.message])).toEqual([["wishlist.pattern-empty", 'w.txt:5: no tag of docker.io/ns/none matches "zzz*"']]);
  });

  it("lets a registry failure propagate", async () => {
    const check = checkWishlists([{ file: "w.txt", text: "ns/app:*\n" }]);
    await expect(expandWishlist(check.entries, () => Promise.reject(new Error("registry down")))).rejects.toThrow("registry down");
  });
});
