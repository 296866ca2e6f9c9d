/**
 * Which gateway requests the client repeats after a failure on the way, against a scripted
 * server: what never reached the gateway is always repeated; what may have reached it only when
 * running it twice is harmless (a payload, a drop), never a lease or a commit.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { GatewayClient } from "../../src/gateway/gateway-client.js";
import { GatewayKey } from "../../src/gateway/key-file.js";

type Step = "ok" | "503" | "504" | "reset";
const TOKEN = "T".repeat(52) + "====";

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server answering each request with the next step of `script` (then "ok"); returns the routes it saw. */
async function scripted(script: Step[], ok: (req: IncomingMessage) => string): Promise<{ client: GatewayClient; seen: string[] }> {
  const seen: string[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on("end", () => {
      seen.push(`${req.method} ${req.url}`);
      const step = script.shift() ?? "ok";
      if (step === "reset") return void req.socket.destroy();
      if (step !== "ok") return void res.writeHead(Number(step), { "content-type": "text/plain" }).end("proxy says no");
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(ok(req));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const port = (server!.address() as AddressInfo).port;
  const client = new GatewayClient({ url: `http://127.0.0.1:${port}/api/v1`, key: new GatewayKey("k", "s"), retry: { retries: 3, baseMs: 5, maxMs: 10 } });
  return { client, seen };
}

const leaseOk = () => JSON.stringify({ status: "ok", session_token: TOKEN, max_api_version: 2 });
const statusOk = () => JSON.stringify({ status: "ok" });
const commitOk = () => JSON.stringify({ status: "ok", final_revision: 7 });

describe("gateway client retries", () => {
  it("repeats a lease request a proxy refused (503): it never reached the gateway", async () => {
    const { client, seen } = await scripted(["503", "503"], leaseOk);
    expect(await client.acquire("f.test", "/x")).toBe(TOKEN);
    expect(seen).toEqual(["POST /api/v1/leases", "POST /api/v1/leases", "POST /api/v1/leases"]);
  });

  it.each<[string, Step]>([
    ["a connection dropped after the request was sent", "reset"],
    ["a proxy timeout (504)", "504"],
  ])("does not repeat a lease or a commit after %s, naming the request", async (_what, step) => {
    const lease = await scripted([step], leaseOk);
    await expect(lease.client.acquire("f.test", "/x")).rejects.toThrow(/^POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/leases: /);
    expect(lease.seen).toHaveLength(1);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const commit = await scripted([step], commitOk);
    const err = await commit.client.commit(TOKEN, { oldRootHash: `${"a".repeat(40)}C`, newRootHash: `${"b".repeat(40)}C` }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/leases\/<token>: /);
    expect((err as Error).message).not.toContain(TOKEN);
    expect(commit.seen).toHaveLength(1);
  });

  it("repeats a payload and a drop after a dropped connection: running them twice is harmless", async () => {
    const { client, seen } = await scripted(["reset", "504", "ok", "reset"], statusOk);
    expect(await client.submitPayload(TOKEN, [])).toBeGreaterThan(0);
    await client.drop(TOKEN);
    expect(seen).toEqual(["POST /api/v1/payloads", "POST /api/v1/payloads", "POST /api/v1/payloads", `DELETE /api/v1/leases/${TOKEN}`, `DELETE /api/v1/leases/${TOKEN}`]);
  });
});
