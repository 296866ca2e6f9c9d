import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatImageMetadata, IMAGE_METADATA_PATH } from "../../src/published/image-metadata.js";
import { createLayout, linkTarget } from "../../src/published/layout.js";
import {
  assemblePublishedState,
  readPublishedState,
  type PublishedTreeSource,
  type TreeEntry,
} from "../../src/published/published-state.js";
import { formatRemovalSchedule } from "../../src/published/removal-schedule.js";
import { assemblePublishedIndex, formatPublishedIndex, parsePublishedIndex } from "../../src/published/published-index.js";
import { digest, hexOf, metadata } from "./_fixtures.js";

/** A PublishedTreeSource over a directory on disk, as a stratum 0 reader would offer it. */
function directorySource(root: string): PublishedTreeSource & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    async listing(p) {
      let names: string[];
      try {
        names = await readdir(path.join(root, p));
      } catch {
        return [];
      }
      const out: TreeEntry[] = [];
      for (const name of names.sort()) {
        const full = path.join(root, p, name);
        const st = await lstat(full);
        if (st.isSymbolicLink()) out.push({ name, type: "symlink", target: await readlink(full) });
        else out.push({ name, type: st.isDirectory() ? "dir" : st.isFile() ? "file" : "other" });
      }
      return out;
    },
    async readFile(p) {
      reads.push(p);
      return readFile(path.join(root, p));
    },
  };
}

describe("published state", () => {
  const layout = createLayout();
  const dirA = layout.imageDir(digest("config-a"));
  const dirB = layout.imageDir(digest("config-b"));
  const dirC = layout.imageDir(digest("config-c")); // no metadata
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "published-state-"));
    const put = async (p: string, bytes: Buffer | string) => {
      await mkdir(path.dirname(path.join(root, p)), { recursive: true });
      await writeFile(path.join(root, p), bytes);
    };
    const link = async (p: string, target: string) => {
      await mkdir(path.dirname(path.join(root, p)), { recursive: true });
      await symlink(target, path.join(root, p));
    };
    await put(".cvmfscatalog", "");
    await put(`${dirA}/${IMAGE_METADATA_PATH}`, formatImageMetadata(metadata("config-a", "manifest-a", ["docker.io/library/centos:7"])));
    await put(`${dirB}/${IMAGE_METADATA_PATH}`, formatImageMetadata(metadata("config-b", "manifest-b", ["ghcr.io/org/team/x:1"])));
    await mkdir(path.join(root, dirC, ".singularity.d"), { recursive: true });
    await put(layout.removalSchedulePath, formatRemovalSchedule({
      version: 1,
      images: { [hexOf("config-b")]: { untaggedAt: "2026-11-01T00:00:00.000Z", removeAfter: "2026-11-08T00:00:00.000Z", lastNames: ["/old:1"] } },
    }));
    await link("/library/centos:7", linkTarget("/library/centos:7", dirA));
    await link("/library/centos:latest", linkTarget("/library/centos:latest", dirA));
    // OSG writes absolute links through the mount point.
    await link("/org/team/x:1", `/cvmfs/singularity.example.org${dirB}`);
    await link("/org/gone:1", linkTarget("/org/gone:1", layout.imageDir(digest("config-gone"))));
    await link("/org/README", "../docs/readme.txt");
    await put("/docs/readme.txt", "not an image");
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("reads images, names, schedule and problems from the repository tree", async () => {
    const source = directorySource(root);
    const state = await readPublishedState(source, layout, { concurrency: 2 });
    expect([...state.images.keys()].sort()).toEqual([hexOf("config-a"), hexOf("config-b"), hexOf("config-c")].sort());
    expect(state.images.get(hexOf("config-a"))).toMatchObject({ dir: dirA, metadata: { manifestDigest: digest("manifest-a"), files: 100 } });
    expect(state.images.get(hexOf("config-c"))!.metadata).toBeUndefined();
    expect(Object.fromEntries(state.tags)).toEqual({
      "/library/centos:7": dirA,
      "/library/centos:latest": dirA,
      "/org/team/x:1": dirB,
    });
    expect(Object.fromEntries(state.dangling)).toEqual({ "/org/gone:1": layout.imageDir(digest("config-gone")) });
    expect(Object.keys(state.schedule.images)).toEqual([hexOf("config-b")]);
    expect(state.problems.sort()).toEqual([`${dirC}: no image metadata (${IMAGE_METADATA_PATH})`, expect.stringMatching(/^\/org\/gone:1: dangling link/)].sort());
    expect(source.reads).toContain(layout.removalSchedulePath);
  });

  it("builds the same state from plain data, and reports unreadable metadata as a problem", () => {
    const state = assemblePublishedState(layout, {
      listings: {
        "/": [{ name: ".images", type: "dir" }, { name: "a", type: "dir" }],
        "/a": [{ name: "b:1", type: "symlink", target: linkTarget("/a/b:1", dirA) }],
        "/.images": [{ name: dirA.split("/")[2]!, type: "dir" }],
        [path.posix.dirname(dirA)]: [{ name: path.posix.basename(dirA), type: "dir" }],
      },
      files: { [`${dirA}/${IMAGE_METADATA_PATH}`]: "{broken" },
    });
    expect(Object.fromEntries(state.tags)).toEqual({ "/a/b:1": dirA });
    expect(state.images.get(hexOf("config-a"))!.metadata).toBeUndefined();
    expect(state.problems).toEqual([expect.stringContaining("not JSON")]);
    expect(state.schedule).toEqual({ version: 1, images: {} });
  });

  it("reads an empty repository as an empty state", async () => {
    const empty = await mkdtemp(path.join(tmpdir(), "published-empty-"));
    try {
      const state = await readPublishedState(directorySource(empty), createLayout({ kind: "ducc" }));
      expect(state.images.size).toBe(0);
      expect(state.tags.size).toBe(0);
      expect(state.problems).toEqual([]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe("published state with an index", () => {
  const layout = createLayout();
  const images = ["config-a", "config-b", "config-c"].map((c, i) => ({
    hex: hexOf(c),
    dir: layout.imageDir(digest(c)),
    metadata: metadata(c, `manifest-${i}`, [`docker.io/library/img${i}:1`]),
  }));
  let root: string;
  const put = async (p: string, bytes: Buffer | string) => {
    await mkdir(path.dirname(path.join(root, p)), { recursive: true });
    await writeFile(path.join(root, p), bytes);
  };

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "published-index-"));
    for (const image of images) {
      // The files say "files: 7" and the index "files: 100": which one was read shows in the state.
      await put(`${image.dir}/${IMAGE_METADATA_PATH}`, formatImageMetadata({ ...image.metadata, files: 7 }));
      await mkdir(path.join(root, "library"), { recursive: true });
      await symlink(linkTarget(`/library/${image.hex.slice(0, 6)}:1`, image.dir), path.join(root, "library", `${image.hex.slice(0, 6)}:1`));
    }
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("round-trips through its file, one image a line, keys sorted", () => {
    const index = assemblePublishedIndex([...images].reverse());
    const bytes = formatPublishedIndex(index);
    expect(Object.keys(index.images)).toEqual(images.map((i) => i.hex).sort());
    expect(bytes.toString().split("\n")).toHaveLength(images.length + 3);
    expect(parsePublishedIndex(bytes, "x")).toEqual(index);
    expect(formatPublishedIndex(assemblePublishedIndex([])).toString()).toBe('{\n  "version": 1,\n  "images": {}\n}\n');
    expect(() => parsePublishedIndex('{"version":1,"images":{"zz":{}}}', "/.images/.index.json")).toThrow(/published-state index \/\.images\/\.index\.json: images/);
  });

  it("a current index is the only file read: no image's metadata, no nested catalog", async () => {
    await put(layout.indexPath, formatPublishedIndex(assemblePublishedIndex(images)));
    const source = directorySource(root);
    const state = await readPublishedState(source, layout);
    expect(state.index).toBe("current");
    expect(source.reads).toEqual([layout.indexPath]);
    expect([...state.images.values()].map((i) => [i.hex, i.dir, i.metadata?.files])).toEqual(images.map((i) => [i.hex, i.dir, 100]).sort());
    expect(state.tags.size).toBe(3);
    expect(state.problems).toEqual([]);
  });

  it("a stale index: images it lacks are read from their own files, entries for gone images ignored", async () => {
    const gone = { hex: hexOf("config-gone"), dir: layout.imageDir(digest("config-gone")), metadata: metadata("config-gone", "m", []) };
    await put(layout.indexPath, formatPublishedIndex(assemblePublishedIndex([images[0]!, gone])));
    const source = directorySource(root);
    const state = await readPublishedState(source, layout);
    expect(state.index).toBe("stale");
    expect(source.reads.sort()).toEqual([layout.indexPath, `${images[1]!.dir}/${IMAGE_METADATA_PATH}`, `${images[2]!.dir}/${IMAGE_METADATA_PATH}`].sort());
    expect(state.images.has(gone.hex)).toBe(false);
    expect(state.images.get(images[0]!.hex)?.metadata?.files).toBe(100);
    expect(state.images.get(images[1]!.hex)?.metadata?.files).toBe(7);
  });

  it("a broken index is a problem and every image's own file is read", async () => {
    await put(layout.indexPath, "{not json");
    const source = directorySource(root);
    const state = await readPublishedState(source, layout);
    expect(state.index).toBe("missing");
    expect(source.reads).toHaveLength(1 + images.length);
    expect([...state.images.values()].every((i) => i.metadata?.files === 7)).toBe(true);
    expect(state.problems).toEqual([expect.stringMatching(/published-state index .*not JSON \(reading each image's metadata instead\)/)]);
  });

  it("an image whose metadata is unreadable everywhere does not make a current index stale", () => {
    const broken = layout.imageDir(digest("config-broken"));
    const listings: Record<string, TreeEntry[]> = { "/": [{ name: ".images", type: "dir" }], "/.images": [{ name: ".index.json", type: "file" }] };
    for (const dir of [images[0]!.dir, broken]) {
      const fan = path.posix.dirname(dir);
      listings["/.images"]!.push({ name: path.posix.basename(fan), type: "dir" });
      (listings[fan] ??= []).push({ name: path.posix.basename(dir), type: "dir" });
    }
    const state = assemblePublishedState(layout, { listings, files: { [layout.indexPath]: formatPublishedIndex(assemblePublishedIndex([images[0]!])) } });
    expect(state.index).toBe("current");
    expect(state.problems).toEqual([`${broken}: no image metadata (${IMAGE_METADATA_PATH})`]);
  });
});
