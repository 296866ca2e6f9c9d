import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultyProxy, type FaultyProxy } from "./faulty-proxy.js";
import { pushImage, type PushedImage } from "./image-builder.js";
import { buildLayer } from "./layer-builder.js";
import { startRegistry, type TestRegistry } from "./registry.js";

describe("faulty proxy", () => {
  let registry: TestRegistry;
  let proxy: FaultyProxy;
  let pushed: PushedImage;
  beforeAll(async () => {
    registry = await startRegistry("anonymous");
    proxy = await startFaultyProxy(registry);
    pushed = await pushImage(registry, "p/app:1", { layers: [await buildLayer([{ type: "file", path: "f", content: "0123456789" }], { compression: "none" })] });
  });
  afterAll(async () => {
    await proxy.stop();
    await registry.stop();
  });

  it("passes requests through unchanged and records them", async () => {
    proxy.reset();
    const res = await request(`${proxy.url}/v2/p/app/blobs/${pushed.configDigest}`);
    expect(Buffer.from(await res.body.arrayBuffer()).equals(pushed.config)).toBe(true);
    expect(proxy.requests).toMatchObject([{ server: "proxy", method: "GET", status: 200, path: `/v2/p/app/blobs/${pushed.configDigest}` }]);
  });

  it("applies a rule only `times` times, and flips exactly one byte", async () => {
    proxy.setRules([{ kind: "corrupt-byte", offset: 0, times: 1 }]);
    const first = Buffer.from(await (await request(`${proxy.url}/v2/p/app/blobs/${pushed.configDigest}`)).body.arrayBuffer());
    const second = Buffer.from(await (await request(`${proxy.url}/v2/p/app/blobs/${pushed.configDigest}`)).body.arrayBuffer());
    expect(first[0]).toBe(pushed.config[0]! ^ 0xff);
    expect(first.subarray(1).equals(pushed.config.subarray(1))).toBe(true);
    expect(second.equals(pushed.config)).toBe(true);
    proxy.setRules([]);
  });

  it("answers injected statuses with Retry-After without reaching the registry", async () => {
    proxy.setRules([{ kind: "status", status: 429, retryAfter: "3", times: 1 }]);
    const res = await request(`${proxy.url}/v2/`);
    expect(res.statusCode).toBe(429);
    expect(res.headers["retry-after"]).toBe("3");
    expect(await res.body.json()).toEqual({ errors: [{ code: "TOOMANYREQUESTS", message: "injected fault" }] });
    proxy.setRules([]);
  });
});
