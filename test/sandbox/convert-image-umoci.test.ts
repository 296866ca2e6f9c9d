/**
 * Differential test against `umoci unpack --rootless` (0.4.7, the Debian package): the same test
 * images, written as an OCI image layout, are unpacked by umoci and converted by us; the trees
 * must agree on paths, types, symlink targets, file bytes, modes, owners, file mtimes and
 * hardlink groups. What umoci records and how it is compared:
 * - umoci writes `rootfs/` plus an mtree manifest (`sha256_<manifest>.mtree`) with type, mode,
 *   link, nlink, tar_time, sha256digest and xattrs of every path. Rootless, it cannot chown: the
 *   real owner goes into the `user.rootlesscontainers` xattr (protobuf: 1 uid, 2 gid; absent
 *   for paths owned by the mapped root), which the mtree lists, so owners are read from there.
 * - Devices: rootless umoci leaves an empty regular file in their place; our tree keeps a device
 *   node. Compared as "an empty file with the same mode" on umoci's side.
 * - Directory mtimes are not compared (umoci gives implied directories the wall clock and
 *   updates parents as it writes; ours are deterministic); file and symlink mtimes are.
 * - umoci 0.4.7 reads gzip and plain layers only: zstd variants must give the very tree the
 *   gzip variant gave, which umoci checked.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import { memoryLogger } from "../../src/logger.js";
import { convertImage } from "../../src/sandbox/convert-image.js";
import { lookupNode, walkTree } from "../../src/tree/image-tree.js";
import { materialiseTree } from "../../src/sandbox/materialise.js";
import type { DirNode } from "../../src/tree/types.js";
import { buildLayer, type Compression, type TestEntry } from "../support/layer-builder.js";
import { memoryImage, openOciLayout, writeOciLayout } from "../support/oci-layout.js";
import { testdir, type Testdir } from "../support/testdir.js";

interface Row {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  link?: string;
  sha256?: string;
  mtime?: number;
  nlink?: number;
}

/** Decode mtree's vis(3) octal escapes. */
const unvis = (s: string): string => Buffer.from(s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), "latin1").toString("utf8");

/** The owner in a `user.rootlesscontainers` value (protobuf varints: field 1 uid, field 2 gid). */
function rootlessOwner(b64: string): { uid: number; gid: number } {
  const buf = Buffer.from(b64, "base64");
  const out = { uid: 0, gid: 0 };
  let i = 0;
  while (i < buf.length) {
    const key = buf[i++]!;
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    if (v === 0xffffffff) v = 0; // "no change": the mapped root
    if (key >> 3 === 1) out.uid = v;
    if (key >> 3 === 2) out.gid = v;
  }
  return out;
}

/** Path → row from a gomtree manifest. */
function parseMtree(text: string): Map<string, Row> {
  const rows = new Map<string, Row>();
  let defaults: Record<string, string> = {};
  let cwd: string | undefined;
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) continue;
    const [first, ...rest] = t.split(/\s+/);
    const kw = Object.fromEntries(rest.map((r) => [r.slice(0, r.indexOf("=")), r.slice(r.indexOf("=") + 1)]));
    if (first === "/set") {
      defaults = { ...defaults, ...kw };
      continue;
    }
    if (first === "..") {
      cwd = cwd === "/" || cwd === undefined ? "/" : cwd.slice(0, cwd.lastIndexOf("/")) || "/";
      continue;
    }
    const k = { ...defaults, ...kw };
    const name = unvis(first!);
    const path = name === "." ? "/" : cwd === "/" || cwd === undefined ? `/${name}` : `${cwd}/${name}`;
    const owner = k["xattr.user.rootlesscontainers"] ? rootlessOwner(k["xattr.user.rootlesscontainers"]) : { uid: Number(k.uid), gid: Number(k.gid) };
    rows.set(path, {
      type: k.type === "link" ? "symlink" : k.type!,
      mode: parseInt(k.mode!, 8),
      ...owner,
      ...(k.link !== undefined ? { link: unvis(k.link) } : {}),
      ...(k.sha256digest ? { sha256: k.sha256digest } : {}),
      ...(k.type !== "dir" ? { mtime: Math.floor(Number(k.tar_time)) } : {}),
      nlink: Number(k.nlink ?? 1),
    });
    if (k.type === "dir") cwd = path;
  }
  return rows;
}

async function ourRows(root: DirNode, store: LocalContentStore): Promise<{ rows: Map<string, Row>; inodes: Map<string, number> }> {
  const rows = new Map<string, Row>();
  const inodes = new Map<string, number>();
  for (const [path, n] of walkTree(root)) {
    const row: Row = { type: n.type, mode: n.mode, uid: n.uid, gid: n.gid };
    if (n.type === "symlink") row.link = n.target;
    if (n.type !== "dir") row.mtime = n.mtime;
    if (n.type === "file") {
      const h = createHash("sha256");
      for await (const c of store.readFile(n.content)) h.update(c as Buffer);
      row.sha256 = h.digest("hex");
      inodes.set(path, n.inode);
    }
    if (n.type === "char" || n.type === "block") {
      // What rootless umoci leaves for a device: an empty regular file.
      row.type = "file";
      row.sha256 = createHash("sha256").digest("hex");
    }
    rows.set(path, row);
  }
  return { rows, inodes };
}

function lookupType(root: DirNode, path: string): string {
  const n = lookupNode(root, path);
  return n?.type ?? "missing";
}

/** Relative path → `kind:mode[:sha256]` / `link:target` of everything under `root`. */
async function diskSnapshot(root: string, rel = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(join(root, rel))).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(root, p));
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) Object.assign(out, { [p]: `dir:${mode}` }, await diskSnapshot(root, p));
    else if (st.isSymbolicLink()) out[p] = `link:${await readlink(join(root, p))}`;
    else if (st.isFile()) out[p] = `file:${mode}:${createHash("sha256").update(await readFile(join(root, p))).digest("hex")}`;
    else out[p] = `special:${mode}`;
  }
  return out;
}

const IMAGES: Record<string, TestEntry[][]> = {
  Basics: [
    [
      { type: "dir", path: "etc", mode: 0o755 },
      { type: "file", path: "etc/passwd", content: "root:x:0:0\n", uid: 1000, gid: 1001, mode: 0o4755 },
      { type: "file", path: "etc/group", content: "root:x:0:\n", gid: 42, mode: 0o2640 },
      { type: "symlink", path: "etc/mtab", target: "/proc/self/mounts" },
      { type: "hardlink", path: "etc/passwd-", target: "etc/passwd" },
      { type: "dir", path: "tmp", mode: 0o1777 },
      { type: "dir", path: "ro", mode: 0o555, uid: 7 },
      { type: "file", path: "ro/f", content: "read only", mode: 0o444 },
      { type: "char", path: "dev/null", devMajor: 1, devMinor: 3, mode: 0o666 },
      { type: "block", path: "dev/sda", devMajor: 8, devMinor: 0, mode: 0o660, gid: 6 },
      { type: "fifo", path: "run/fifo", mode: 0o600 },
      { type: "file", path: "implied/deep/f", content: "implied parents" },
      { type: "file", path: `long/${"p".repeat(120)}/${"q".repeat(60)}`, content: "pax long name" },
      { type: "file", path: `gnu/${"g".repeat(130)}`, content: "gnu long name", gnuLongName: true },
      { type: "symlink", path: "longlink", target: `/${"t".repeat(140)}` },
      { type: "file", path: "empty", content: "" },
      { type: "file", path: "big", content: { size: 300_000, seed: 9 } },
    ],
  ],
  Whiteouts: [
    [
      { type: "file", path: "a/x", content: "x" },
      { type: "file", path: "a/y", content: "y" },
      { type: "file", path: "d/old", content: "old" },
      { type: "file", path: "d/sub/deep", content: "deep" },
      { type: "file", path: "p/child", content: "child" },
      { type: "file", path: "h/target", content: "target" },
      { type: "hardlink", path: "h/link", target: "h/target" },
      { type: "file", path: "dup", content: "first" },
      { type: "file", path: "dup", content: "second", mode: 0o600 },
    ],
    [
      { type: "whiteout", path: "a/x" },
      { type: "opaque", path: "d" },
      { type: "file", path: "d/new", content: "new" },
      { type: "file", path: "p", content: "p is a file now" },
      { type: "whiteout", path: "h/target" },
      { type: "hardlink", path: "h2", target: "h/link" },
      { type: "whiteout", path: "never/existed" },
      { type: "file", path: "w/kept", content: "kept" },
      { type: "whiteout", path: "w/kept" },
    ],
    [
      { type: "dir", path: "p", mode: 0o700 },
      { type: "file", path: "p/again", content: "again" },
      { type: "dir", path: "d", mode: 0o750, uid: 3 },
      { type: "whiteout", path: "a" },
      { type: "file", path: "a", content: "a is a file" },
    ],
  ],
  Tricks: [
    [
      { type: "dir", path: "etc" },
      { type: "file", path: "etc/passwd", content: "p" },
      { type: "symlink", path: "a", target: "/etc" },
      { type: "symlink", path: "up", target: "../../.." },
      { type: "file", path: "../../climb", content: "climb" },
      { type: "file", path: "/abs", content: "abs" },
      { type: "file", path: "a/same-layer", content: "through a" },
    ],
    [
      { type: "file", path: "a/x", content: "via a" },
      { type: "file", path: "up/y", content: "via up" },
      { type: "hardlink", path: "hl", target: "../../etc/passwd" },
      { type: "hardlink", path: "hl2", target: "a/passwd" },
      { type: "whiteout", path: "a/same-layer" },
    ],
  ],
};

let dir: Testdir;
let store: LocalContentStore;
beforeAll(async () => {
  dir = await testdir();
  store = await LocalContentStore.create(dir.join("store"));
});
afterAll(async () => dir.cleanup());

async function layers(entries: TestEntry[][], compression: Compression): Promise<Awaited<ReturnType<typeof buildLayer>>[]> {
  return Promise.all(entries.map((e) => buildLayer(e, { compression })));
}

describe("convertImage against umoci unpack --rootless", () => {
  for (const [name, entries] of Object.entries(IMAGES)) {
    it(`${name}: same tree as umoci (gzip and plain), and zstd gives the same tree`, async () => {
      const built = await layers(entries, "gzip");
      built[built.length - 1] = (await layers([entries.at(-1)!], "none"))[0]!;
      const layout = dir.join(`${name}-layout`);
      await writeOciLayout(layout, built, { refName: "latest" });
      const bundle = dir.join(`${name}-bundle`);
      execFileSync("umoci", ["--log", "error", "unpack", "--rootless", "--image", `${layout}:latest`, bundle], { stdio: "pipe" });
      const mtreeFile = readdirSync(bundle).find((f) => f.endsWith(".mtree"))!;
      const theirs = parseMtree(readFileSync(join(bundle, mtreeFile), "utf8"));

      // Read back through the file-backed Image over the very layout umoci read.
      const { tree } = await convertImage(await openOciLayout(layout, "latest"), { store, cacheDir: false, logger: memoryLogger(), apptainer: false });
      const ours = await ourRows(tree, store);
      expect(theirs.size).toBeGreaterThan(8);
      theirs.delete("/");
      ours.rows.delete("/");
      expect([...ours.rows.keys()].sort()).toEqual([...theirs.keys()].sort());
      for (const [path, row] of theirs) {
        const { nlink, ...comparable } = row;
        expect({ path, ...ours.rows.get(path) }).toEqual({ path, ...comparable });
        // Hardlink groups: a path umoci links has another path with our same inode.
        if (nlink && nlink > 1 && row.type === "file") {
          const ino = ours.inodes.get(path);
          expect([...ours.inodes.entries()].filter(([, i]) => i === ino).length).toBe(nlink);
        }
      }

      // On disk: our sandbox holds what umoci's rootfs holds, bar device nodes and fifos (kept in
      // the sidecar only) and the u+rwx / u+rw the materialiser adds.
      const sandbox = dir.join(`${name}-sandbox`);
      await materialiseTree(tree, sandbox, { store });
      const specials = new Set([...ours.rows].filter(([p]) => ["char", "block", "fifo"].includes(lookupType(tree, p))).map(([p]) => p.slice(1)));
      const umociDisk = Object.fromEntries(Object.entries(await diskSnapshot(join(bundle, "rootfs"))).filter(([p]) => !specials.has(p)));
      const normalised = Object.fromEntries(
        Object.entries(umociDisk).map(([p, v]) => {
          const [kind, mode, ...rest] = v.split(":");
          if (kind === "dir") return [p, `dir:${(parseInt(mode!, 8) | 0o700).toString(8)}`];
          if (kind === "file") return [p, [kind, (parseInt(mode!, 8) | 0o600).toString(8), ...rest].join(":")];
          return [p, v];
        }),
      );
      expect(await diskSnapshot(sandbox)).toEqual(normalised);

      const zstd = await layers(entries, "zstd");
      const again = await convertImage(memoryImage(zstd), { store, cacheDir: false, logger: memoryLogger(), apptainer: false });
      expect((await ourRows(again.tree, store)).rows).toEqual((await ourRows(tree, store)).rows);
    });
  }
});
