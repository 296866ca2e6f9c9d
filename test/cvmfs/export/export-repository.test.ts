import { lstat, readFile, readdir, readlink, stat } from "node:fs/promises";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogDb } from "../../../src/cvmfs/catalog/db.js";
import { CatalogEditor } from "../../../src/cvmfs/catalog/editor.js";
import { zeroCounters } from "../../../src/cvmfs/catalog/counters.js";
import { md5PathKey } from "../../../src/cvmfs/catalog/md5-path.js";
import { catalogRow, makedev, packHardlinks } from "../../../src/cvmfs/catalog/row.js";
import { exportRepository, splitDev } from "../../../src/cvmfs/export/export-repository.js";
import { formatSetfattrScript } from "../../../src/cvmfs/export/setfattr-script.js";
import { RepositoryReader } from "../../../src/cvmfs/repository/repository-reader.js";
import { Stratum0 } from "../../../src/cvmfs/repository/stratum0.js";
import { ConfigError } from "../../../src/errors.js";
import { memoryLogger } from "../../../src/logger.js";
import type { DirNode, FileNode, NodeMeta, TreeNode } from "../../../src/tree/types.js";
import { publishTrees } from "../../support/publish-trees.js";
import { runCli } from "../../support/run-cli.js";
import { testdir, type Testdir } from "../../support/testdir.js";

const FQRN = "export.test";
const isRoot = process.getuid?.() === 0;
/** VFS_CAP_REVISION_2 with the effective bit, cap_net_raw permitted (as `setcap cap_net_raw+ep` writes it). */
const CAP_NET_RAW = "0100000200200000000000000000000000000000";
const meta = (mode: number, uid = 0, gid = 0, mtime = 1_600_000_000): NodeMeta => ({ mode, uid, gid, mtime, mtimeNs: 0 });
const dirOf = (m: NodeMeta, children: Record<string, TreeNode>): DirNode => ({ type: "dir", ...m, children: new Map(Object.entries(children)) });

let dir: Testdir;
let s0: Stratum0;
let reader: RepositoryReader;

async function fileNode(s: Stratum0, text: string, m: NodeMeta, xattrs?: Record<string, Buffer>): Promise<FileNode> {
  const bytes = Buffer.from(text);
  const hash = await s.store.putFile((async function* () { yield bytes; })());
  return { type: "file", ...m, ...(xattrs ? { xattrs } : {}), content: hash, inode: 0 };
}

/** A nested catalog made by hand, since the writer never writes hardlink groups: `a` and `b` share group 1. */
async function mountHardlinkCatalog(s: Stratum0, editor: CatalogEditor, path: string): Promise<void> {
  const db = CatalogDb.create();
  const rootMeta = meta(0o755);
  const keys = (p: string, parent: string) => ({ md5path: md5PathKey(p), parent: md5PathKey(parent) });
  db.insertRow(catalogRow(dirOf(rootMeta, {}), "links", keys(path, path.slice(0, path.lastIndexOf("/"))), { role: "nestedRoot" }));
  const body = await fileNode(s, "shared bytes", meta(0o640, 3, 4));
  for (const name of ["a", "b"]) db.insertRow({ ...catalogRow(body, name, keys(`${path}/${name}`, path)), hardlinks: packHardlinks(2, 1) });
  db.insertRow(catalogRow(await fileNode(s, "alone", meta(0o644)), "c", keys(`${path}/c`, path)));
  db.setProperties({ revision: 1, root_prefix: path });
  db.writeCounters(zeroCounters());
  const bytes = db.serialize();
  db.close();
  const hash = await s.store.putBuffer(bytes, "C");
  await editor.mountNested(path, { hash, size: bytes.length, counters: zeroCounters(), rootMeta, rootLinkcount: 2 });
}

beforeAll(async () => {
  dir = await testdir();
  s0 = await Stratum0.openOrCreate(dir.join("s0"), { fqrn: FQRN, keysDir: dir.join("keys") });
  const tree = dirOf(meta(0o755), {
    etc: dirOf(meta(0o750, 0, 42), {
      passwd: await fileNode(s0, "root:x:0:0\n", meta(0o644)),
      shadow: await fileNode(s0, "secret\n", meta(0o400, 0, 42, 1_500_000_000)),
    }),
    bin: dirOf(meta(0o755), {
      ping: await fileNode(s0, "ELF", meta(0o4755), { "security.capability": Buffer.from(CAP_NET_RAW, "hex"), "user.note": Buffer.from("hi") }),
      sh: { type: "symlink", ...meta(0o777), target: "/bin/../usr/bin/dash" },
    }),
    dev: dirOf(meta(0o755), {
      null: { type: "char", ...meta(0o666), devMajor: 1, devMinor: 3 },
      gone: { type: "char", ...meta(0), devMajor: 0, devMinor: 0 },
      sda: { type: "block", ...meta(0o660, 0, 6), devMajor: 8, devMinor: 0 },
      pipe: { type: "fifo", ...meta(0o620), devMajor: 0, devMinor: 0 },
    }),
    opaque: dirOf({ ...meta(0o1777, 1000, 1000), xattrs: { "trusted.overlay.opaque": Buffer.from("y") } }, {}),
  });
  await publishTrees(s0, [{ path: "/img/a", tree }]);
  const base = await s0.refresh();
  const editor = await CatalogEditor.open(base.catalogHash, s0.catalogLoader);
  await mountHardlinkCatalog(s0, editor, "/img/links");
  await editor.putSymlink("/tag", "img/a");
  const finished = await editor.finish(s0.store, { revision: base.revision + 1 });
  editor.close();
  await s0.publish({ rootHash: finished.rootHash, rootSize: finished.rootSize, baseRootHash: base.catalogHash });
  reader = await RepositoryReader.open({ dir: dir.join("s0") }, { fqrn: FQRN });
});
afterAll(async () => {
  await reader?.close();
  await s0?.close();
  await dir.cleanup();
});

const modeOf = async (p: string): Promise<string> => ((await lstat(p)).mode & 0o7777).toString(8);

describe("exportRepository", () => {
  it.runIf(isRoot)("writes files, symlinks, devices, xattrs, owners, modes and mtimes as root", async () => {
    const dest = dir.join("root-export");
    const stats = await exportRepository(reader, "/img/a", dest, { logger: memoryLogger() });
    expect(stats).toMatchObject({ path: "/img/a", files: 4, symlinks: 1, specials: 4, xattrs: 3, skipped: { owners: 0, devices: 0, xattrs: 0, sockets: 0 } });
    expect(await readFile(`${dest}/etc/shadow`, "utf8")).toBe("secret\n");
    const shadow = await stat(`${dest}/etc/shadow`);
    expect([shadow.mode & 0o7777, shadow.uid, shadow.gid, shadow.mtimeMs / 1000]).toEqual([0o400, 0, 42, 1_500_000_000]);
    const etc = await stat(`${dest}/etc`);
    expect([etc.mode & 0o7777, etc.gid, etc.mtimeMs / 1000]).toEqual([0o750, 42, 1_600_000_000]);
    expect(await readlink(`${dest}/bin/sh`)).toBe("/bin/../usr/bin/dash");
    // setuid survives: the chown comes before the chmod, and the capability after the chown.
    expect(await modeOf(`${dest}/bin/ping`)).toBe("4755");
    const caps = await execa("getfattr", ["-h", "-d", "-m", "-", "-e", "hex", `${dest}/bin/ping`, `${dest}/opaque`]);
    expect(caps.stdout).toContain(`security.capability=0x${CAP_NET_RAW}`);
    expect(caps.stdout).toContain("user.note=0x6869");
    expect(caps.stdout).toContain("trusted.overlay.opaque=0x79");
    const nul = await lstat(`${dest}/dev/null`);
    expect([nul.isCharacterDevice(), nul.rdev, nul.mode & 0o7777]).toEqual([true, makedev(1, 3), 0o666]);
    const gone = await lstat(`${dest}/dev/gone`);
    expect([gone.isCharacterDevice(), gone.rdev, gone.mode & 0o7777, gone.uid]).toEqual([true, 0, 0, 0]);
    expect((await lstat(`${dest}/dev/sda`)).isBlockDevice()).toBe(true);
    expect((await lstat(`${dest}/dev/pipe`)).isFIFO()).toBe(true);
    const opaque = await stat(`${dest}/opaque`);
    expect([opaque.mode & 0o7777, opaque.uid]).toEqual([0o1777, 1000]);
    // The image's own catalog marker is part of the repository, as a client shows it.
    expect((await readdir(dest)).sort()).toEqual([".cvmfscatalog", "bin", "dev", "etc", "opaque"]);
  });

  it("keeps a catalog's hardlink group as one inode", async () => {
    const dest = dir.join("links-export");
    const stats = await exportRepository(reader, "/img/links", dest, { privileged: false });
    expect(stats).toMatchObject({ files: 2, hardlinks: 1 });
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((n) => stat(`${dest}/${n}`)));
    expect(a!.ino).toBe(b!.ino);
    expect(a!.nlink).toBe(2);
    expect(c!.ino).not.toBe(a!.ino);
    expect(await readFile(`${dest}/b`, "utf8")).toBe("shared bytes");
  });

  it("skips what needs root with one summarising warning when unprivileged, and follows a tag link at the top", async () => {
    const dest = dir.join("user-export");
    const logger = memoryLogger();
    const stats = await exportRepository(reader, "/tag", dest, { logger, privileged: false, disk: undefined });
    expect(stats.path).toBe("/img/a");
    expect(stats.skipped).toMatchObject({ devices: 3, xattrs: 2, sockets: 0 });
    expect(stats.skipped.owners).toBeGreaterThan(0);
    expect((await lstat(`${dest}/dev/pipe`)).isFIFO()).toBe(true);
    await expect(lstat(`${dest}/dev/null`)).rejects.toThrow();
    expect(await modeOf(`${dest}/etc/shadow`)).toBe("400");
    const warnings = logger.events.filter((e) => e.level === "warn");
    expect(warnings.map((e) => e.event)).toEqual(["export.skipped"]);
    expect(warnings[0]!.message).toContain("3 devices, 2 extended attributes");
  });

  it("exports the whole repository through its nested catalogs, links below the top kept as links", async () => {
    const dest = dir.join("all-export");
    const stats = await exportRepository(reader, "/", dest, { privileged: false });
    expect(stats.path).toBe("/");
    expect(await readlink(`${dest}/tag`)).toBe("img/a");
    expect(await readFile(`${dest}/img/a/etc/passwd`, "utf8")).toBe("root:x:0:0\n");
    expect(await readFile(`${dest}/img/links/c`, "utf8")).toBe("alone");
  });

  it("refuses a missing path and a destination that is not empty", async () => {
    await expect(exportRepository(reader, "/nope", dir.join("x1"))).rejects.toThrow(ConfigError);
    const full = await testdir({ "keep.txt": "mine" });
    await expect(exportRepository(reader, "/img/a", full.path)).rejects.toThrow(/not empty/);
    await full.cleanup();
  });

  it("is the export command: exit 0 with a summary, 2 for a bad path", async () => {
    const dest = dir.join("cli-export");
    const ok = await runCli(["export", "--repo", FQRN, "--stratum0", dir.join("s0"), "--keys-dir", dir.join("keys"), "/img/links", dest]);
    expect(ok.stderr).not.toContain("error");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("/img/links →");
    const bad = await runCli(["export", "--repo", FQRN, "--stratum0", dir.join("s0"), "/missing", dir.join("cli-bad")]);
    expect(bad.code).toBe(2);
  });
});

describe("formatSetfattrScript", () => {
  it("escapes names attr's unquote restores and writes values as base64", () => {
    const text = formatSetfattrScript([
      { path: "/x/a b\\c\nd=é", xattrs: { "user.b": Buffer.from([0, 1]), "trusted.a": Buffer.from("y") } },
      { path: "/x/none", xattrs: {} },
    ]);
    expect(text).toBe("# file: /x/a\\040b\\134c\\012d\\075\\303\\251\ntrusted.a=0seQ==\nuser.b=0sAAE=\n\n");
  });
});

describe("splitDev", () => {
  it.each([[1, 3], [8, 0], [0, 0], [259, 65_536], [4095, 255], [4096, 1_048_575]])("inverts makedev(%i, %i)", (major, minor) => {
    expect(splitDev(makedev(major, minor))).toEqual({ major, minor });
  });
});
