/**
 * A repository for the status page's tests: a real registry with images built in code, a
 * wishlist with a line that fails, and a `sync --report` into a local stratum 0, run through the
 * CLI as users run it. Two images share a base layer (a 300,000-byte file), so file-level dedup
 * has something to save; one image carries hostile labels and a name that must be escaped.
 */
import { writeFile } from "node:fs/promises";
import { pushImage, retag, type PushedImage } from "../support/image-builder.js";
import { buildLayer } from "../support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { runCli, type CliRun } from "../support/run-cli.js";
import { testdir, type Testdir } from "../support/testdir.js";

export const REPO = "images.status.test";
/** The base layer's big file: shared by both images, stored once. */
export const SHARED_BYTES = 300_000;
export const HOSTILE_LABEL = `<script>document.title="pwned"</script><img src=http://127.0.0.1:9/x.png>`;

export interface StatusFixture {
  registry: TestRegistry;
  dir: Testdir;
  images: { app: PushedImage; tool: PushedImage };
  /** `--repo`, `--stratum0`, `--keys-dir` and friends, for any command. */
  common: string[];
  /** The wishlist, as written. */
  lines: string[];
  /** The first sync's report and result. */
  reportFile: string;
  sync: CliRun;
  close(): Promise<void>;
}

export async function makeStatusFixture(): Promise<StatusFixture> {
  const registry = await startRegistry("anonymous");
  const dir = await testdir({}, "cis-status-");
  const base = await buildLayer([
    { type: "dir", path: "etc" },
    { type: "file", path: "etc/os-release", content: 'NAME="Test Linux"\n' },
    { type: "dir", path: "usr/lib" },
    { type: "file", path: "usr/lib/libshared.so", content: { size: SHARED_BYTES, seed: 7 } },
  ]);
  const appLayer = await buildLayer([
    { type: "dir", path: "opt/app" },
    { type: "file", path: "opt/app/run", content: "#!/bin/sh\necho app\n", mode: 0o755 },
  ]);
  const toolLayer = await buildLayer([
    { type: "dir", path: "opt/tool" },
    { type: "file", path: "opt/tool/run", content: "#!/bin/sh\necho tool\n", mode: 0o755 },
  ]);
  const app = await pushImage(registry, "sites/app:1", {
    layers: [base, appLayer],
    config: {
      Entrypoint: ["/opt/app/run"],
      Cmd: ["--serve", "port 8080"],
      Env: ["PATH=/usr/bin:/bin", "APP_HOME=/opt/app"],
      WorkingDir: "/opt/app",
      Labels: { "org.opencontainers.image.title": "App <b>one</b>", "site.example/evil": HOSTILE_LABEL },
    },
  });
  const tool = await pushImage(registry, "sites/tool:1", { layers: [base, toolLayer], config: { Cmd: ["/opt/tool/run"] } });
  await retag(registry, "sites/tool:1", "latest");
  const lines = [
    `${registry.host}/sites/app:1`,
    `${registry.host}/sites/tool:1`,
    `${registry.host}/sites/tool:latest`,
    `${registry.host}/sites/missing:1`,
  ];
  await writeFile(dir.join("images.txt"), `# images of the site\n${lines.join("\n")}\n`);
  const common = ["--repo", REPO, "--stratum0", dir.join("s0"), "--keys-dir", dir.join("keys"), "--cache-dir", dir.join("cache"), "--quiet"];
  const reportFile = dir.join("report-1.json");
  const sync = await runCli(["sync", "--wishlist", dir.join("images.txt"), "--insecure-registry", registry.host, "--owner", "sites/images", "--report", reportFile, ...common]);
  return {
    registry,
    dir,
    images: { app, tool },
    common,
    lines,
    reportFile,
    sync,
    async close() {
      await registry.stop();
      await dir.cleanup();
    },
  };
}
