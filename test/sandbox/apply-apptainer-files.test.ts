import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CompressPool } from "../../src/cvmfs/objects/compress-pool.js";
import type { FileContent } from "../../src/content/content-store.js";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import type { ImageConfig } from "../../src/registry/image.js";
import { assembleApptainerFiles } from "../../src/sandbox/apptainer-files.js";
import { applyApptainerFiles } from "../../src/sandbox/apply-apptainer-files.js";
import { createImageTree, lookupNode, walkTree } from "../../src/tree/image-tree.js";
import type { DirNode, FileNode, NodeMeta, TreeNode } from "../../src/tree/types.js";

const T_IMAGE = 1_600_000_000;
const T_BUILD = 1_700_000_000;
const config: ImageConfig = { architecture: "amd64", config: { Env: ["A=1"], Cmd: ["/bin/sh"] } };
const files = assembleApptainerFiles({
  config,
  reference: "example.org/team/tool:2",
  manifestDigest: `sha256:${"a".repeat(64)}`,
  buildDate: new Date(T_BUILD * 1000),
});

let root = "";
let pool: CompressPool;
let store: LocalContentStore;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "cis-sandbox-"));
  pool = new CompressPool({ size: 1 });
  store = await LocalContentStore.create(root, { pool });
});
afterAll(async () => {
  await pool.close();
  await rm(root, { recursive: true, force: true });
});

const meta = (over: Partial<NodeMeta> = {}): NodeMeta => ({ mode: 0o755, uid: 0, gid: 0, mtime: T_IMAGE, mtimeNs: 0, ...over });
const dir = (children: Record<string, TreeNode> = {}, over: Partial<NodeMeta> = {}): DirNode => ({
  type: "dir",
  ...meta(over),
  children: new Map(Object.entries(children)),
});
const link = (target: string): TreeNode => ({ type: "symlink", ...meta({ mode: 0o777 }), target });
let inode = 1;
async function file(text: string, over: Partial<NodeMeta> = {}): Promise<FileNode> {
  const content = await store.putFile(Readable.from([Buffer.from(text)]));
  return { type: "file", ...meta({ mode: 0o644, ...over }), content, inode: inode++ };
}
async function read(content: FileContent): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of store.readFile(content)) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString("utf8");
}
function at(tree: DirNode, path: string): TreeNode {
  const node = lookupNode(tree, path);
  if (!node) throw new Error(`${path} missing`);
  return node;
}
async function textAt(tree: DirNode, path: string): Promise<string> {
  const node = at(tree, path);
  if (node.type !== "file") throw new Error(`${path} is a ${node.type}`);
  return read(node.content);
}

describe("applyApptainerFiles", () => {
  it("adds every file to a bare image, creating what is missing", async () => {
    const tree = dir({ bin: dir({ sh: await file("#!elf", { mode: 0o755 }) }) }, { mode: 0o555 });
    await applyApptainerFiles(tree, files, store, T_BUILD);

    const listing = [...walkTree(tree)].map(([p, n]) => `${p} ${n.type} ${n.mode.toString(8)}`);
    expect(listing).toContain("/ dir 755"); // owner write added, as Apptainer does
    for (const f of files) {
      const node = at(tree, f.path);
      expect(`${f.path} ${node.type} ${node.mode.toString(8)}`).toBe(`${f.path} ${f.type} ${f.mode.toString(8)}`);
      expect([node.uid, node.gid, node.mtime]).toEqual([0, 0, T_BUILD]);
      if (f.type === "file") expect(await textAt(tree, f.path)).toBe(String(f.content));
      if (f.type === "symlink") expect(node.type === "symlink" && node.target).toBe(f.target);
    }
    expect(at(tree, "/bin/sh").mtime).toBe(T_IMAGE);
    const inodes = [...walkTree(tree)].flatMap(([, n]) => (n.type === "file" ? [n.inode] : []));
    expect(new Set(inodes).size).toBe(inodes.length);
  });

  it("treats an image's own paths as Apptainer's build does", async () => {
    const tree = dir({
      ".singularity.d": dir({ runscript: await file("old runscript"), Singularity: await file("bootstrap: library\n") }),
      environment: await file("image's own file"),
      singularity: link("/somewhere/else"),
      tmp: dir({}, { mode: 0o1777 }),
      var: dir({ tmp: link("../tmp") }),
      etc: dir({ hosts: await file("127.0.0.1 image\n", { uid: 7, mode: 0o600 }), "resolv.conf": link("../run/resolv.conf") }),
      run: dir({ "resolv.conf": await file("nameserver 10.0.0.1\n") }),
    });
    const tmpBefore = at(tree, "/tmp");
    await applyApptainerFiles(tree, files, store, T_BUILD);

    // kept: existing directories and non-symlink files where only links are made
    expect(at(tree, "/tmp")).toBe(tmpBefore);
    expect(at(tree, "/tmp").mode).toBe(0o1777);
    expect(at(tree, "/var/tmp")).toMatchObject({ type: "symlink", target: "../tmp" });
    expect(await textAt(tree, "/environment")).toBe("image's own file");
    // re-pointed: an existing symlink
    expect(at(tree, "/singularity")).toMatchObject({ type: "symlink", target: ".singularity.d/runscript" });
    // emptied in place, through the link, owner kept
    expect(await textAt(tree, "/etc/hosts")).toBe("");
    expect(at(tree, "/etc/hosts")).toMatchObject({ mode: 0o644, uid: 7 });
    expect(at(tree, "/etc/resolv.conf")).toMatchObject({ type: "symlink", target: "../run/resolv.conf" });
    expect(await textAt(tree, "/run/resolv.conf")).toBe("");
    // replaced: .singularity.d contents; the old definition goes to the history
    expect(await textAt(tree, "/.singularity.d/runscript")).toContain("OCI_CMD='\"/bin/sh\"'");
    expect(await textAt(tree, "/.singularity.d/Singularity")).toBe("bootstrap: docker\nfrom: example.org/team/tool:2\n\n");
    expect(await textAt(tree, "/.singularity.d/bootstrap_history/Apptainer0")).toBe("bootstrap: library\n");
  });

  it("keeps an image's own /etc/hosts when asked to", async () => {
    const kept = assembleApptainerFiles({ config, reference: "x:1", manifestDigest: "sha256:00", keepImageEtcFiles: true });
    const tree = dir({ etc: dir({ hosts: await file("127.0.0.1 image\n", { uid: 7 }) }) });
    await applyApptainerFiles(tree, kept, store, T_BUILD);
    expect(await textAt(tree, "/etc/hosts")).toBe("127.0.0.1 image\n");
    expect(at(tree, "/etc/hosts")).toMatchObject({ uid: 7, mtime: T_IMAGE });
    expect(await textAt(tree, "/etc/resolv.conf")).toBe("");
  });

  it("follows a directory symlink inside the image, as os.Root does", async () => {
    const tree = dir({ etc: link("/usr/etc"), usr: dir({ etc: dir() }) });
    await applyApptainerFiles(tree, files, store, T_BUILD);
    expect(at(tree, "/etc")).toMatchObject({ type: "symlink" });
    expect(await textAt(tree, "/usr/etc/hosts")).toBe("");
  });

  it("leaves unreachable paths alone but always writes .singularity.d", async () => {
    const tree = dir({ etc: link("/etc"), ".singularity.d": await file("not a directory") });
    await applyApptainerFiles(tree, files, store, T_BUILD);
    expect(at(tree, "/etc")).toMatchObject({ type: "symlink", target: "/etc" });
    const dangling = dir({ etc: dir({ "resolv.conf": link("../run/systemd/resolve/stub-resolv.conf") }) });
    await applyApptainerFiles(dangling, files, store, T_BUILD);
    expect(at(dangling, "/etc/resolv.conf")).toMatchObject({ type: "symlink" });
    expect(lookupNode(dangling, "/run")).toBeUndefined();
    expect(at(tree, "/.singularity.d").type).toBe("dir");
    expect(await textAt(tree, "/.singularity.d/env/10-docker2singularity.sh")).toBe('#!/bin/sh\nexport A="${A:-"1"}"\n');
  });

  it("numbers new files from an ImageTree's counter and advances it", async () => {
    const tree = createImageTree();
    tree.nextInode = 100;
    await applyApptainerFiles(tree, files, store, T_BUILD);
    const inodes = [...walkTree(tree.root)].flatMap(([, n]) => (n.type === "file" ? [n.inode] : [])).sort((a, b) => a - b);
    const fileCount = files.filter((f) => f.type === "file").length;
    expect(inodes).toEqual(Array.from({ length: fileCount }, (_, i) => 100 + i));
    expect(tree.nextInode).toBe(100 + fileCount);
  });
});
