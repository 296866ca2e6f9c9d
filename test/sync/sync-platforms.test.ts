/**
 * `sync --platforms`: a real multi-platform index (amd64, arm64/v8, ppc64le images with different
 * files) published per architecture, the variant link resolved as clients with `CVMFS_ARCH` set
 * resolve it, and a new arm64 manifest in the index converting only arm64 again.
 */
import { writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepositoryReader } from "../../src/cvmfs/repository/repository-reader.js";
import { createRepositoryServer } from "../../src/cvmfs/repository/serve.js";
import { Stratum0 } from "../../src/cvmfs/repository/stratum0.js";
import { singleKeyAccess } from "../../src/gateway/access-config.js";
import { createGatewayHandler } from "../../src/gateway/dev-gateway.js";
import { readGatewayKey } from "../../src/gateway/key-file.js";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { createLayout } from "../../src/published/layout.js";
import { renderPlanNote } from "../../src/gitlab/plan-note.js";
import { PlanJson } from "../../src/gitlab/schema.js";
import { humanBytes } from "../../src/human-format.js";
import { pushImage, pushIndex, type PushedImage } from "../support/image-builder.js";
import { buildLayer } from "../support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { runCli } from "../support/run-cli.js";
import { testdir, type Testdir } from "../support/testdir.js";

const FQRN = "images.test.org";
let registry: TestRegistry;
let dir: Testdir;
const layout = createLayout({ kind: "osg" });
const images: Record<string, PushedImage> = {};

const common = () => [
  "--repo", FQRN,
  "--stratum0", dir.join("s0"),
  "--keys-dir", dir.join("keys"),
  "--cache-dir", dir.join("cache"),
  "--insecure-registry", registry.host,
  "--log-format", "json",
  "--keep-removed", "0",
];

async function pushArch(architecture: string, variant: string | undefined, release: number): Promise<PushedImage> {
  const layer = await buildLayer([
    { type: "dir", path: "etc" },
    { type: "file", path: "etc/arch", content: `${architecture} ${release}\n` },
    { type: "file", path: `opt/only-on-${architecture}`, content: "x\n" },
  ]);
  const platform = { os: "linux", architecture, ...(variant ? { variant } : {}) };
  return pushImage(registry, "multi/app", { layers: [layer], platform });
}

async function openReader(): Promise<RepositoryReader> {
  return RepositoryReader.open({ dir: dir.join("s0") }, { fqrn: FQRN, pubkeyPath: dir.join("keys", `${FQRN}.pub`) });
}

async function sync(extra: string[]) {
  return runCli(["sync", "--wishlist", dir.join("images.txt"), ...common(), ...extra]);
}

beforeAll(async () => {
  registry = await startRegistry("anonymous");
  dir = await testdir();
  images["amd64"] = await pushArch("amd64", undefined, 1);
  images["arm64"] = await pushArch("arm64", "v8", 1);
  images["ppc64le"] = await pushArch("ppc64le", undefined, 1);
  await pushIndex(registry, "multi/app:1", { manifests: [images["amd64"]!, images["arm64"]!, images["ppc64le"]!] });
  await writeFile(dir.join("images.txt"), `${registry.host}/multi/app:1\n`);
});

afterAll(async () => {
  await registry?.stop();
  await dir?.cleanup();
});

describe("sync --platforms", () => {
  it("publishes one image directory per platform, the usual name and the per-architecture names", async () => {
    const run = await sync(["--platforms", "linux/amd64,linux/arm64"]);
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    const { problems } = await verifyRepository({ dir: dir.join("s0") }, { fqrn: FQRN, pubkeyPath: dir.join("keys", `${FQRN}.pub`) });
    expect(problems).toEqual([]);
    const reader = await openReader();
    try {
      const amd64Dir = layout.imageDir(images["amd64"]!.configDigest);
      const arm64Dir = layout.imageDir(images["arm64"]!.configDigest);
      expect(await reader.resolvePath("/multi/app:1")).toBe(amd64Dir);
      expect(await reader.resolvePath("/.multiarch/amd64/multi/app:1")).toBe(amd64Dir);
      expect(await reader.resolvePath("/.multiarch/arm64/multi/app:1")).toBe(arm64Dir);
      expect(await reader.readlink("/.multiarch/arm64/multi/app:1")).toBe(`../../../.images/${arm64Dir.slice(9)}`);
      // Not wanted: no ppc64le image, no ppc64le name.
      expect(await reader.lookup(layout.imageDir(images["ppc64le"]!.configDigest))).toBeNull();
      expect(await reader.lookup("/.multiarch/ppc64le")).toBeNull();
      // The variant link and the kernel-name aliases.
      expect(await reader.readlink("/.multiarch/host")).toBe("$(CVMFS_ARCH)");
      expect(await reader.readlink("/.multiarch/x86_64")).toBe("amd64");
      expect(await reader.readlink("/.multiarch/aarch64")).toBe("arm64");
      expect(await reader.resolvePath("/.multiarch/host/multi/app:1", { CVMFS_ARCH: "x86_64" })).toBe(amd64Dir);
      expect(await reader.resolvePath("/.multiarch/host/multi/app:1", { CVMFS_ARCH: "aarch64" })).toBe(arm64Dir);
      // Each directory holds its own platform's files.
      const arch = async (p: string) => {
        const parts: Buffer[] = [];
        for await (const c of reader.readFile(`${await reader.resolvePath(p, { CVMFS_ARCH: "aarch64" })}/etc/arch`)) parts.push(c as Buffer);
        return Buffer.concat(parts).toString();
      };
      expect(await arch("/.multiarch/host/multi/app:1")).toBe("arm64 1\n");
      expect(await arch("/multi/app:1")).toBe("amd64 1\n");
      expect(await reader.lookup(`${arm64Dir}/opt/only-on-arm64`)).not.toBeNull();
      expect(await reader.lookup(`${arm64Dir}/opt/only-on-amd64`)).toBeNull();
      const meta = JSON.parse((await collect(reader.readFile(`${arm64Dir}/.singularity.d/cvmfs-image-sync.json`))).toString());
      expect(meta.platform).toBe("linux/arm64/v8");
      expect(meta.manifestDigest).toBe(images["arm64"]!.manifestDigest);
    } finally {
      await reader.close();
    }
  });

  it("a second run with the index unchanged keeps everything and fetches nothing", async () => {
    const run = await sync(["--platforms", "linux/amd64,linux/arm64"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("nothing to publish");
    expect(run.events().map((e) => e["event"])).not.toContain("image.resolve");
  });

  it("a new arm64 manifest in the index converts arm64 only", async () => {
    images["arm64.2"] = await pushArch("arm64", "v8", 2);
    await pushIndex(registry, "multi/app:1", { manifests: [images["amd64"]!, images["arm64.2"]!, images["ppc64le"]!] });
    const run = await sync(["--platforms", "linux/amd64,linux/arm64"]);
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    const events = run.events();
    const converted = events.filter((e) => e["event"] === "image.publish").length;
    expect(converted).toBe(1);
    expect(events.filter((e) => e["event"] === "layer.start").length).toBe(1);
    expect(events.filter((e) => e["event"] === "image.done" && String(e["message"]).includes("nothing to convert")).length).toBe(1);
    const reader = await openReader();
    try {
      expect(await reader.resolvePath("/.multiarch/host/multi/app:1", { CVMFS_ARCH: "aarch64" })).toBe(layout.imageDir(images["arm64.2"]!.configDigest));
      expect(await reader.resolvePath("/multi/app:1")).toBe(layout.imageDir(images["amd64"]!.configDigest));
      // The old arm64 image stays this run (a name moved off it before its new config was known).
      expect(await reader.lookup(layout.imageDir(images["arm64"]!.configDigest))).not.toBeNull();
    } finally {
      await reader.close();
    }
  });

  it("after that, the unchanged platforms are kept on the HEAD alone", async () => {
    const run = await sync(["--platforms", "linux/amd64,linux/arm64"]);
    expect(run.code).toBe(0);
    expect(run.events().map((e) => e["event"])).not.toContain("image.resolve");
  });

  it("a platform the index lacks is a note on its name, not a failure of the others", async () => {
    const run = await sync(["--platforms", "linux/amd64,linux/arm64,linux/s390x"]);
    expect(run.code).toBe(0);
    const row = run.stdout.split("\n").find((l) => l.includes("(linux/s390x)"));
    expect(row).toMatch(/skipped: \[E_PLATFORM\] .* has no image for platform linux\/s390x \(available: linux\/amd64, linux\/arm64\/v8, linux\/ppc64le\)/);
    expect(run.stdout).toMatch(/0 failed/);
    const reader = await openReader();
    try {
      expect(await reader.lookup("/.multiarch/s390x/multi/app:1")).toBeNull();
      // The old arm64 image has no name left and no grace period: gone now.
      expect(await reader.lookup(layout.imageDir(images["arm64"]!.configDigest))).toBeNull();
      expect(await reader.resolvePath("/.multiarch/arm64/multi/app:1")).toBe(layout.imageDir(images["arm64.2"]!.configDigest));
    } finally {
      await reader.close();
    }
  });

  it("a line's own `# platforms=` overrides the run's, and --platform alone keeps the single name", async () => {
    await writeFile(dir.join("images.txt"), `${registry.host}/multi/app:1   # platforms=linux/ppc64le,linux/amd64\n`);
    const run = await sync([]);
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    const reader = await openReader();
    try {
      const ppcDir = layout.imageDir(images["ppc64le"]!.configDigest);
      expect(await reader.resolvePath("/multi/app:1")).toBe(ppcDir);
      expect(await reader.resolvePath("/.multiarch/host/multi/app:1", { CVMFS_ARCH: "ppc64le" })).toBe(ppcDir);
      expect(await reader.resolvePath("/.multiarch/host/multi/app:1", { CVMFS_ARCH: "x86_64" })).toBe(layout.imageDir(images["amd64"]!.configDigest));
      expect(await reader.lookup("/.multiarch/arm64/multi/app:1")).toBeNull();
    } finally {
      await reader.close();
    }
  });
});

describe("removing the last per-architecture name", () => {
  it("takes the arch directories, the variant and alias links and the arch root with it", async () => {
    await writeFile(dir.join("images.txt"), `${registry.host}/multi/app:1\n`);
    const run = await sync([]);
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    const reader = await openReader();
    try {
      // The usual name leaves the ppc64le image the line's own list gave it for the run's default
      // platform's, although the index is unchanged.
      expect(await reader.resolvePath("/multi/app:1")).toBe(layout.imageDir(images["amd64"]!.configDigest));
      for (const gone of ["/.multiarch/host", "/.multiarch/x86_64", "/.multiarch/aarch64", "/.multiarch/amd64", "/.multiarch/ppc64le", "/.multiarch"]) {
        expect(await reader.lookup(gone), gone).toBeNull();
      }
    } finally {
      await reader.close();
    }
    const { problems } = await verifyRepository({ dir: dir.join("s0") }, { fqrn: FQRN, pubkeyPath: dir.join("keys", `${FQRN}.pub`) });
    expect(problems).toEqual([]);
  });
});

describe("sync --event with --platforms", () => {
  it("a pushed tag moves each platform's name, converting only the platform that changed", async () => {
    await writeFile(dir.join("images.txt"), `${registry.host}/multi/app:1\n`);
    const before = await sync(["--platforms", "linux/amd64,linux/arm64"]);
    expect(before.code).toBe(0);
    images["arm64.3"] = await pushArch("arm64", "v8", 3);
    await pushIndex(registry, "multi/app:1", { manifests: [images["amd64"]!, images["arm64.3"]!, images["ppc64le"]!] });
    const event = {
      type: "PUSH_ARTIFACT",
      occur_at: 1680501893,
      operator: "admin",
      event_data: {
        resources: [{ digest: images["arm64.3"]!.manifestDigest, tag: "1", resource_url: `${registry.host}/multi/app:1` }],
        repository: { date_created: 1680501893, name: "app", namespace: "multi", repo_full_name: "multi/app", repo_type: "public" },
      },
    };
    await writeFile(dir.join("event.json"), JSON.stringify(event));
    const run = await sync(["--platforms", "linux/amd64,linux/arm64", "--event", dir.join("event.json")]);
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    expect(run.events().filter((e) => e["event"] === "image.publish").length).toBe(1);
    const reader = await openReader();
    try {
      expect(await reader.resolvePath("/.multiarch/host/multi/app:1", { CVMFS_ARCH: "aarch64" })).toBe(layout.imageDir(images["arm64.3"]!.configDigest));
      expect(await reader.resolvePath("/.multiarch/host/multi/app:1", { CVMFS_ARCH: "x86_64" })).toBe(layout.imageDir(images["amd64"]!.configDigest));
      expect(await reader.resolvePath("/multi/app:1")).toBe(layout.imageDir(images["amd64"]!.configDigest));
    } finally {
      await reader.close();
    }
  });
});

describe("plan --platforms", () => {
  const plan = (s0: string, extra: string[]) =>
    runCli(["plan", "--wishlist", dir.join("plan.txt"), "--repo", FQRN, "--stratum0", s0, "--insecure-registry", registry.host, "--log-format", "json", ...extra]);
  const fetched = (image: PushedImage) => image.layers.reduce((sum, l) => sum + l.size, image.config.length);

  it("lists each new platform's own digest and download size, and notes the platform the index lacks", async () => {
    await writeFile(dir.join("plan.txt"), `${registry.host}/multi/app:1\n`);
    const run = await plan(dir.join("no-repository"), ["--platforms", "linux/amd64,linux/arm64,linux/s390x", "--format", "json"]);
    expect(run.stderr).not.toContain('"level":"warn"');
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout);
    const byPath = new Map<string, Record<string, unknown>>(json.tags.map((t: Record<string, unknown>) => [t["publicPath"], t]));
    const [amd64, arm64] = [images["amd64"]!, images["arm64.3"]!];
    expect(byPath.get("/.multiarch/amd64/multi/app:1")).toMatchObject({ action: "add", arch: "linux/amd64", platformManifestDigest: amd64.manifestDigest, compressedBytes: fetched(amd64), convert: true });
    expect(byPath.get("/.multiarch/arm64/multi/app:1")).toMatchObject({ action: "add", arch: "linux/arm64/v8", platformManifestDigest: arm64.manifestDigest, compressedBytes: fetched(arm64), convert: true });
    expect(byPath.get("/multi/app:1")).toMatchObject({ platformManifestDigest: amd64.manifestDigest, compressedBytes: fetched(amd64) });
    const s390x = byPath.get("/.multiarch/s390x/multi/app:1");
    expect(s390x).toMatchObject({ action: "add", arch: "linux/s390x", convert: false });
    expect(s390x?.["platformNote"]).toMatch(/has no image for platform linux\/s390x \(available: linux\/amd64, linux\/arm64\/v8, linux\/ppc64le\)/);
    // Two conversions (amd64 for both its names, arm64), none for the missing platform.
    expect(json.summary.convert).toBe(2);
    expect(json.conversions).toHaveLength(2);

    const note = renderPlanNote(PlanJson.parse(json), { repo: FQRN });
    expect(note).toContain(`| \`${registry.host}/multi/app:1 (linux/arm64/v8)\` <sub>${dir.join("plan.txt")}:1</sub> | add (convert) |`);
    expect(note).toContain(`(linux/arm64/v8: \`sha256:${arm64.manifestDigest.slice(7, 19)}\`) | new, ${humanBytes(fetched(arm64))} to fetch |`);
    expect(note).toContain("| not added (platform missing) |");
    expect(note).toMatch(/\*\*Notes\*\*\n\n- `\/\.multiarch\/s390x\/multi\/app:1`: .*has no image for platform linux\/s390x/);

    const table = await plan(dir.join("no-repository"), ["--platforms", "linux/amd64,linux/arm64,linux/s390x"]);
    expect(table.stdout).toContain(`linux/arm64/v8 sha256:${arm64.manifestDigest.slice(7, 19)} (${humanBytes(fetched(arm64))} to fetch)`);
    expect(table.stdout).toMatch(/\nNotes:\n {2}\/\.multiarch\/s390x\/multi\/app:1: .*has no image for platform linux\/s390x/);
  });

  it("reads no index for a tag whose index is unchanged", async () => {
    await writeFile(dir.join("plan.txt"), `${registry.host}/multi/app:1\n`);
    await writeFile(dir.join("images.txt"), `${registry.host}/multi/app:1\n`);
    expect((await sync(["--platforms", "linux/amd64,linux/arm64"])).code).toBe(0);
    const run = await plan(dir.join("s0"), ["--platforms", "linux/amd64,linux/arm64", "--format", "json"]);
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout);
    expect(json.tags.map((t: Record<string, unknown>) => t["action"])).toEqual(["keep", "keep", "keep"]);
    expect(json.tags.some((t: Record<string, unknown>) => "compressedBytes" in t || "platformNote" in t)).toBe(false);
  });
});

describe("sync --platforms through the gateway", () => {
  it("publishes the per-architecture names and links under its leases", async () => {
    const gw = dir.join("gw");
    await writeFile(dir.join("gw.key"), "plain_text sync-key 0123456789abcdef0123456789abcdef\n");
    await Stratum0.openOrCreate(gw, { fqrn: FQRN, keysDir: dir.join("gw-keys") });
    const gateway = await createGatewayHandler({ stratum0Dir: gw, fqrn: FQRN, keysDir: dir.join("gw-keys"), access: singleKeyAccess(FQRN, await readGatewayKey(dir.join("gw.key"))) });
    const server = await createRepositoryServer({ dir: gw, fqrn: FQRN, apiHandler: gateway });
    try {
      await writeFile(dir.join("gw.txt"), `${registry.host}/multi/app:1\n`);
      const gatewayArgs = [
        "sync", "--wishlist", dir.join("gw.txt"), "--repo", FQRN,
        "--gateway", `${server.url.slice(0, server.url.indexOf("/cvmfs/"))}/api/v1`, "--gateway-key", dir.join("gw.key"), "--repo-url", server.url,
        "--keys-dir", dir.join("gw-keys"), "--cache-dir", dir.join("cache"), "--insecure-registry", registry.host, "--log-format", "json",
        "--keep-removed", "0",
      ];
      const run = await runCli([...gatewayArgs, "--platforms", "linux/arm64,linux/ppc64le"]);
      expect(run.stderr).not.toContain('"level":"error"');
      expect(run.code).toBe(0);
      const reader = await RepositoryReader.open({ dir: gw }, { fqrn: FQRN, pubkeyPath: dir.join("gw-keys", `${FQRN}.pub`) });
      try {
        const arm = layout.imageDir(images["arm64.3"]!.configDigest);
        expect(await reader.resolvePath("/multi/app:1")).toBe(arm);
        expect(await reader.resolvePath("/.multiarch/host/multi/app:1", { CVMFS_ARCH: "aarch64" })).toBe(arm);
        expect(await reader.resolvePath("/.multiarch/host/multi/app:1", { CVMFS_ARCH: "ppc64le" })).toBe(layout.imageDir(images["ppc64le"]!.configDigest));
        expect(await reader.lookup("/.multiarch/amd64")).toBeNull();
      } finally {
        await reader.close();
      }
      // One platform goes (its empty arch directory with it), then the last one, and the tree with
      // it: each under a lease that covers what goes.
      const lookups = async (paths: string[]) => {
        const after = await RepositoryReader.open({ dir: gw }, { fqrn: FQRN, pubkeyPath: dir.join("gw-keys", `${FQRN}.pub`) });
        try {
          return await Promise.all(paths.map(async (p) => (await after.lookup(p))?.kind ?? null));
        } finally {
          await after.close();
        }
      };
      await writeFile(dir.join("gw.txt"), `${registry.host}/multi/app:1 # platforms=linux/arm64\n`);
      const one = await runCli(gatewayArgs);
      expect(one.stderr).not.toContain('"level":"error"');
      expect(one.code).toBe(0);
      expect(await lookups(["/.multiarch/ppc64le", "/.multiarch/arm64/multi/app:1", "/.multiarch/host"])).toEqual([null, "symlink", "symlink"]);
      await writeFile(dir.join("gw.txt"), `${registry.host}/multi/app:1\n`);
      const none = await runCli(gatewayArgs);
      expect(none.stderr).not.toContain('"level":"error"');
      expect(none.code).toBe(0);
      expect(await lookups(["/.multiarch/arm64", "/.multiarch/host", "/.multiarch", "/multi/app:1"])).toEqual([null, null, null, "symlink"]);
    } finally {
      await server.close();
      await gateway.close();
    }
  });
});

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe("verify with per-architecture names", () => {
  it("resolves every per-architecture name and the variant link for each published architecture", async () => {
    const s0 = dir.join("verify-s0");
    const opts = ["--repo", FQRN, "--stratum0", s0, "--keys-dir", dir.join("keys"), "--log-format", "json"];
    await writeFile(dir.join("verify.txt"), `${registry.host}/multi/app:1\n`);
    const synced = await runCli(["sync", "--wishlist", dir.join("verify.txt"), ...opts, "--cache-dir", dir.join("cache"), "--insecure-registry", registry.host, "--platforms", "linux/amd64,linux/arm64"]);
    expect(synced.code).toBe(0);
    const { variantLinks } = await verifyRepository({ dir: s0 }, { fqrn: FQRN });
    expect(variantLinks).toEqual(["/.multiarch/host"]);
    // Published: amd64 and arm64. ppc64le is not, so its dangling `host` is no problem.
    const good = await runCli(["verify", ...opts]);
    expect(good.stderr).not.toContain("verify.problem");
    expect(good.code).toBe(0);

    // Damage it as a hand edit might: the x86_64 alias onto arm64, and a name whose image is gone.
    const st = await Stratum0.openOrCreate(s0, { fqrn: FQRN, keysDir: dir.join("keys") });
    try {
      const { CatalogEditor } = await import("../../src/cvmfs/catalog/editor.js");
      const base = st.manifest();
      const editor = await CatalogEditor.open(base.catalogHash, st.catalogLoader);
      await editor.putSymlink("/.multiarch/x86_64", "arm64");
      await editor.putSymlink("/.multiarch/arm64/multi/gone:1", `../../../.images/00/${"0".repeat(62)}`);
      const done = await editor.finish(st.store, { revision: base.revision + 1 });
      editor.close();
      await st.publish({ rootHash: done.rootHash, rootSize: done.rootSize, tagName: "damaged", tagDescription: "", baseRootHash: base.catalogHash });
    } finally {
      await st.close();
    }
    const bad = await runCli(["verify", ...opts]);
    expect(bad.code).toBe(1);
    const found = bad.events().filter((e) => e["event"] === "verify.problem").map((e) => String(e["message"]));
    expect(found).toEqual([
      `/.multiarch/arm64/multi/gone:1: dangling (resolves to /.images/00/${"0".repeat(62)})`,
      "/.multiarch/host with CVMFS_ARCH=x86_64: resolves to /.multiarch/arm64, not /.multiarch/amd64",
    ]);
    expect(bad.stdout).toContain("2 problem(s)");
  });
});
