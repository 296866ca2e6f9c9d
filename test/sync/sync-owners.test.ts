/**
 * Publishers that never undo each other: several wishlists (owners) feeding one repository, and
 * two runs racing through the gateway with overlapping wishlists. Real registry, dev gateway over
 * HTTP, the CLI as users run it; every check is name by name.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepositoryReader } from "../../src/cvmfs/repository/repository-reader.js";
import { createRepositoryServer, type RepositoryServer } from "../../src/cvmfs/repository/serve.js";
import { Stratum0 } from "../../src/cvmfs/repository/stratum0.js";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { singleKeyAccess } from "../../src/gateway/access-config.js";
import { createGatewayHandler, type GatewayHandler } from "../../src/gateway/dev-gateway.js";
import { readGatewayKey } from "../../src/gateway/key-file.js";
import { createLayout } from "../../src/published/layout.js";
import { parseNameOwners } from "../../src/published/name-owners.js";
import { pushImage, type PushedImage } from "../support/image-builder.js";
import { buildLayer } from "../support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { runCli, type CliRun } from "../support/run-cli.js";
import { testdir, type Testdir } from "../support/testdir.js";

const FQRN = "owners.test.org";
const layout = createLayout();
let registry: TestRegistry;
let dir: Testdir;
const images: PushedImage[] = [];

beforeAll(async () => {
  registry = await startRegistry("anonymous");
  dir = await testdir({ "gw.key": "plain_text owners-key 0123456789abcdef0123456789abcdef\n" });
  const base = await buildLayer([{ type: "file", path: "etc/base", content: "base\n" }]);
  for (let i = 0; i < 6; i++) images.push(await pushImage(registry, `own/img${i}:1`, { layers: [base], config: { Env: [`IMG=${i}`] } }));
});

afterAll(async () => {
  await registry?.stop();
  await dir?.cleanup();
});

const name = (i: number): string => `/own/img${i}:1`;

async function wishlist(file: string, indexes: number[]): Promise<string> {
  const p = dir.join(file);
  await writeFile(p, indexes.map((i) => `${registry.host}/own/img${i}:1`).join("\n"));
  return p;
}

/** Which of the six names exist, and whether each points at its own image. */
async function names(source: { dir: string } | { url: string }): Promise<{ present: number[]; owners: Map<string, string[]> }> {
  const reader = await RepositoryReader.open(source, { fqrn: FQRN });
  try {
    const present: number[] = [];
    for (let i = 0; i < images.length; i++) {
      const entry = await reader.lookup(name(i));
      if (!entry) continue;
      const target = path.posix.resolve(path.posix.dirname(name(i)), entry.symlink);
      expect(target).toBe(layout.imageDir(images[i]!.configDigest));
      expect((await reader.lookup(target))?.kind).toBe("dir");
      present.push(i);
    }
    const ownersEntry = await reader.lookup(layout.ownersPath);
    const owners = new Map<string, string[]>();
    if (ownersEntry) {
      const parts: Buffer[] = [];
      for await (const c of reader.readFile(layout.ownersPath)) parts.push(c as Buffer);
      for (const [k, v] of parseNameOwners(Buffer.concat(parts), layout.ownersPath)) owners.set(k, v);
    }
    return { present, owners };
  } finally {
    await reader.close();
  }
}

describe("several wishlists feeding one local repository", () => {
  const common = () => ["--repo", FQRN, "--stratum0", dir.join("local-s0"), "--keys-dir", dir.join("keys"), "--cache-dir", dir.join("cache"), "--insecure-registry", registry.host, "--keep-removed", "0", "--log-format", "json"];
  const sync = async (owner: string, indexes: number[]): Promise<CliRun> =>
    runCli(["sync", "--wishlist", await wishlist(`${owner}.txt`, indexes), "--owner", owner, ...common()]);

  it("each removes only its own names; a shared name and its image stay while any owner wants them", async () => {
    expect((await sync("public", [0, 1])).code).toBe(0);
    expect((await sync("private", [1, 2])).code).toBe(0);
    let state = await names({ dir: dir.join("local-s0") });
    expect(state.present).toEqual([0, 1, 2]);
    expect(Object.fromEntries(state.owners)).toEqual({ [name(0)]: ["public"], [name(1)]: ["private", "public"], [name(2)]: ["private"] });

    // The public list lets img1 go: the private list still has it, so name and image stay.
    const dropped = await sync("public", [0]);
    expect(dropped.code).toBe(0);
    expect(dropped.stdout).toMatch(/own\/img1:1\s+keep/);
    state = await names({ dir: dir.join("local-s0") });
    expect(state.present).toEqual([0, 1, 2]);
    expect(state.owners.get(name(1))).toEqual(["private"]);

    // plan of the public list shows the others' names as theirs, to keep.
    const plan = await runCli(["plan", "--wishlist", dir.join("public.txt"), "--owner", "public", ...common()]);
    expect(plan.stdout).toMatch(/keep \(owned by private\)\s+\/own\/img1:1/);
    expect(plan.stdout).toMatch(/keep \(owned by private\)\s+\/own\/img2:1/);

    // The last owner lets it go: gone.
    expect((await sync("private", [2])).code).toBe(0);
    state = await names({ dir: dir.join("local-s0") });
    expect(state.present).toEqual([0, 2]);
    expect(state.owners.has(name(1))).toBe(false);
    const { problems } = await verifyRepository({ dir: dir.join("local-s0") }, { fqrn: FQRN });
    expect(problems).toEqual([]);
  });

  it("names published before owners were kept belong to the first owner that syncs", async () => {
    const s0 = dir.join("legacy-s0");
    const legacy = ["--repo", FQRN, "--stratum0", s0, "--keys-dir", dir.join("keys"), "--cache-dir", dir.join("cache"), "--insecure-registry", registry.host, "--keep-removed", "0"];
    // A repository whose names carry no owners: remove the owners file after the first sync.
    expect((await runCli(["sync", "--wishlist", await wishlist("legacy.txt", [3, 4]), "--owner", "old", ...legacy])).code).toBe(0);
    const st = await Stratum0.openOrCreate(s0, { fqrn: FQRN, keysDir: dir.join("keys") });
    try {
      const { CatalogEditor } = await import("../../src/cvmfs/catalog/editor.js");
      const base = st.manifest();
      const editor = await CatalogEditor.open(base.catalogHash, st.catalogLoader);
      expect(await editor.remove(layout.ownersPath)).toBe(true);
      const done = await editor.finish(st.store, { revision: base.revision + 1 });
      editor.close();
      await st.publish({ rootHash: done.rootHash, rootSize: done.rootSize, tagName: "legacy", tagDescription: "", baseRootHash: base.catalogHash });
    } finally {
      await st.close();
    }
    // The first owner to sync keeps img3 (adopted) and removes img4 (unowned, not wanted).
    expect((await runCli(["sync", "--wishlist", await wishlist("first.txt", [3]), "--owner", "first", ...legacy])).code).toBe(0);
    const state = await names({ dir: s0 });
    expect(state.present).toEqual([3]);
    expect(Object.fromEntries(state.owners)).toEqual({ [name(3)]: ["first"] });
  });
});

describe("two runs racing through the gateway", () => {
  let server: RepositoryServer;
  let gateway: GatewayHandler;

  beforeAll(async () => {
    await Stratum0.openOrCreate(dir.join("gw-s0"), { fqrn: FQRN, keysDir: dir.join("gw-keys") });
    gateway = await createGatewayHandler({
      stratum0Dir: dir.join("gw-s0"),
      fqrn: FQRN,
      keysDir: dir.join("gw-keys"),
      access: singleKeyAccess(FQRN, await readGatewayKey(dir.join("gw.key"))),
    });
    server = await createRepositoryServer({ dir: dir.join("gw-s0"), fqrn: FQRN, apiHandler: gateway });
  });
  afterAll(async () => {
    await server?.close();
    await gateway?.close();
  });

  const sync = async (file: string, indexes: number[], owner: string): Promise<CliRun> =>
    runCli([
      "sync", "--wishlist", await wishlist(file, indexes), "--owner", owner,
      "--repo", FQRN,
      "--gateway", `${server.url.slice(0, server.url.indexOf("/cvmfs/"))}/api/v1`,
      "--gateway-key", dir.join("gw.key"),
      "--repo-url", server.url,
      "--keys-dir", dir.join("gw-keys"),
      "--cache-dir", dir.join(`cache-${file}`),
      "--insecure-registry", registry.host,
      "--keep-removed", "0",
      "--log-format", "json",
    ]);

  it("overlapping wishlists of one owner end with what one of them asked for, never a mix", async () => {
    const a = [0, 1, 2, 5];
    const b = [1, 2, 3, 4];
    let conflicts = 0;
    for (let round = 0; round < 2; round++) {
      expect((await sync("start.txt", [0, 3, 4, 5], "site")).code).toBe(0);
      expect((await names({ url: server.url })).present).toEqual([0, 3, 4, 5]);
      const [ra, rb] = await Promise.all([sync("a.txt", a, "site"), sync("b.txt", b, "site")]);
      for (const r of [ra, rb]) expect(r.stderr).not.toContain('"code":"E_INTERNAL"');
      const final = (await names({ url: server.url })).present;
      // Either run may end last; one that could not land its intent says so (exit 1, E_CONFLICT).
      const landed = [ra.code === 0 ? a : undefined, rb.code === 0 ? b : undefined].filter((x) => x !== undefined);
      expect(landed.length).toBeGreaterThan(0);
      expect(landed.map((l) => JSON.stringify(l))).toContain(JSON.stringify(final));
      for (const r of [ra, rb]) if (r.code !== 0) expect(r.stderr).toContain("E_CONFLICT");
      conflicts += [ra, rb].flatMap((r) => r.events().filter((e) => e["event"] === "sync.conflict")).length;
      const { problems } = await verifyRepository({ url: server.url }, { fqrn: FQRN });
      expect(problems).toEqual([]);
    }
    // The runs did overlap: at least one found the repository changed under it and planned again.
    expect(conflicts).toBeGreaterThan(0);
  });

  it("two owners sharing an image, at the same time: every name of both stays", async () => {
    expect((await sync("start.txt", [], "site")).code).toBe(0);
    const [ra, rb] = await Promise.all([sync("x.txt", [0, 1], "owner-x"), sync("y.txt", [1, 2], "owner-y")]);
    expect([ra.code, rb.code]).toEqual([0, 0]);
    const state = await names({ url: server.url });
    expect(state.present).toEqual([0, 1, 2]);
    expect(Object.fromEntries(state.owners)).toEqual({ [name(0)]: ["owner-x"], [name(1)]: ["owner-x", "owner-y"], [name(2)]: ["owner-y"] });
  });
});
