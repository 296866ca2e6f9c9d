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
import { createLayout } from "../../src/sync/layout.js";
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

describe("sync --platforms through the gateway", () => {
  it("publishes the per-architecture names and links under its leases", async () => {
    const gw = dir.join("gw");
    await writeFile(dir.join("gw.key"), "plain_text sync-key 0123456789abcdef0123456789abcdef\n");
    await Stratum0.openOrCreate(gw, { fqrn: FQRN, keysDir: dir.join("gw-keys") });
    const gateway = await createGatewayHandler({ stratum0Dir: gw, fqrn: FQRN, keysDir: dir.join("gw-keys"), access: singleKeyAccess(FQRN, await readGatewayKey(dir.join("gw.key"))) });
    const server = await createRepositoryServer({ dir: gw, fqrn: FQRN, apiHandler: gateway });
    try {
      await writeFile(dir.join("gw.txt"), `${registry.host}/multi/app:1\n`);
      const run = await runCli([
        "sync", "--wishlist", dir.join("gw.txt"), "--repo", FQRN,
        "--gateway", `${server.url.slice(0, server.url.indexOf("/cvmfs/"))}/api/v1`, "--gateway-key", dir.join("gw.key"), "--repo-url", server.url,
        "--keys-dir", dir.join("gw-keys"), "--cache-dir", dir.join("cache"), "--insecure-registry", registry.host, "--log-format", "json",
        "--platforms", "linux/arm64,linux/ppc64le",
      ]);
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
