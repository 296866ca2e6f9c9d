/**
 * SIGTERM at several moments of a local sync, in a child process running the CLI: the exit code
 * is 130 whatever the moment, the repository is at the old or at the new revision, whole, and
 * the message says which. A run that goes well leaves no temp files behind.
 */
import { execa } from "execa";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Stratum0 } from "../../src/cvmfs/repository/stratum0.js";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { pushImage } from "../support/image-builder.js";
import { buildLayer } from "../support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { testdir, type Testdir } from "../support/testdir.js";

const FQRN = "interrupt.test";
let registry: TestRegistry;
let dir: Testdir;
let wishlist: string;

beforeAll(async () => {
  dir = await testdir({ "tmp/": "" });
  registry = await startRegistry("anonymous");
  const files = Array.from({ length: 40 }, (_, i) => ({ type: "file" as const, path: `data/f${i}`, content: `file ${i}\n`.repeat(100) }));
  const image = await pushImage(registry, "cli/interrupt:1", { layers: [await buildLayer(files)] });
  wishlist = dir.join("images.txt");
  await writeFile(wishlist, `${image.reference}\n`);
});
afterAll(async () => {
  await registry?.stop();
  await dir?.cleanup();
});

/** Run `sync` in a child on a fresh repository (revision 0), with SIGTERM at `moment`. */
async function syncInterrupted(moment: string) {
  const s0 = dir.join(`s0-${moment.replace(/\W/g, "-")}`);
  await (await Stratum0.openOrCreate(s0, { fqrn: FQRN, keysDir: dir.join("keys") })).close();
  const child = await execa(
    process.execPath,
    [
      "--import", "tsx", join(import.meta.dirname, "_interrupt-child.ts"), moment, s0,
      "sync", "--wishlist", wishlist, "--repo", FQRN, "--keys-dir", dir.join("keys"), "--cache-dir", dir.join("cache"),
      "--insecure-registry", registry.host,
    ],
    { cwd: join(import.meta.dirname, "..", ".."), reject: false, timeout: 30_000, env: { TMPDIR: dir.join("tmp") } },
  );
  const revision = Number(/^S(\d+)$/m.exec(await readFile(join(s0, ".cvmfspublished"), "latin1"))?.[1]);
  const { problems } = await verifyRepository({ dir: s0 }, { fqrn: FQRN, pubkeyPath: dir.join("keys", `${FQRN}.pub`) });
  const message = child.stderr.split("\n").filter((l) => l.startsWith("error ")).pop() ?? "";
  return { child, revision, problems, message, s0 };
}

describe("a sync interrupted by SIGTERM", () => {
  it("before anything is published: exit 130, the old revision, and it says so", async () => {
    const r = await syncInterrupted("event:image.resolve");
    expect(r.child.exitCode).toBe(130);
    expect(r.revision).toBe(0);
    expect(r.problems).toEqual([]);
    expect(r.message).toMatch(/^error \[E_ABORTED\]: interrupted by SIGTERM; this run published nothing/);
  });

  it("right after the publish: exit 130, the new revision, and it says so", async () => {
    const r = await syncInterrupted("event:stratum0.publish");
    expect(r.child.exitCode).toBe(130);
    expect(r.revision).toBe(1);
    expect(r.problems).toEqual([]);
    expect(r.message).toBe("error [E_ABORTED]: interrupted by SIGTERM; the repository is at revision 1, published by this run");
  });

  it("while the publish is under way: exit 130, whichever revision it is, the message agrees", async () => {
    const r = await syncInterrupted("publishing");
    expect(r.child.exitCode).toBe(130);
    expect(r.problems).toEqual([]);
    if (r.revision === 1) expect(r.message).toMatch(/the repository is at revision 1, published by this run$/);
    else expect(r.message).toMatch(/this run published nothing: the repository is as it was$/);
  });

  it("after the run ended, while the process winds down: still exit 130, naming the revision", async () => {
    const r = await syncInterrupted("after");
    expect(r.child.exitCode).toBe(130);
    expect(r.revision).toBe(1);
    expect(r.message).toBe("error [E_ABORTED]: interrupted by SIGTERM after the run ended; the repository is at revision 1, published by this run");
    expect(r.child.stdout).toMatch(/published revision 1/);
  });

  it("never: exit 0, and no temp file of the run stays behind", async () => {
    const r = await syncInterrupted("none");
    expect(r.child.exitCode).toBe(0);
    expect(r.revision).toBe(1);
    expect((await readdir(dir.join("tmp"))).filter((n) => n.startsWith("cvmfs-"))).toEqual([]);
    expect(await readdir(join(r.s0, "data", "txn"))).toEqual([]);
  });
});
