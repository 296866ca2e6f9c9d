/**
 * The CLI contract as users and the CI template call it: exit codes, environment variables,
 * `plan --offline`, `convert` with a progress display / JSON events / summary, `serve`, `verify`.
 */
import { lstat, mkdir, readFile, readlink, writeFile, readdir, open } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { startFaultyProxy } from "../support/faulty-proxy.js";
import { pushImage } from "../support/image-builder.js";
import { buildLayer, type TestEntry } from "../support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { runCli } from "../support/run-cli.js";
import { testdir, type Testdir } from "../support/testdir.js";

let dir: Testdir;
let registry: TestRegistry;

beforeAll(async () => {
  dir = await testdir();
  registry = await startRegistry("anonymous");
});
afterAll(async () => {
  await registry?.stop();
  await dir?.cleanup();
});

describe("plan --offline", () => {
  it("normalises every line and prints JSON rows with file and line", async () => {
    const file = dir.join("ok.txt");
    await writeFile(file, "# comment\ncentos:7   # trailing comment\n\nghcr.io/org/img:v1.*\nquay.io/a/b@sha256:" + "c".repeat(64) + "\ncentos:7\n");
    const run = await runCli(["plan", "--offline", "--format", "json", "--wishlist", file]);
    expect(run.code).toBe(0);
    const rows = JSON.parse(run.stdout) as Array<Record<string, unknown>>;
    expect(rows.map((r) => [r["line"], r["reference"]])).toEqual([
      [2, "docker.io/library/centos:7"],
      [4, "ghcr.io/org/img:v1.*"],
      [5, `quay.io/a/b@sha256:${"c".repeat(64)}`],
      [6, "docker.io/library/centos:7"],
    ]);
    expect(rows[3]!["duplicateOf"]).toBe(`${file}:2`);
    expect(rows[1]!["pattern"]).toBe("v1.*");
  });

  it("fails with exit 2 and names file:line of every bad line", async () => {
    const file = dir.join("bad.txt");
    await writeFile(file, "ok:1\nBad:1\nalso ok\nx@sha256:12\n");
    const run = await runCli(["plan", "--offline", "--wishlist", file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${file}:2:`);
    expect(run.stderr).toContain(`${file}:3:`);
    expect(run.stderr).toContain(`${file}:4:`);
    expect(run.stderr).toContain("E_WISHLIST");
  });

  it("reads flags from CVMFS_IMAGE_SYNC_* variables", async () => {
    const file = dir.join("env.txt");
    await writeFile(file, "alpine:3.20\n");
    process.env["CVMFS_IMAGE_SYNC_WISHLIST"] = file;
    process.env["CVMFS_IMAGE_SYNC_FORMAT"] = "json";
    try {
      const run = await runCli(["plan", "--offline"]);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)[0].reference).toBe("docker.io/library/alpine:3.20");
    } finally {
      delete process.env["CVMFS_IMAGE_SYNC_WISHLIST"];
      delete process.env["CVMFS_IMAGE_SYNC_FORMAT"];
    }
  });
});

describe("bad input and configuration exit 2", () => {
  it.each([
    [["nonsense"]],
    [["sync", "--no-such-flag"]],
    [["sync", "--repo", "Not_A_Repo", "--wishlist", "/dev/null"]],
    [["sync", "--concurrency", "0", "--wishlist", "/dev/null"]],
    [["sync", "--gateway", "http://127.0.0.1:1/api/v1", "--wishlist", "/dev/null"]],
    [["convert", "Bad:Ref", "--sandbox", "/tmp/x"]],
    [["plan", "--offline", "--platform", "linux"]],
  ])("%j", async (args) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
  });
});

describe("the objects' compressor", () => {
  it("is named at the start of a sync, and an unknown one stops the run before anything is done", async () => {
    const s0 = dir.join("compressor-s0");
    const ok = await runCli(["sync", "--wishlist", "/dev/null", "--stratum0", s0, "--keys-dir", dir.join("compressor-keys"), "--log-format", "json"]);
    expect(ok.code).toBe(0);
    const named = ok.events().find((e) => e["event"] === "objects.compressor");
    // libdeflate when `npm ci` built its addon (the test set-up installs libdeflate-dev), else zlib.
    expect(named?.["compressor"]).toMatch(/^(libdeflate|zlib)$/);
    process.env["CVMFS_IMAGE_SYNC_COMPRESSOR"] = "bogus";
    try {
      const bad = await runCli(["sync", "--wishlist", "/dev/null", "--stratum0", dir.join("compressor-s1"), "--keys-dir", dir.join("compressor-keys")]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('[E_CONFIG]: CVMFS_IMAGE_SYNC_COMPRESSOR: unknown compressor "bogus" (auto, libdeflate or zlib)');
      await expect(lstat(dir.join("compressor-s1"))).rejects.toThrow(/ENOENT/);
    } finally {
      delete process.env["CVMFS_IMAGE_SYNC_COMPRESSOR"];
    }
  });
});

describe("convert", () => {
  let reference = "";

  beforeAll(async () => {
    // 20,000 files over three layers, with a whiteout and a setuid file.
    const layerOf = (from: number, to: number): TestEntry[] => {
      const entries: TestEntry[] = [];
      for (let d = from; d < to; d += 500) {
        entries.push({ type: "dir", path: `data/d${d}` });
        for (let i = d; i < Math.min(d + 500, to); i++) entries.push({ type: "file", path: `data/d${d}/f${i}`, content: `file ${i}\n` });
      }
      return entries;
    };
    const layers = [
      await buildLayer([...layerOf(0, 8000), { type: "file", path: "usr/bin/su", content: "su", mode: 0o4755 }]),
      await buildLayer(layerOf(8000, 14000), { compression: "zstd" }),
      await buildLayer([...layerOf(14000, 20000), { type: "whiteout", path: "data/d0/f0" }, { type: "file", path: "data/d0/f0b", content: "x" }]),
    ];
    reference = (await pushImage(registry, "cli/many:1", { layers, config: { Entrypoint: ["/bin/echo"], Cmd: ["hi there"] } })).reference;
  });

  it("writes the sandbox and its sidecar, with JSON events and a summary", async () => {
    const sandbox = dir.join("sandbox-json");
    const run = await runCli(["convert", reference, "--sandbox", sandbox, "--insecure-registry", registry.host, "--cache-dir", dir.join("cache-json"), "--log-format", "json"]);
    expect(run.stderr).not.toContain('"level":"error"');
    expect(run.code).toBe(0);
    const events = run.events();
    expect(events.every((e) => typeof e["time"] === "string" && typeof e["event"] === "string")).toBe(true);
    expect(events.filter((e) => e["event"] === "layer.done")).toHaveLength(3);
    expect(events.some((e) => e["event"] === "image.done")).toBe(true);
    expect(run.stdout).toMatch(/files/);
    expect(run.stdout).toMatch(/3 \(0 cached\)/);
    expect(await readFile(`${sandbox}/data/d500/f999`, "utf8")).toBe("file 999\n");
    await expect(lstat(`${sandbox}/data/d0/f0`)).rejects.toThrow();
    expect((await readdir(`${sandbox}/data`)).length).toBe(40);
    expect(await readlink(`${sandbox}/.exec`)).toBe(".singularity.d/actions/exec");
    expect(await readFile(`${sandbox}/.singularity.d/runscript`, "utf8")).toContain("/bin/echo");
    const sidecar = JSON.parse(await readFile(`${sandbox}.meta.json`, "utf8")) as Record<string, unknown>;
    expect(JSON.stringify(sidecar)).toContain("/usr/bin/su");
    // Nothing is left beside the sandbox but its sidecar, and nothing went to the cache.
    expect((await readdir(dir.path)).filter((n) => n.includes("sandbox-json"))).toEqual(["sandbox-json", "sandbox-json.meta.json"]);
    await expect(readdir(dir.join("cache-json"))).rejects.toThrow(/ENOENT/);
  });

  it("shows a progress display on a terminal and a summary table", async () => {
    const out = new PassThrough();
    const err = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    let stdout = "";
    let stderr = "";
    out.on("data", (d: Buffer) => (stdout += d.toString()));
    err.on("data", (d: Buffer) => (stderr += d.toString()));
    const env = { ...process.env };
    delete env["CI"];
    const code = await main(
      ["convert", reference, "--sandbox", dir.join("sandbox-tty"), "--insecure-registry", registry.host, "--cache-dir", dir.join("cache-tty"), "--layer-cache"],
      { stdout: out, stderr: err, env, signal: new AbortController().signal },
    );
    expect(code).toBe(0);
    expect(stderr).toMatch(/\d+% \| .*cli\/many:1 \| (layers|done)/);
    expect(stdout).toMatch(/image\s+manifest\s+layers\s+files\s+bytes\s+time\s+sandbox/);
    expect(stdout).toMatch(/3 \(0 cached\)/);
  });

  it("with --layer-cache, a second convert takes every layer from the cache and gives the same sandbox", async () => {
    const run = await runCli(["convert", reference, "--sandbox", dir.join("sandbox-cached"), "--insecure-registry", registry.host, "--cache-dir", dir.join("cache-tty"), "--layer-cache"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/3 \(3 cached\)/);
    const paths = async (sandbox: string): Promise<string[]> =>
      (JSON.parse(await readFile(`${sandbox}.meta.json`, "utf8")) as { entries: Array<{ path: string; mode: number }> }).entries.map((e) => `${e.path}:${e.mode}`);
    expect(await paths(dir.join("sandbox-cached"))).toEqual(await paths(dir.join("sandbox-json")));
    expect(await readFile(dir.join("sandbox-cached/data/d19500/f19999"), "utf8")).toBe("file 19999\n");
  });

  it("leaves nothing behind when a layer turns out corrupt: no sandbox, no staging directory", async () => {
    const small = await pushImage(registry, "cli/broken:1", {
      layers: [await buildLayer([{ type: "file", path: "a", content: "a" }]), await buildLayer([{ type: "file", path: "b", content: { size: 300_000, seed: 3 } }])],
    });
    const proxy = await startFaultyProxy(registry, [{ kind: "corrupt-byte", match: { method: "GET", path: small.layers[1]!.digest } }]);
    try {
      const work = dir.join("broken");
      await mkdir(work);
      const run = await runCli(["convert", small.reference.replace(registry.host, proxy.host), "--sandbox", join(work, "sandbox"), "--insecure-registry", proxy.host]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/digest/i);
      expect(proxy.requests.some((r) => r.fault === "corrupt-byte")).toBe(true);
      expect(await readdir(work)).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it("leaves an empty sandbox directory as it was when writing the sandbox fails half-way", async () => {
    // A name longer than the filesystem allows (255 bytes) fails when the sandbox is written.
    const long = await pushImage(registry, "cli/long-name:1", {
      layers: [await buildLayer([{ type: "file", path: "a/first", content: "a" }, { type: "file", path: `z/${"n".repeat(300)}`, content: "z" }])],
    });
    const work = dir.join("half-way");
    await mkdir(join(work, "sandbox"), { recursive: true });
    const run = await runCli(["convert", long.reference, "--sandbox", join(work, "sandbox"), "--insecure-registry", registry.host]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/ENAMETOOLONG|name too long/i);
    expect(await readdir(work)).toEqual(["sandbox"]);
    expect(await readdir(join(work, "sandbox"))).toEqual([]);
  });

  it("refuses a sandbox directory that is not empty before pulling anything", async () => {
    const busy = dir.join("sandbox-busy");
    await mkdir(busy);
    await writeFile(join(busy, "keep"), "mine");
    const run = await runCli(["convert", reference, "--sandbox", busy, "--insecure-registry", registry.host, "--log-format", "json"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/exists and is not empty/);
    expect(run.events().some((e) => e["event"] === "image.resolve")).toBe(false);
    expect(await readdir(busy)).toEqual(["keep"]);
  });
});

describe("serve and verify", () => {
  it("serve prints its URLs, answers for the repository, and stops on abort; verify catches a flipped byte", async () => {
    const s0 = dir.join("served");
    const keys = dir.join("served-keys");
    const out = new PassThrough();
    let stdout = "";
    out.on("data", (d: Buffer) => (stdout += d.toString()));
    const controller = new AbortController();
    const serving = main(["serve", "--port", "0", "--stratum0", s0, "--keys-dir", keys, "--repo", "served.test"], {
      stdout: out,
      stderr: new PassThrough(),
      env: process.env,
      signal: controller.signal,
    });
    for (let i = 0; i < 100 && !stdout.includes("serving"); i++) await new Promise((r) => setTimeout(r, 50));
    const match = /^serving (http:\/\/127\.0\.0\.1:(\d+)\/cvmfs\/served\.test) gateway (http:\/\/127\.0\.0\.1:\d+\/api\/v1)$/m.exec(stdout);
    expect(match).not.toBeNull();
    const published = await fetch(`${match![1]}/.cvmfspublished`);
    expect(published.status).toBe(200);
    expect((await published.text()).split("\n")).toContain("Nserved.test");
    const api = await fetch(match![3]!);
    expect(await api.text()).toContain("welcome");

    const ok = await runCli(["verify", "--repo-url", match![1]!, "--repo", "served.test", "--pubkey", `${keys}/served.test.pub`]);
    expect(ok.code).toBe(0);
    controller.abort();
    expect(await serving).toBe(0);

    // Flip one byte of the root catalog object: verify names it and exits 1.
    const manifest = await readFile(`${s0}/.cvmfspublished`, "utf8");
    const root = /^C([0-9a-f]+)$/m.exec(manifest)![1]!;
    const file = `${s0}/data/${root.slice(0, 2)}/${root.slice(2)}C`;
    const handle = await open(file, "r+");
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, 10);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, 10);
    await handle.close();
    const bad = await runCli(["verify", "--stratum0", s0, "--repo", "served.test", "--keys-dir", keys]);
    expect(bad.code).toBe(1);
    expect(bad.stderr + bad.stdout).toContain(root);
  });
});

describe("failures are reported, secrets are not", () => {
  it("plan lists a line it cannot resolve, in the table and the JSON, and exits 1", async () => {
    const file = dir.join("unresolvable.txt");
    await writeFile(file, "127.0.0.1:1/ns/img:1\n");
    const run = await runCli(["plan", "--wishlist", file, "--format", "json", "--insecure-registry", "127.0.0.1:1", "--stratum0", dir.join("none"), "--log-format", "json"]);
    expect(run.code).toBe(1);
    const json = JSON.parse(run.stdout) as { failures: Array<Record<string, unknown>> };
    expect(json.failures).toHaveLength(1);
    expect(json.failures[0]).toMatchObject({ file, line: 1, reference: "127.0.0.1:1/ns/img:1", code: "E_REGISTRY" });
  });

  it("never prints the password of a URL, and an unreachable repository is a configuration error", async () => {
    const file = dir.join("one.txt");
    await writeFile(file, "alpine:3.20\n");
    await writeFile(dir.join("gw.key"), "plain_text k s3cr3tkey\n");
    const run = await runCli([
      "sync", "--wishlist", file, "--gateway", "http://admin:S3CRET@127.0.0.1:1/api/v1", "--gateway-key", dir.join("gw.key"),
      "--repo-url", "http://admin:S3CRET@127.0.0.1:1/cvmfs/images.local", "--keys-dir", dir.join("k"), "--cache-dir", dir.join("c"),
    ]);
    expect(run.code).toBe(2);
    expect(run.stdout + run.stderr).not.toContain("S3CRET");
    expect(run.stdout + run.stderr).not.toContain("s3cr3tkey");
    expect(run.stderr).toContain("admin:***@");
  });

  it("an interrupted sync publishes nothing and exits 130", async () => {
    const image = await pushImage(registry, "cli/abort:1", { layers: [await buildLayer([{ type: "file", path: "a", content: "a" }])] });
    const file = dir.join("abort.txt");
    await writeFile(file, `${image.reference}\n`);
    const controller = new AbortController();
    controller.abort();
    const run = await runCli(
      ["sync", "--wishlist", file, "--stratum0", dir.join("abort-s0"), "--keys-dir", dir.join("abort-keys"), "--cache-dir", dir.join("abort-cache"), "--insecure-registry", registry.host],
      { signal: controller.signal },
    );
    expect(run.code).toBe(130);
    expect(run.stderr).toContain("E_ABORTED");
    const manifest = await readFile(dir.join("abort-s0", ".cvmfspublished"), "utf8");
    expect(manifest).toMatch(/^S0$/m);
  });
});
