/**
 * `npm run demo`: the main job end to end on this machine alone. Starts a throwaway OCI registry
 * on 127.0.0.1 (Debian's docker-registry), pushes two small images built in code that share a
 * base layer, then runs `sync` on the embedded default (the local stratum 0 ./stratum0/images.local,
 * keys in ./keys) with a wishlist naming them, and `verify`. Run it twice: the second sync
 * publishes nothing. With real registries, skip all this and run `npx cvmfs-image-sync sync`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { main } from "../src/cli/main.js";
import { buildLayer, type TestEntry } from "../test/support/layer-builder.js";
import { pushImage } from "../test/support/image-builder.js";
import { startRegistry } from "../test/support/registry.js";

const workDir = resolve(process.env["DEMO_DIR"] ?? "demo");
await mkdir(workDir, { recursive: true });
const registry = await startRegistry("anonymous", { parentDir: workDir });
try {
  const base: TestEntry[] = [
    { type: "dir", path: "etc" },
    { type: "file", path: "etc/os-release", content: 'NAME="Demo Linux"\nVERSION_ID="1.0"\n' },
    { type: "file", path: "etc/passwd", content: "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n" },
    { type: "dir", path: "usr/bin" },
    { type: "file", path: "usr/bin/tool", content: "#!/bin/sh\necho demo tool\n", mode: 0o755 },
    { type: "file", path: "usr/bin/su", content: "setuid demo\n", mode: 0o4755 },
    { type: "symlink", path: "bin", target: "usr/bin" },
    { type: "file", path: "usr/share/data.bin", content: { size: 6 << 20, seed: 1 } },
  ];
  const baseLayer = await buildLayer(base);
  const appLayer = await buildLayer([
    { type: "dir", path: "opt/app", uid: 1000, gid: 1000 },
    { type: "file", path: "opt/app/run.sh", content: "#!/bin/sh\necho hello from the app\n", mode: 0o755, uid: 1000, gid: 1000 },
    { type: "whiteout", path: "usr/bin/su" },
  ]);
  await pushImage(registry, "demo/base:1.0", { layers: [baseLayer], config: { Env: ["PATH=/usr/bin:/bin"], Cmd: ["/bin/sh"] } });
  await pushImage(registry, "demo/app:2.1", {
    layers: [baseLayer, appLayer],
    config: { Env: ["PATH=/usr/bin:/bin", "APP_HOME=/opt/app"], Entrypoint: ["/opt/app/run.sh"], Labels: { maintainer: "demo" } },
  });
  const wishlist = join(workDir, "images.txt");
  await writeFile(wishlist, `# demo wishlist: images in the throwaway registry\n${registry.host}/demo/base:1.0\n${registry.host}/demo/app:2.1\n`);
  console.log(`registry ${registry.url} with demo/base:1.0 and demo/app:2.1; wishlist ${wishlist}\n`);

  const common = ["--insecure-registry", registry.host, "--cache-dir", join(workDir, "cache")];
  const synced = await main(["sync", "--wishlist", wishlist, ...common]);
  if (synced !== 0) process.exitCode = synced;
  console.log("");
  const verified = await main(["verify"]);
  if (verified !== 0) process.exitCode = verified;
  console.log(`\nthe repository is in ./stratum0/images.local (public master key ./keys/images.local.pub)`);
  console.log("serve it with: npx cvmfs-image-sync serve --port 8080");
} finally {
  await registry.stop();
}
