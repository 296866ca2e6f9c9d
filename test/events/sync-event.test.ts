/**
 * `sync --event` end to end with the real registry: Debian's docker-registry sends its
 * notifications (configured as the README says) to a small HTTP sink; `skopeo copy` to a wishlist
 * tag makes the registry send one; the captured body, wrapped as GitLab's webhook trigger wraps
 * it, is fed to `sync --event`. The registry's access log shows what the run asked of it.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepositoryReader } from "../../src/cvmfs/repository/repository-reader.js";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { createLayout } from "../../src/published/layout.js";
import { pushImage, type PushedImage } from "../support/image-builder.js";
import { buildLayer } from "../support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { runCli } from "../support/run-cli.js";
import { testdir, type Testdir } from "../support/testdir.js";

const FQRN = "events.test.org";
const layout = createLayout();
let registry: TestRegistry;
let sink: Server;
let dir: Testdir;
const received: string[] = [];
const images: Record<string, PushedImage> = {};

/** Registry notifications as the README's setup sends them: manifest pushes and deletes only. */
function notifications(url: string): string {
  return (
    `notifications:\n  endpoints:\n    - name: gitlab\n      url: ${url}\n      timeout: 2s\n      threshold: 3\n      backoff: 200ms\n` +
    `      ignore:\n        mediatypes:\n          - application/octet-stream\n        actions:\n          - pull\n          - mount\n`
  );
}

async function push(name: string, content: string): Promise<PushedImage> {
  const layer = await buildLayer([{ type: "file", path: "etc/release", content }]);
  return pushImage(registry, name, { layers: [layer], config: { Env: [`RELEASE=${content.trim()}`] } });
}

const common = () => [
  "--repo", FQRN,
  "--stratum0", dir.join("s0"),
  "--keys-dir", dir.join("keys"),
  "--cache-dir", dir.join("cache"),
  "--insecure-registry", registry.host,
  "--wishlist", dir.join("images.txt"),
  "--owner", "site",
  "--keep-removed", "0",
];

/** `skopeo copy` from a staging repository to `name`: returns the notification bodies it produced. */
async function copyTo(source: string, name: string): Promise<string[]> {
  received.length = 0;
  await execa("skopeo", ["copy", "--src-tls-verify=false", "--dest-tls-verify=false", `docker://${registry.host}/${source}`, `docker://${registry.host}/${name}`]);
  const deadline = Date.now() + 10_000;
  while (!received.some((b) => b.includes(`"tag": "${name.split(":")[1]}"`))) {
    if (Date.now() > deadline) throw new Error(`no notification for ${name}: ${received.join("\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return [...received];
}

/** The body as TRIGGER_PAYLOAD holds it: GitLab mixes its own keys into the webhook's JSON. */
async function triggerPayload(body: string, file: string): Promise<string> {
  const p = dir.join(file);
  await writeFile(p, JSON.stringify({ ...(JSON.parse(body) as object), id: "1217", ref: "main", variables: {} }));
  return p;
}

/** What the registry was asked while `work` ran: "METHOD /path" per request, in order. */
async function requestsDuring(work: () => Promise<void>): Promise<string[]> {
  const before = registry.accessLog().length;
  await work();
  // A marker request: once its line is in the log, every earlier request's line is too.
  const marker = `/v2/marker-${Date.now()}/tags/list`;
  await (await request(`${registry.url}${marker}`)).body.dump();
  for (let i = 0; i < 200 && !registry.accessLog().some((l) => l.includes(marker)); i++) await new Promise((r) => setTimeout(r, 20));
  const lines = registry.accessLog().slice(before);
  const requests = lines.map((l) => /"(\w+) (\S+) HTTP/.exec(l)).flatMap((m) => (m ? [`${m[1]} ${m[2]}`] : []));
  return requests.filter((r) => !r.includes(marker));
}

/** Each wishlist name → the image directory its link points at (undefined: no such name). */
async function names(): Promise<{ revision: number; links: Record<string, string | undefined> }> {
  const reader = await RepositoryReader.open({ dir: dir.join("s0") }, { fqrn: FQRN });
  try {
    const links: Record<string, string | undefined> = {};
    for (const name of ["/sites/app:1", "/sites/tool:1", "/sites/lib:1", "/sites/lib:2"]) {
      const entry = await reader.lookup(name);
      links[name] = entry ? path.posix.resolve(path.posix.dirname(name), entry.symlink) : undefined;
    }
    return { revision: reader.manifest.revision, links };
  } finally {
    await reader.close();
  }
}

beforeAll(async () => {
  sink = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      received.push(body);
      res.end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/api/v4/projects/1217/ref/main/trigger/pipeline?token=glptt-test`;
  registry = await startRegistry("anonymous", { extraConfig: notifications(sinkUrl), accessLog: true });
  dir = await testdir();
  images["app:1"] = await push("sites/app:1", "app 1\n");
  images["tool:1"] = await push("sites/tool:1", "tool 1\n");
  images["lib:1"] = await push("sites/lib:1", "lib 1\n");
  images["app:2"] = await push("staging/app:2", "app 2\n");
  images["lib:2"] = await push("staging/lib:2", "lib 2\n");
  images["other:1"] = await push("staging/other:1", "other 1\n");
  await writeFile(dir.join("images.txt"), `${registry.host}/sites/app:1\n${registry.host}/sites/tool:1\n${registry.host}/sites/lib:*\n`);
  const first = await runCli(["sync", ...common()]);
  expect(first.code, first.stdout + first.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  await new Promise((resolve) => sink?.close(resolve));
  await dir?.cleanup();
});

describe("sync --event with the real registry's notifications", () => {
  it("a push to a wishlist tag publishes that image and asks the registry about nothing else", async () => {
    const before = await names();
    const bodies = await copyTo("staging/app:2", "sites/app:1");
    // The README's endpoint settings: one notification, the manifest push with its tag.
    expect(bodies).toHaveLength(1);
    const event = await triggerPayload(bodies[0]!, "push-app.json");

    const plan = await runCli(["plan", "--event", event, ...common()]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/update\s+\/sites\/app:1/);
    expect(plan.stdout).not.toMatch(/sites\/(tool|lib)/);

    let run = { code: -1, stdout: "", stderr: "" };
    const asked = await requestsDuring(async () => {
      run = await runCli(["sync", "--event", event, ...common()]);
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/sites\/app:1\s+update\s+sha256:/);
    expect(run.stdout).toMatch(/published revision \d+; 0 failed/);
    expect(asked).toContain("HEAD /v2/sites/app/manifests/1");
    for (const r of asked) expect(r).toMatch(/^(GET|HEAD) \/v2\/(sites\/app\/(manifests|blobs)\/\S+)?$/);

    // The same event again: the tag did not move, so one HEAD and nothing published.
    const again = await requestsDuring(async () => {
      run = await runCli(["sync", "--event", event, ...common()]);
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/nothing to publish; 0 failed/);
    expect(again.filter((r) => r !== "GET /v2/")).toEqual(["HEAD /v2/sites/app/manifests/1"]);

    const after = await names();
    expect(after.revision).toBe(before.revision + 1);
    expect(after.links).toEqual({ ...before.links, "/sites/app:1": layout.imageDir(images["app:2"]!.configDigest) });
    expect((await verifyRepository({ dir: dir.join("s0") }, { fqrn: FQRN })).problems).toEqual([]);
  });

  it("only the event's image is fetched: no HEAD, tag list or blob of the other lines", async () => {
    const bodies = await copyTo("staging/lib:2", "sites/lib:2");
    const event = await triggerPayload(bodies.at(-1)!, "push-lib.json");
    const before = await names();
    let run = { code: -1, stdout: "", stderr: "" };
    const asked = await requestsDuring(async () => {
      run = await runCli(["sync", "--event", event, ...common()]);
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/sites\/lib:2\s+add\s+sha256:/);
    expect(run.stdout).toMatch(/published revision \d+; 0 failed/);
    // The pattern line sites/lib:* matched the pushed tag without listing the repository's tags.
    expect(asked.length).toBeGreaterThan(1);
    for (const r of asked) expect(r).toMatch(/^(GET|HEAD) \/v2\/(sites\/lib\/(manifests|blobs)\/\S+)?$/);
    const after = await names();
    expect(after.links).toEqual({ ...before.links, "/sites/lib:2": layout.imageDir(images["lib:2"]!.configDigest) });
  });

  it("an event for a repository that does not exist yet creates it with that image only", async () => {
    const event = dir.join("push-lib.json");
    const fresh = ["--stratum0", dir.join("fresh-s0")];
    const plan = await runCli(["plan", "--event", event, ...common(), ...fresh]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/add\s+\/sites\/lib:2/);
    const run = await runCli(["sync", "--event", event, ...common(), ...fresh]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const reader = await RepositoryReader.open({ dir: dir.join("fresh-s0") }, { fqrn: FQRN });
    try {
      expect((await reader.listing("/sites")).map((e) => e.name)).toEqual(["lib:2"]);
    } finally {
      await reader.close();
    }
  });

  it("a tag moved to an image another name already has: the name moves, nothing is converted again", async () => {
    const bodies = await copyTo("staging/app:2", "sites/tool:1");
    const event = await triggerPayload(bodies.at(-1)!, "push-tool.json");
    const before = await names();
    let run = { code: -1, stdout: "", stderr: "" };
    const asked = await requestsDuring(async () => {
      run = await runCli(["sync", "--event", event, ...common(), "--log-format", "json"]);
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/sites\/tool:1\s+update\s+sha256:/);
    expect(run.stderr).not.toContain('"event":"image.layers"');
    // The image was published by an event (not yet in the index) and is found by its config.
    const [manifest] = bodies.at(-1)!.match(/sha256:[a-f0-9]{64}/) ?? [];
    expect(asked).toEqual(["HEAD /v2/sites/tool/manifests/1", `GET /v2/sites/tool/manifests/${manifest}`, `GET /v2/sites/tool/blobs/${images["app:2"]!.configDigest}`]);
    expect((await names()).links).toEqual({ ...before.links, "/sites/tool:1": layout.imageDir(images["app:2"]!.configDigest) });
  });

  it("the next full sync indexes what the events published and removes the images they left", async () => {
    const run = await runCli(["sync", ...common(), "--log-format", "json"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.events().find((e) => e["event"] === "sync.index")?.["reason"]).toBe("stale");
    const removed = run.events().filter((e) => e["event"] === "image.removed").map((e) => e["imageDir"]);
    expect(removed.sort()).toEqual(["app:1", "tool:1"].map((left) => layout.imageDir(images[left]!.configDigest)).sort());
    const again = await runCli(["sync", ...common()]);
    expect(again.stdout).toMatch(/nothing to publish; 0 failed/);
    expect((await verifyRepository({ dir: dir.join("s0") }, { fqrn: FQRN })).problems).toEqual([]);
  });

  it("an event for an image not on the wishlist: one line, exit 0, no registry request, nothing published", async () => {
    const bodies = await copyTo("staging/other:1", "sites/other:1");
    const event = await triggerPayload(bodies.at(-1)!, "push-other.json");
    const before = await names();
    let run = { code: -1, stdout: "", stderr: "" };
    const asked = await requestsDuring(async () => {
      run = await runCli(["sync", "--event", event, ...common()]);
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`distribution registry notification: ${registry.host}/sites/other:1 not on the wishlist; nothing to sync\n`);
    expect(asked).toEqual([]);
    expect((await names()).revision).toBe(before.revision);
  });

  it("a delete notification publishes nothing, and removes nothing", async () => {
    const before = await names();
    const digest = (await request(`${registry.url}/v2/sites/tool/manifests/1`, { method: "HEAD", headers: { accept: images["tool:1"]!.manifestMediaType } })).headers["docker-content-digest"];
    received.length = 0;
    await (await request(`${registry.url}/v2/sites/tool/manifests/${String(digest)}`, { method: "DELETE" })).body.dump();
    for (let i = 0; i < 200 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const run = await runCli(["sync", "--event", await triggerPayload(received[0]!, "delete.json"), ...common()]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("distribution registry notification: no tag pushed (a delete (removals stay the wishlist's job)); nothing to sync\n");
    expect(await names()).toEqual(before);
  });

  it("a malformed payload: exit 2 with E_EVENT, nothing published", async () => {
    const before = await names();
    await writeFile(dir.join("bad.json"), JSON.stringify({ id: "1217", ref: "main", events: [{ action: "push", target: { mediaType: "application/vnd.oci.image.manifest.v1+json", tag: "1" } }] }));
    const run = await runCli(["sync", "--event", dir.join("bad.json"), ...common()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/error \[E_EVENT\]: .*bad\.json: a distribution registry notification, but events\.0: a tag push without request\.host/);
    const missing = await runCli(["sync", "--event", "", ...common()]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/E_EVENT.*is TRIGGER_PAYLOAD empty/);
    expect((await names()).revision).toBe(before.revision);
  });
});
