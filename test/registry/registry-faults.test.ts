import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DigestMismatchError } from "../../src/errors.js";
import { memoryLogger } from "../../src/logger.js";
import { createRegistryClient, type RegistryClient } from "../../src/registry/registry-client.js";
import { startFaultyProxy, type FaultyProxy } from "../support/faulty-proxy.js";
import { pushImage, putManifest, type PushedImage } from "../support/image-builder.js";
import { buildLayer, type BuiltLayer } from "../support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe("registry client through a faulty proxy (token auth behind it)", () => {
  let registry: TestRegistry;
  let proxy: FaultyProxy;
  let layer: BuiltLayer;
  let pushed: PushedImage;
  let logger: ReturnType<typeof memoryLogger>;
  let client: RegistryClient;
  const ref = (name = "faults/app:1") => `${proxy.host}/${name}`;
  const layerPath = () => `/blobs/${layer.digest}`;

  beforeAll(async () => {
    registry = await startRegistry("token");
    proxy = await startFaultyProxy(registry);
    layer = await buildLayer([{ type: "file", path: "data.bin", content: { size: 400_000, seed: 11 } }], { compression: "none" });
    pushed = await pushImage(registry, "faults/app:1", { layers: [layer] });
  });
  afterAll(async () => {
    await proxy.stop();
    await registry.stop();
  });
  beforeEach(async () => {
    await client?.close();
    proxy.setRules([]);
    proxy.reset();
    logger = memoryLogger();
    client = createRegistryClient({ insecureRegistries: [proxy.host], authFile: false, logger, retries: 3, retryBaseMs: 5, retryMaxMs: 20, progressIntervalMs: 0 });
    // Get the pull token first, so the exchanges below are the ones under test, not the 401 → token dance.
    await client.resolve(ref());
    proxy.reset();
  });

  it("fails a config blob corrupted on every try with DigestMismatchError, after retries", async () => {
    proxy.setRules([{ kind: "corrupt-byte", match: { method: "GET", path: pushed.configDigest } }]);
    const err = await client.image(ref()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as DigestMismatchError).expected).toBe(pushed.configDigest);
    const gets = proxy.requests.filter((r) => r.path.includes(pushed.configDigest) && r.status === 200);
    expect(gets).toHaveLength(4);
    expect(gets.every((r) => r.fault === "corrupt-byte")).toBe(true);
    expect(logger.events.filter((e) => e.event === "registry.retry").map((e) => e.fields?.["reason"])).toEqual(["corrupt", "corrupt", "corrupt"]);
  });

  it("errors a layer stream whose bytes were corrupted, never passing it as good", async () => {
    const image = await client.image(ref());
    proxy.setRules([{ kind: "corrupt-byte", match: { path: layerPath() }, offset: 1234 }]);
    const err = await readAll(await image.layers[0]!.compressed()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as DigestMismatchError).expected).toBe(layer.digest);
  });

  it("resumes a blob dropped half-way with a Range request (206), digest intact", async () => {
    const image = await client.image(ref());
    proxy.setRules([{ kind: "drop-half", match: { path: layerPath() }, times: 1 }]);
    const bytes = await readAll(await image.layers[0]!.compressed());
    expect(bytes.equals(layer.blob)).toBe(true);
    const gets = proxy.requests.filter((r) => r.path.endsWith(layerPath()));
    expect(gets.map((r) => [r.fault, r.status])).toEqual([["drop-half", 200], [undefined, 206]]);
    const offset = Number(/^bytes=(\d+)-$/.exec(gets[1]!.headers["range"] ?? "")?.[1]);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(Math.floor(layer.size / 2));
    const retry = logger.events.find((e) => e.event === "registry.retry");
    expect(retry?.fields).toMatchObject({ reason: "interrupted", offset });
    const progress = logger.events.filter((e) => e.event === "layer.progress");
    expect(progress.at(-1)?.fields).toMatchObject({ bytes: layer.size, total: layer.size, digest: layer.digest });
  });

  it("resumes a 12 MiB blob and releases the connection when the reader stops early", async () => {
    const big = await buildLayer([{ type: "file", path: "big", content: { size: 12 << 20, seed: 5 } }], { compression: "none" });
    const img = await pushImage(registry, "faults/big:1", { layers: [big] });
    const image = await client.image(ref("faults/big:1"));
    proxy.setRules([{ kind: "drop-half", match: { path: big.digest }, times: 1 }]);
    const bytes = await readAll(await image.layers[0]!.compressed());
    expect(bytes.equals(big.blob)).toBe(true);
    expect(img.layers[0]!.digest).toBe(big.digest);
    const stream = await image.layers[0]!.compressed();
    for await (const chunk of stream) {
      expect((chunk as Buffer).length).toBeGreaterThan(0);
      break;
    }
    expect(stream.destroyed).toBe(true);
    // The next request still gets a connection: nothing was left hanging.
    expect((await client.resolve(ref("faults/big:1"))).digest).toBe(img.manifestDigest);
  });

  it("restarts, skipping what was delivered, when the server ignores Range", async () => {
    const image = await client.image(ref());
    proxy.setRules([
      { kind: "drop-half", match: { path: layerPath() }, times: 1 },
      { kind: "no-range", match: { path: layerPath() } },
    ]);
    const bytes = await readAll(await image.layers[0]!.compressed());
    expect(bytes.equals(layer.blob)).toBe(true);
    const gets = proxy.requests.filter((r) => r.path.endsWith(layerPath()));
    expect(gets.map((r) => r.status)).toEqual([200, 200]);
  });

  it("waits as told by 429 Retry-After, retries 503 twice, then succeeds", async () => {
    proxy.setRules([
      { kind: "status", status: 429, retryAfter: "1", match: { path: "/manifests/" }, times: 1 },
      { kind: "status", status: 503, match: { path: "/manifests/" }, times: 2 },
    ]);
    const resolved = await client.resolve(ref());
    expect(resolved.digest).toBe(pushed.manifestDigest);
    const heads = proxy.requests.filter((r) => r.path.includes("/manifests/"));
    expect(heads.map((r) => r.status)).toEqual([429, 503, 503, 200]);
    const waited = heads[1]!.time - heads[0]!.time;
    expect(waited).toBeGreaterThanOrEqual(990);
    expect(waited).toBeLessThan(2500);
    const retries = logger.events.filter((e) => e.event === "registry.retry");
    expect(retries.map((e) => e.fields?.["status"])).toEqual([429, 503, 503]);
    expect(retries[0]!.fields?.["delayMs"]).toBe(1000);
  });

  it("caps a Retry-After longer than maxRetryAfterMs", async () => {
    const capped = createRegistryClient({ insecureRegistries: [proxy.host], authFile: false, maxRetryAfterMs: 50, retries: 1 });
    await capped.resolve(ref());
    proxy.reset();
    proxy.setRules([{ kind: "status", status: 429, retryAfter: "3600", match: { path: "/manifests/" }, times: 1 }]);
    const t = Date.now();
    await capped.resolve(ref());
    expect(Date.now() - t).toBeLessThan(1000);
    expect(proxy.requests.map((r) => r.status)).toEqual([429, 200]);
    await capped.close();
  });

  it("stops a download when its signal aborts, without retrying", async () => {
    const image = await client.image(ref());
    const ac = new AbortController();
    const stream = await image.layers[0]!.compressed({ signal: ac.signal });
    const err = await (async () => {
      for await (const _ of stream) ac.abort(new Error("stop now"));
    })().catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/stop now|aborted/i);
    expect(logger.events.filter((e) => e.event === "registry.retry")).toEqual([]);
  });

  it("honours an HTTP-date Retry-After", async () => {
    const when = new Date(Date.now() + 2000).toUTCString();
    proxy.setRules([{ kind: "status", status: 429, retryAfter: when, match: { path: "/manifests/" }, times: 1 }]);
    await client.resolve(ref());
    const heads = proxy.requests.filter((r) => r.path.includes("/manifests/"));
    // HTTP dates have one-second resolution: the wait is between 1 and 2 s.
    expect(heads[1]!.time - heads[0]!.time).toBeGreaterThanOrEqual(900);
  });

  it("follows a blob redirect to another host without sending Authorization there", async () => {
    proxy.setRules([{ kind: "redirect", match: { path: layerPath() } }]);
    const image = await client.image(ref());
    const bytes = await readAll(await image.layers[0]!.compressed());
    expect(bytes.equals(layer.blob)).toBe(true);
    const front = proxy.requests.find((r) => r.server === "proxy" && r.path.endsWith(layerPath()));
    const storage = proxy.requests.find((r) => r.server === "storage");
    expect(front?.headers["authorization"]).toMatch(/^Bearer /);
    expect(front?.status).toBe(307);
    expect(storage?.path).toContain("X-Signature=");
    expect(storage?.headers["authorization"]).toBeUndefined();
    expect(storage?.status).toBe(200);
    expect(proxy.storageUrl).toMatch(/^http:\/\/127\.0\.0\.2:/);
  });

  it("falls back to GET when HEAD gives no Docker-Content-Digest", async () => {
    proxy.setRules([{ kind: "no-digest-header", match: { method: "HEAD" } }]);
    const r = await client.resolve(ref());
    expect(r.digest).toBe(pushed.manifestDigest);
    expect(proxy.requests.filter((x) => x.path.includes("/manifests/")).map((x) => x.method)).toEqual(["HEAD", "GET"]);
  });

  it("resolves a tag with exactly one request once the token is cached", async () => {
    await client.resolve(ref());
    proxy.reset();
    await client.resolve(ref());
    expect(proxy.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["HEAD /v2/faults/app/manifests/1"]);
  });

  it("lists 250 tags across pages (n and Link)", async () => {
    const tags = Array.from({ length: 250 }, (_, i) => `t${String(i).padStart(3, "0")}`);
    for (let i = 0; i < tags.length; i += 25) {
      await Promise.all(tags.slice(i, i + 25).map((t) => putManifest(registry, `faults/app:${t}`, pushed.manifest, pushed.manifestMediaType)));
    }
    proxy.setRules([{ kind: "paginate-tags" }]);
    const listed = await client.listTags(ref());
    expect(listed.sort()).toEqual([...tags, "1"].sort());
    const pages = proxy.requests.filter((r) => r.path.includes("/tags/list"));
    expect(pages.map((r) => r.path)).toEqual([
      "/v2/faults/app/tags/list?n=100",
      "/v2/faults/app/tags/list?n=100&last=t098",
      "/v2/faults/app/tags/list?n=100&last=t198",
    ]);
  });

  it("keeps at most `concurrency` requests open at once per registry", async () => {
    const limited = createRegistryClient({ insecureRegistries: [proxy.host], authFile: false, concurrency: 2 });
    await limited.resolve(ref());
    proxy.reset();
    proxy.setRules([{ kind: "status", status: 503, match: { path: "/manifests/" }, times: 0 }]);
    await Promise.all(Array.from({ length: 8 }, () => limited.resolve(ref())));
    expect(proxy.requests).toHaveLength(8);
    expect(proxy.maxInFlight).toBeLessThanOrEqual(2);
    await limited.close();
  });
});
