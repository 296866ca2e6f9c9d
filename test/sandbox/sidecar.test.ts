import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyLayer } from "../../src/tree/apply-layer.js";
import { createImageTree } from "../../src/tree/image-tree.js";
import type { NodeMeta } from "../../src/tree/types.js";
import { assembleSidecar, readSidecar, sidecarPath, writeSidecar } from "../../src/sandbox/sidecar.js";
import { testdir, type Testdir } from "../support/testdir.js";

let dir: Testdir;
beforeAll(async () => {
  dir = await testdir();
});
afterAll(async () => dir.cleanup());

const meta = (mode: number, extra: Partial<NodeMeta> = {}): NodeMeta => ({ mode, uid: 0, gid: 0, mtime: 10, mtimeNs: 5, ...extra });

describe("sidecar", () => {
  it("records every node's real metadata, parents first, and reads back what it wrote", async () => {
    const tree = createImageTree(meta(0o755));
    applyLayer(tree, [
      { kind: "dir", name: "etc", meta: meta(0o750, { uid: 1, gid: 2 }) },
      { kind: "file", name: "etc/shadow", meta: meta(0o640, { gid: 42, xattrs: { "user.b": Buffer.from([0xff]), "user.a": Buffer.from("a") } }), content: { size: 1, hash: "h" } },
      { kind: "hardlink", name: "etc/shadow-", target: "etc/shadow" },
      { kind: "char", name: "dev/null", meta: meta(0o666), devMajor: 1, devMinor: 3 },
      { kind: "symlink", name: "lnk", meta: meta(0o777), target: "/etc" },
    ]);
    const sidecar = assembleSidecar(tree.root, "reg/img:1");
    expect(sidecar.entries.map((e) => e.path)).toEqual(["/", "/dev", "/dev/null", "/etc", "/etc/shadow", "/etc/shadow-", "/lnk"]);
    expect(sidecar.entries[2]).toEqual({ path: "/dev/null", type: "char", mode: 0o666, uid: 0, gid: 0, mtime: 10, mtimeNs: 5, devMajor: 1, devMinor: 3, onDisk: false });
    const shadow = sidecar.entries[4]!;
    expect(Object.keys(shadow.xattrs!)).toEqual(["user.a", "user.b"]);
    expect(shadow.xattrs!["user.b"]).toBe("/w==");
    expect(shadow.inode).toBe(sidecar.entries[5]!.inode);
    expect(sidecar.entries[3]).toMatchObject({ mode: 0o750, uid: 1, gid: 2, onDisk: true });

    const path = sidecarPath(dir.join("sandbox/"));
    expect(path).toBe(dir.join("sandbox.meta.json"));
    await writeSidecar(path, sidecar);
    expect(await readSidecar(path)).toEqual(sidecar);
  });
});
