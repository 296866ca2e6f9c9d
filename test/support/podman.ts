/**
 * Real Podman (Debian's podman 4.3, as root) with a private storage root, for the tests that prove
 * what runtimes read from the repository. Everything Podman keeps (graph root, run root, libpod's
 * tmp dir, its configuration files) lives in one temp dir, so a test never touches the machine's
 * images and never pulls: `run` always passes `--pull never` and `--network none`.
 *
 * The flags this machine needs are here once: `--runtime runc` (crun refuses the hybrid cgroup
 * setup), `--cgroup-manager cgroupfs` (no systemd), `--events-backend none` (no journald), and for
 * containers `--ulimit nofile=10000:10000 --ulimit nproc=1000:1000` (Podman's default nofile limit
 * is above this machine's hard limit).
 *
 *   const podman = await startPodman({ stores: [dir.join("podmanStore")] });
 *   const { stdout } = await podman.run("docker.io/library/centos:7", ["cat", "/etc/os-release"]);
 */
import { readFile, writeFile } from "node:fs/promises";
import { execa, type Result } from "execa";
import type { TestEntry } from "./layer-builder.js";
import { testdir, type Testdir } from "./testdir.js";

export interface PodmanOptions {
  /** Additional (read-only) image stores: absolute paths of store roots. */
  stores?: string[];
  /**
   * How the stores reach Podman: `storage.conf` writes `additionalimagestores = [...]` under
   * `[storage.options]` in a private storage.conf (what a site configures); `flag` passes
   * `--storage-opt additionalimagestore=DIR` (which replaces storage.conf's options). Default `flag`.
   */
  via?: "flag" | "storage.conf";
}

export interface Podman {
  /** The private temp dir: `root/` (graph root), `run/` (run root), `tmp/`, the config files. */
  readonly dir: Testdir;
  /** `podman GLOBAL-FLAGS ...args`; never throws on a non-zero exit (check `exitCode`). */
  exec(args: string[]): Promise<Result<{ reject: false }>>;
  /** `podman run --rm --pull never --network none --ulimit ... IMAGE ...command`, plus `extra` run flags. */
  run(image: string, command: string[], extra?: string[]): Promise<Result<{ reject: false }>>;
  /** Unmount whatever Podman left mounted under `dir`, then remove it. */
  cleanup(): Promise<void>;
}

/**
 * Whether the Podman tests can run here: they need root (rootless Podman needs fuse-overlayfs,
 * subordinate IDs and a user session). Podman itself missing is a failure, not a skip: the
 * install script installs it.
 */
export const podmanAsRoot = process.getuid?.() === 0;

/** The `podman run` flags every test container needs on this machine. */
export const PODMAN_RUN_FLAGS = ["--rm", "--pull", "never", "--network", "none", "--ulimit", "nofile=10000:10000", "--ulimit", "nproc=1000:1000"];

export async function startPodman(options: PodmanOptions = {}): Promise<Podman> {
  const dir = await testdir({ "root/": "", "run/": "", "tmp/": "" }, "cis-podman-");
  const stores = options.stores ?? [];
  const via = options.via ?? "flag";
  const storageConf = [
    "[storage]",
    'driver = "overlay"',
    `graphroot = ${JSON.stringify(dir.join("root"))}`,
    `runroot = ${JSON.stringify(dir.join("run"))}`,
    "[storage.options]",
    ...(via === "storage.conf" ? [`additionalimagestores = ${JSON.stringify(stores)}`] : []),
    "",
  ].join("\n");
  await writeFile(dir.join("storage.conf"), storageConf);
  // An empty containers.conf: the machine's own settings never leak into a test.
  await writeFile(dir.join("containers.conf"), "");
  const env = { CONTAINERS_STORAGE_CONF: dir.join("storage.conf"), CONTAINERS_CONF: dir.join("containers.conf") };
  // With `--storage-driver` on the command line, Podman drops storage.conf's driver options (the
  // additional stores among them), so the storage.conf variant names root, run root and driver there only.
  const storageFlags = ["--root", dir.join("root"), "--runroot", dir.join("run"), "--storage-driver", "overlay"];
  const global = [
    ...(via === "flag" ? [...storageFlags, ...stores.map((s) => `--storage-opt=additionalimagestore=${s}`)] : []),
    "--tmpdir",
    dir.join("tmp"),
    "--runtime",
    "runc",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "none",
  ];
  const exec = (args: string[]) => execa("podman", [...global, ...args], { env, reject: false, stdin: "ignore" });
  return {
    dir,
    exec,
    run: (image, command, extra = []) => exec(["run", ...PODMAN_RUN_FLAGS, ...extra, image, ...command]),
    async cleanup() {
      const mounts = (await readFile("/proc/self/mountinfo", "utf8"))
        .split("\n")
        .map((line) => line.split(" ")[4] ?? "")
        .filter((point) => point.startsWith(`${dir.path}/`))
        .sort()
        .reverse();
      for (const point of mounts) await execa("umount", ["-l", point], { reject: false });
      await dir.cleanup();
    },
  };
}

/** The host's `cat`, its dynamic loader and libc, as layer entries: enough for `podman run IMAGE cat FILE`. */
export async function catEntries(): Promise<TestEntry[]> {
  return [
    { type: "file", path: "bin/cat", content: await readFile("/usr/bin/cat"), mode: 0o755 },
    { type: "file", path: "lib64/ld-linux-x86-64.so.2", content: await readFile("/lib64/ld-linux-x86-64.so.2"), mode: 0o755 },
    { type: "file", path: "lib/x86_64-linux-gnu/libc.so.6", content: await readFile("/lib/x86_64-linux-gnu/libc.so.6"), mode: 0o755 },
  ];
}
