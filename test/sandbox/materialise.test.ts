import { lstat, mkdir, readFile, readdir, readlink, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import { ConfigError, UnsafePathError } from "../../src/errors.js";
import { memoryLogger } from "../../src/logger.js";
import { convertImage } from "../../src/sandbox/convert-image.js";
import { materialiseTree } from "../../src/sandbox/materialise.js";
import { readSidecar, sidecarPath } from "../../src/sandbox/sidecar.js";
import { PlainContentStore } from "../../src/sandbox/materialise-plain-store.js";
import { StagingContentStore } from "../../src/sandbox/staging-store.js";
import { createImageTree } from "../../src/tree/image-tree.js";
import { buildLayer } from "../support/layer-builder.js";
import { memoryImage } from "../support/oci-layout.js";
import { shmIsSeparate, testdir, type Testdir } from "../support/testdir.js";

let dir: Testdir;
let store: LocalContentStore;
beforeAll(async () => {
  dir = await testdir();
  store = await LocalContentStore.create(dir.join("store"));
});
afterAll(async () => {
  // The sandbox must be removable by the runner (directories u+rwx).
  await dir.cleanup();
});


/** Everything under `root` as `relative path → kind:content`, for before/after comparisons. */
async function snapshot(root: string, rel = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(join(root, rel))).sort()) {
    const p = join(rel, name);
    const st = await lstat(join(root, p));
    if (st.isDirectory()) Object.assign(out, { [p]: `dir:${(st.mode & 0o7777).toString(8)}` }, await snapshot(root, p));
    else if (st.isSymbolicLink()) out[p] = `link:${await readlink(join(root, p))}`;
    else out[p] = `file:${(st.mode & 0o7777).toString(8)}:${await readFile(join(root, p), "utf8")}`;
  }
  return out;
}

async function hostileWorkspace(name: string): Promise<{ work: string; sandbox: string; canary: string; before: Record<string, string> }> {
  const work = dir.join(name);
  const canary = join(work, "canary");
  await mkdir(join(canary, "sub"), { recursive: true });
  await writeFile(join(canary, "file"), "canary");
  await writeFile(join(canary, "sub", "deep"), "deep canary");
  return { work, sandbox: join(work, "sandbox"), canary, before: await snapshot(work) };
}

describe("materialiseTree", () => {
  it("writes hostile layers inside DIR only, with real metadata in the sidecar", async () => {
    const { work, sandbox, canary, before } = await hostileWorkspace("hostile");
    const l0 = await buildLayer([
      { type: "dir", path: "etc" },
      { type: "file", path: "etc/passwd", content: "root:x:0:0\n", uid: 0 },
      { type: "symlink", path: "a", target: "/etc" },
      { type: "symlink", path: "up", target: "../../.." },
      { type: "symlink", path: "canlink", target: "../canary" },
      { type: "symlink", path: "abscanary", target: `${canary}/file` },
      { type: "file", path: "canlink/same-layer", content: "same layer" },
      { type: "symlink", path: "abscanarydir", target: canary },
      { type: "file", path: "abscanarydir/sub/deep", content: "through an absolute host path" },
      { type: "file", path: "../../canary/pwned", content: "climb" },
      { type: "file", path: `${canary}/abs-pwned`, content: "abs" },
      { type: "hardlink", path: "outside-link", target: "../../../canary/file" },
    ]);
    const l1 = await buildLayer([
      { type: "file", path: "a/x", content: "via a" },
      { type: "file", path: "up/y", content: "via up" },
      { type: "file", path: "canlink/z", content: "via canlink" },
      { type: "file", path: "abscanary", content: "replaces the link" },
      { type: "dir", path: "ro", mode: 0o555, uid: 1000, gid: 1000 },
      { type: "file", path: "ro/f", content: "read-only", mode: 0o444, uid: 1000, gid: 1000 },
      { type: "file", path: "usr/bin/su", content: "su", mode: 0o4755 },
      { type: "dir", path: "tmp", mode: 0o1777 },
      { type: "char", path: "dev/null", mode: 0o666, devMajor: 1, devMinor: 3 },
      { type: "fifo", path: "run/initctl", mode: 0o600 },
      { type: "file", path: "cap", content: "c", pax: { "SCHILY.xattr.user.k": "v" } },
    ]);
    const l2 = await buildLayer([
      { type: "hardlink", path: "passwd-hard", target: "../../etc/passwd" },
      { type: "file", path: "../canary/file", content: "overwrite?" },
    ]);
    const logger = memoryLogger();
    const { tree } = await convertImage(memoryImage([l0, l1, l2], { reference: "localhost:5000/evil/image:1" }), {
      store,
      cacheDir: false,
      logger,
      apptainer: false,
    });
    // Following the in-image absolute link `a -> /etc` is ordinary (debug); climbing links warn.
    expect(logger.events.find((e) => e.event === "tree.resolved" && e.fields?.entry === "a/x")?.fields?.path).toBe("/etc/x");
    const warned = logger.events.filter((e) => e.event === "tree.unsafe").map((e) => e.fields?.entry);
    expect(warned).toEqual(
      expect.arrayContaining(["../../canary/pwned", `${canary}/abs-pwned`, "outside-link", "up/y", "canlink/z", "canlink/same-layer", "passwd-hard", "../canary/file"]),
    );
    const stats = await materialiseTree(tree, sandbox, { store, image: "localhost:5000/evil/image:1" });

    // Nothing outside DIR changed; only DIR and its sidecar appeared beside the canary.
    expect(await snapshot(canary)).toEqual(Object.fromEntries(Object.entries(before).filter(([k]) => k.startsWith("canary/")).map(([k, v]) => [k.slice(7), v])));
    expect((await readdir(work)).sort()).toEqual(["canary", "sandbox", "sandbox.meta.json"]);

    const inside = await snapshot(sandbox);
    expect(inside).toMatchObject({
      a: "link:/etc",
      up: "link:../../..",
      canlink: "link:../canary",
      "etc/x": "file:644:via a",
      y: "file:644:via up",
      "canary/z": "file:644:via canlink",
      "canary/pwned": "file:644:climb",
      "canary/same-layer": "file:644:same layer",
      [`${canary.slice(1)}/sub/deep`]: "file:644:through an absolute host path",
      "canary/file": "file:644:overwrite?",
      [`${canary.slice(1)}/abs-pwned`]: "file:644:abs",
      abscanary: "file:644:replaces the link",
      ro: "dir:755",
      "ro/f": "file:644:read-only",
      "usr/bin/su": "file:4755:su",
      tmp: "dir:1777",
      "passwd-hard": "file:644:root:x:0:0\n",
    });
    expect(inside["outside-link"]).toBeUndefined();
    expect(inside["dev/null"]).toBeUndefined();
    expect(inside["run/initctl"]).toBeUndefined();
    const [p1, p2] = await Promise.all([stat(join(sandbox, "etc/passwd")), stat(join(sandbox, "passwd-hard"))]);
    expect(p1.ino).toBe(p2.ino);
    expect(p1.nlink).toBe(2);
    expect(stats).toMatchObject({ hardlinks: 1, specials: 2 });

    const sidecar = await readSidecar(sidecarPath(sandbox));
    const byPath = Object.fromEntries(sidecar.entries.map((e) => [e.path, e]));
    expect(sidecar.image).toBe("localhost:5000/evil/image:1");
    expect(byPath["/ro"]).toMatchObject({ type: "dir", mode: 0o555, uid: 1000, gid: 1000, onDisk: true });
    expect(byPath["/ro/f"]).toMatchObject({ type: "file", mode: 0o444, uid: 1000 });
    expect(byPath["/dev/null"]).toMatchObject({ type: "char", mode: 0o666, devMajor: 1, devMinor: 3, onDisk: false });
    expect(byPath["/run/initctl"]).toMatchObject({ type: "fifo", onDisk: false });
    expect(byPath["/cap"]!.xattrs).toEqual({ "user.k": Buffer.from("v").toString("base64") });
    expect(byPath["/etc/passwd"]!.inode).toBe(byPath["/passwd-hard"]!.inode);
    expect((await stat(join(sandbox, "ro/f"))).mtimeMs).toBe(1_700_000_000_000);

    // The runner can remove what it made.
    await rm(sandbox, { recursive: true });
  });

  it("gives the same sandbox from a plain (uncompressed) store, copying objects", async () => {
    const layers = [
      await buildLayer([
        { type: "file", path: "bin/tool", content: "tool", mode: 0o4711 },
        { type: "hardlink", path: "bin/tool2", target: "bin/tool" },
        { type: "file", path: "same1", content: "same" },
        { type: "file", path: "same2", content: "same", mode: 0o600 },
        { type: "file", path: "big", content: { size: 3 << 20, seed: 5 } },
        { type: "symlink", path: "lnk", target: "bin/tool" },
        { type: "dir", path: "ro", mode: 0o500 },
      ]),
      await buildLayer([{ type: "file", path: "empty", content: "" }, { type: "whiteout", path: "same1" }]),
    ];
    const plain = await PlainContentStore.create(dir.join("plain-store"));
    const staging = await StagingContentStore.create(dir.join("staging"));
    const results: Record<string, string>[] = [];
    for (const [name, s] of [["from-local", store], ["from-plain", plain], ["from-staged", staging]] as const) {
      const { tree } = await convertImage(memoryImage(layers), { store: s, cacheDir: s === staging ? false : dir.join(`cache-${name}`), logger: memoryLogger(), apptainer: false });
      await materialiseTree(tree, dir.join(name), { store: s });
      results.push(await snapshot(dir.join(name)));
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    expect(results[1]).toMatchObject({ "bin/tool": "file:4711:tool", same2: "file:600:same", ro: "dir:700", empty: "file:644:" });
    for (const from of ["from-plain", "from-staged"]) {
      const [a, b, c] = await Promise.all(["bin/tool", "bin/tool2", "same2"].map((p) => stat(join(dir.join(from), p))));
      expect(a!.ino).toBe(b!.ino);
      expect(c!.nlink).toBe(1);
    }
    // Staged objects were moved, not copied: only the whited-out `same1` is left behind.
    const left = await readdir(dir.join("staging"));
    expect(left).toHaveLength(1);
    expect(await readFile(join(dir.join("staging"), left[0]!), "utf8")).toBe("same");
    expect((await stat(join(dir.join("from-staged"), "big"))).mtimeMs).toBe((await stat(join(dir.join("from-local"), "big"))).mtimeMs);
    // The cache works with the plain store too: a second convert replays both layers.
    const again = await convertImage(memoryImage(layers), { store: plain, cacheDir: dir.join("cache-from-plain"), logger: memoryLogger(), apptainer: false });
    expect(again.stats.layersFromCache).toBe(2);
  });

  it("moves a staged object to its first file and copies it for a separate file with the same bytes", async () => {
    const staging = await StagingContentStore.create(dir.join("staging-shared"));
    const content = await staging.putFile(Readable.from([Buffer.from("shared bytes")]));
    const tree = createImageTree();
    const meta = { uid: 0, gid: 0, mtime: 1_000_000, mtimeNs: 0 };
    tree.root.children.set("a", { type: "file", ...meta, mode: 0o755, content, inode: 1 });
    tree.root.children.set("b", { type: "file", ...meta, mode: 0o640, content, inode: 2 });
    tree.root.children.set("c", { type: "file", ...meta, mode: 0o755, content, inode: 1 });
    const out = dir.join("shared");
    const stats = await materialiseTree(tree.root, out, { store: staging });
    expect(stats).toMatchObject({ files: 2, hardlinks: 1 });
    expect(await snapshot(out)).toEqual({ a: "file:755:shared bytes", b: "file:640:shared bytes", c: "file:755:shared bytes" });
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((p) => stat(join(out, p))));
    expect(a!.ino).toBe(c!.ino);
    expect(b!.ino).not.toBe(a!.ino);
    expect(b!.mtimeMs).toBe(1_000_000_000);
    expect(await readdir(dir.join("staging-shared"))).toEqual([]);
  });

  it.skipIf(!shmIsSeparate())("copies staged objects when the sandbox is on another filesystem than the staging directory", async () => {
    const shm = await testdir({}, "cis-staging-", "/dev/shm");
    try {
      const staging = await StagingContentStore.create(shm.join("staging"));
      const layers = [await buildLayer([{ type: "file", path: "bin/tool", content: "tool", mode: 0o4711, mtime: 1_600_000_000 }, { type: "hardlink", path: "bin/tool2", target: "bin/tool" }])];
      const { tree } = await convertImage(memoryImage(layers), { store: staging, cacheDir: false, logger: memoryLogger(), apptainer: false });
      const out = dir.join("cross-device");
      await mkdir(out);
      expect((await stat(out)).dev).not.toBe((await stat(shm.path)).dev);
      await materialiseTree(tree, out, { store: staging });
      expect(await snapshot(out)).toEqual({ bin: "dir:755", "bin/tool": "file:4711:tool", "bin/tool2": "file:4711:tool" });
      const [a, b] = await Promise.all([stat(join(out, "bin/tool")), stat(join(out, "bin/tool2"))]);
      expect(a.ino).toBe(b.ino);
      expect(a.mtimeMs).toBe(1_600_000_000_000);
    } finally {
      await shm.cleanup();
    }
  });

  it("refuses a tree holding a name that is not a single path component, outside nothing touched", async () => {
    const { work, sandbox, before } = await hostileWorkspace("bad-names");
    for (const bad of ["..", "x/../../canary", ".", ""]) {
      const tree = createImageTree();
      const content = { size: 1, hash: "0".repeat(40) };
      tree.root.children.set(bad, { type: "dir", mode: 0o755, uid: 0, gid: 0, mtime: 0, mtimeNs: 0, children: new Map([["f", { type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, mtimeNs: 0, content, inode: 1 }]]) });
      await expect(materialiseTree(tree.root, sandbox, { store })).rejects.toThrow(UnsafePathError);
      await rm(sandbox, { recursive: true, force: true });
    }
    // A file whose name reaches through a symlink the tree itself makes, staged: refused too.
    const staging = await StagingContentStore.create(join(work, "..", "bad-names-staging"));
    const content = await staging.putFile(Readable.from([Buffer.from("escaped")]));
    const tree = createImageTree();
    tree.root.children.set("l", { type: "symlink", mode: 0o777, uid: 0, gid: 0, mtime: 0, mtimeNs: 0, target: join(work, "canary") });
    tree.root.children.set("l/x", { type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, mtimeNs: 0, content, inode: 1 });
    await expect(materialiseTree(tree.root, sandbox, { store: staging })).rejects.toThrow(UnsafePathError);
    await rm(sandbox, { recursive: true, force: true });
    expect(await snapshot(work)).toEqual(before);
  });

  it("refuses a DIR that is not empty or is a symlink, and writes nothing", async () => {
    const work = dir.join("busy");
    await mkdir(join(work, "sandbox"), { recursive: true });
    await writeFile(join(work, "sandbox", "x"), "x");
    const { tree } = await convertImage(memoryImage([await buildLayer([{ type: "file", path: "f", content: "f" }])]), {
      store,
      cacheDir: false,
      logger: memoryLogger(),
      apptainer: false,
    });
    await expect(materialiseTree(tree, join(work, "sandbox"), { store })).rejects.toThrow(ConfigError);
    const { symlink } = await import("node:fs/promises");
    await mkdir(join(work, "target"));
    await symlink(join(work, "target"), join(work, "link"));
    await expect(materialiseTree(tree, join(work, "link"), { store })).rejects.toThrow(/not a directory/);
    expect(await readdir(join(work, "target"))).toEqual([]);
  });
});
