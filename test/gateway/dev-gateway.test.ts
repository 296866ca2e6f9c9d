import { hostname } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayClient } from "../../src/gateway/gateway-client.js";
import { GatewayKey } from "../../src/gateway/key-file.js";
import { packHeader, packStream, payloadMessage } from "../../src/gateway/object-pack.js";
import { hmacSign } from "../../src/gateway/hmac.js";
import { FQRN, makeObjects, snapshot, startHarness, storedObject, type Harness } from "./_harness.js";

let h: Harness;
let client: GatewayClient;
let commitCalls = 0;
let failNextCommit = false;

beforeAll(async () => {
  h = await startHarness({
    maxLeaseTime: 3600,
    commit: async () => {
      commitCalls++;
      if (failNextCommit) {
        failNextCommit = false;
        throw new Error("simulated merge failure");
      }
      return 7;
    },
  });
  client = new GatewayClient({ url: h.apiUrl, key: h.key });
});
afterAll(() => h.close());

async function raw(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) {
  const r = await request(`${h.apiUrl}${path}`, { method: method as "GET", body, headers });
  return { status: r.statusCode, type: r.headers["content-type"], text: await r.body.text() };
}

describe("dev gateway over HTTP", () => {
  it("answers the read-only routes as text/plain JSON", async () => {
    const root = await raw("GET", "");
    expect(root.status).toBe(200);
    expect(root.type).toBe("text/plain; charset=utf-8");
    expect(JSON.parse(root.text)).toHaveProperty("welcome");
    expect(JSON.parse((await raw("GET", "/repos")).text)).toEqual({
      status: "ok",
      data: { [FQRN]: { keys: { k1: "/", k2: "/sub" }, enabled: true } },
    });
    expect(JSON.parse((await raw("GET", `/repos/${FQRN}`)).text)).toEqual({ status: "ok", data: { keys: { k1: "/", k2: "/sub" }, enabled: true } });
    expect(JSON.parse((await raw("GET", "/repos/nope.org")).text)).toEqual({ status: "error", reason: "invalid_repo" });
    const bad = await raw("GET", "/leases/NOTATOKEN");
    expect([bad.status, bad.text]).toEqual([500, "invalid lease"]);
    expect((await raw("DELETE", "/leases/")).status).toBe(307);
  });

  it("leases, lists, refuses overlaps with a Go duration, and drops", async () => {
    const token = await client.acquire(FQRN, "/foo", { hostname: "builder" });
    expect(token).toMatch(/^[A-Z2-7]{52}====$/);
    const list = JSON.parse((await raw("GET", "/leases")).text);
    expect(list.status).toBe("ok");
    expect(list.data[`${FQRN}/foo`]).toMatchObject({ key_id: "k1", path: `${FQRN}/foo`, hostname: "builder" });
    expect(list.data[`${FQRN}/foo`].expires).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);
    expect(JSON.parse((await raw("GET", `/leases/${token}`)).text).data.path).toBe(`${FQRN}/foo`);
    const body = JSON.stringify({ path: `${FQRN}/foobar`, api_version: "2", hostname: "x" });
    const busy = JSON.parse((await raw("POST", "/leases", body, { authorization: h.key.authorization(body) })).text);
    expect(busy.status).toBe("path_busy");
    expect(busy.time_remaining).toMatch(/^59m5\d(\.\d+)?s$/);
    await expect(client.acquire(FQRN, "/foo/bar", { waitMs: 300, minDelayMs: 50 })).rejects.toMatchObject({ code: "E_GATEWAY_BUSY" });
    await client.drop(token);
    await expect(client.drop(token)).rejects.toMatchObject({ reason: "invalid lease" });
    const t2 = await client.acquire(FQRN, "/foobar");
    await client.drop(t2);
  });

  it("waits for a busy path and gets it once the holder drops", async () => {
    const first = await client.acquire(FQRN, "/wait");
    const started = Date.now();
    setTimeout(() => void client.drop(first), 400);
    const second = await client.acquire(FQRN, "/wait/inner", { minDelayMs: 100, maxDelayMs: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    await client.drop(second);
  });

  it("answers auth and path refusals with HTTP 200 and the gateway's reasons", async () => {
    const body = JSON.stringify({ path: `${FQRN}/x`, api_version: "2" });
    const cases: Array<[string, Record<string, string>, string]> = [
      [body, { authorization: `k1 ${hmacSign("wrong", body)}` }, "invalid_hmac"],
      [body, { authorization: `k9 ${hmacSign("s", body)}` }, "invalid_hmac"],
      [body, {}, "invalid_hmac"],
      [body, { authorization: h.narrowKey.authorization(body) }, "authorization error: invalid_path"],
    ];
    for (const [b, headers, reason] of cases) {
      const r = await raw("POST", "/leases", b, headers);
      expect([r.status, JSON.parse(r.text)]).toEqual([200, { status: "error", reason }]);
    }
    const other = JSON.stringify({ path: "other.org/x", api_version: "2" });
    expect(JSON.parse((await raw("POST", "/leases", other, { authorization: h.key.authorization(other) })).text).reason).toBe(
      "repository not found: %!w(<nil>)",
    );
    const noSlash = JSON.stringify({ path: FQRN, api_version: "2" });
    expect(JSON.parse((await raw("POST", "/leases", noSlash, { authorization: h.key.authorization(noSlash) })).text).reason).toBe(
      "missing repository name or subpath",
    );
    const numeric = JSON.stringify({ path: `${FQRN}/x`, api_version: 2 });
    expect((await raw("POST", "/leases", numeric, { authorization: h.key.authorization(numeric) })).status).toBe(400);
    await expect(new GatewayClient({ url: h.apiUrl, key: new GatewayKey("k1", "bad") }).acquire(FQRN, "/x")).rejects.toMatchObject({
      code: "E_GATEWAY",
      reason: "invalid_hmac",
    });
    const narrow = new GatewayClient({ url: h.apiUrl, key: h.narrowKey });
    await narrow.drop(await narrow.acquire(FQRN, "/sub/deeper"));
  });

  it("stores uploaded packs, split by the limits, and counts what it received", async () => {
    const objs = await makeObjects(join(h.root, "in"), 7, "up");
    const token = await client.acquire(FQRN, "/up");
    const before = { ...h.handler.stats };
    const r = await client.upload(token, objs, { maxObjects: 3 });
    expect(r.packs).toBe(3);
    for (const o of objs) expect(await storedObject(h.stratum0, o)).toBe(true);
    expect(h.handler.stats.payloads - before.payloads).toBe(3);
    expect(h.handler.stats.payloadBytes - before.payloadBytes).toBe(r.bytes);
    expect(h.handler.stats.objectsStored - before.objectsStored).toBe(7);
    // Same objects again: accepted, nothing new stored.
    await client.upload(token, objs.slice(0, 2));
    expect(h.handler.stats.objectsStored - before.objectsStored).toBe(7);
    // An empty pack is valid.
    expect((await client.upload(token, [])).packs).toBe(0);
    await client.submitPayload(token, []);
    await client.drop(token);
  });

  it("accepts /payloads/<token> with the token in the URL", async () => {
    const objs = await makeObjects(join(h.root, "url"), 2, "url", "C");
    const token = await client.acquire(FQRN, "/url");
    const header = packHeader(objs);
    const msg = Buffer.from(payloadMessage(header));
    const parts: Buffer[] = [msg];
    for await (const c of packStream(header, objs)) parts.push(c as Buffer);
    const r = await raw("POST", `/payloads/${token}`, Buffer.concat(parts), {
      authorization: h.key.authorization(token),
      "message-size": String(msg.length),
    });
    expect(JSON.parse(r.text)).toEqual({ status: "ok" });
    for (const o of objs) expect(await storedObject(h.stratum0, o)).toBe(true);
    await client.drop(token);
  });

  it("rejects a corrupted object, a wrong digest, trailing bytes and a dead lease, storing nothing", async () => {
    const objs = await makeObjects(join(h.root, "bad"), 3, "bad");
    const token = await client.acquire(FQRN, "/bad");
    const header = packHeader(objs);
    const parts: Buffer[] = [];
    for await (const c of packStream(header, objs)) parts.push(c as Buffer);
    const pack = Buffer.concat(parts);
    const corrupt = Buffer.from(pack);
    corrupt[pack.length - 5] = (corrupt[pack.length - 5] as number) ^ 1;
    const send = (msg: string, body: Buffer) =>
      raw("POST", "/payloads", Buffer.concat([Buffer.from(msg), body]), {
        authorization: h.key.authorization(msg),
        "message-size": String(Buffer.byteLength(msg)),
      });
    const before = await snapshot(h.stratum0);
    const good = payloadMessage(header, token);
    const wrongDigest = good.replace(/"payload_digest" : "[0-9a-f]+"/, `"payload_digest" : "${"0".repeat(40)}"`);
    const cases: Array<[string, Buffer, RegExp]> = [
      [good, corrupt, /^other_error: .*hashes to/],
      [wrongDigest, pack, /payload_digest/],
      [good, Buffer.concat([pack, Buffer.from("junk")]), /trailing bytes/],
      [payloadMessage(header, "AAAA"), pack, /^invalid lease$/],
    ];
    for (const [msg, body, re] of cases) {
      const r = await send(msg, body);
      expect(r.status).toBe(200);
      const j = JSON.parse(r.text);
      expect(j.status).toBe("error");
      expect(j.reason).toMatch(re);
    }
    expect(await snapshot(h.stratum0)).toEqual(before);
    await client.drop(token);
  });

  it("rejects payloads on an expired lease", async () => {
    let now = Date.now();
    const h2 = await startHarness({ maxLeaseTime: 60, now: () => now });
    try {
      const c2 = new GatewayClient({ url: h2.apiUrl, key: h2.key });
      const token = await c2.acquire(FQRN, "/x");
      now += 61_000;
      const objs = await makeObjects(join(h2.root, "in"), 1, "exp");
      const before = await snapshot(h2.stratum0);
      await expect(c2.upload(token, objs)).rejects.toMatchObject({ reason: "invalid lease" });
      await expect(c2.commit(token, { oldRootHash: "a", newRootHash: "b" })).rejects.toMatchObject({ reason: "invalid lease" });
      expect(await snapshot(h2.stratum0)).toEqual(before);
      expect(h2.handler.leases.list()).toEqual([]);
    } finally {
      await h2.close();
    }
  });

  it("stores nothing when the client aborts mid-upload", async () => {
    const objs = await makeObjects(join(h.root, "abort"), 40, "abort");
    const token = await client.acquire(FQRN, "/abort");
    const before = await snapshot(h.stratum0);
    const ac = new AbortController();
    const p = client.submitPayload(token, objs, ac.signal);
    setImmediate(() => ac.abort());
    await expect(p).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 100));
    expect(await snapshot(h.stratum0)).toEqual(before);
    await client.drop(token);
  });

  it("poisons a lease whose commit failed until it is dropped", async () => {
    const token = await client.acquire(FQRN, "/poison");
    failNextCommit = true;
    const c = { oldRootHash: `${"a".repeat(40)}C`, newRootHash: `${"b".repeat(40)}C` };
    await expect(client.commit(token, c)).rejects.toMatchObject({ reason: "merge_error: simulated merge failure" });
    await expect(client.commit(token, c)).rejects.toMatchObject({
      reason: `could not obtain statistics counters: no statistics counters for lease ${FQRN}/poison`,
    });
    const calls = commitCalls;
    await client.drop(token);
    const t2 = await client.acquire(FQRN, "/poison");
    expect(await client.commit(t2, c)).toBe(7);
    expect(commitCalls).toBe(calls + 1);
    // A committed lease is gone.
    await expect(client.drop(t2)).rejects.toMatchObject({ reason: "invalid lease" });
    expect(hostname()).toBeTruthy();
  });
});
