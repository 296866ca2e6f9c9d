import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatImageMetadata, IMAGE_METADATA_PATH } from "../../src/sync/image-metadata.js";
import { createLayout, linkTarget } from "../../src/sync/layout.js";
import {
  assemblePublishedState,
  readPublishedState,
  type PublishedTreeSource,
  type TreeEntry,
} from "../../src/sync/published-state.js";
import { formatRemovalSchedule } from "../../src/sync/removal-schedule.js";
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
