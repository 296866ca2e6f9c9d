import { describe, expect, it } from "vitest";
import { backoffDelay, connectionFailure, parseRetryAfter, sleep, withRetries } from "../src/retry.js";

describe("retry policy", () => {
  it("backs off exponentially with jitter in [ceiling/2, ceiling], capped", () => {
    expect([1, 2, 3, 4].map((a) => backoffDelay(a, 100, 10_000, () => 0))).toEqual([50, 100, 200, 400]);
    expect([1, 2, 3, 4].map((a) => backoffDelay(a, 100, 10_000, () => 1))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(20, 100, 5000, () => 1)).toBe(5000);
  });

  it.each([
    ["7", 7000],
    [" 0 ", 0],
    ["Wed, 21 Oct 2015 07:28:10 GMT", 10_000],
    ["Wed, 21 Oct 2015 07:27:00 GMT", 0],
    ["soon", undefined],
    [undefined, undefined],
  ])("parses Retry-After %j", (value, expected) => {
    expect(parseRetryAfter(value, Date.parse("Wed, 21 Oct 2015 07:28:00 GMT"))).toBe(expected);
  });

  it("sleeps, and stops sleeping on abort", async () => {
    const t = Date.now();
    await sleep(30);
    expect(Date.now() - t).toBeGreaterThanOrEqual(25);
    const ac = new AbortController();
    const p = sleep(10_000, ac.signal);
    ac.abort(new Error("stop"));
    await expect(p).rejects.toThrow("stop");
  });
});

const sysError = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe("connection failures", () => {
  it.each([
    [sysError("ECONNREFUSED"), "unsent"],
    [new Error("wrapped", { cause: sysError("ECONNRESET") }), "dropped"],
    [Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }), "dropped"],
    [new AggregateError([sysError("ECONNREFUSED"), sysError("ECONNREFUSED")], "all addresses"), "unsent"],
    [Object.assign(new Error("HTTP 500"), { code: "E_GATEWAY" }), undefined],
    [new DOMException("aborted", "AbortError"), undefined],
    ["a string", undefined],
  ])("classifies %s as %s", (err, expected) => {
    expect(connectionFailure(err)).toBe(expected);
  });

  it("retries what is retryable until it succeeds", async () => {
    const seen: number[] = [];
    const result = await withRetries(
      async (n) => {
        seen.push(n);
        if (n < 3) throw sysError("ECONNREFUSED");
        return "ok";
      },
      { retryable: (e) => connectionFailure(e) !== undefined, policy: { retries: 4, baseMs: 1, maxMs: 2 } },
    );
    expect(result).toBe("ok");
    expect(seen).toEqual([1, 2, 3]);
  });

  it("gives up after the policy's tries, at once for what is not retryable, and before a deadline", async () => {
    let calls = 0;
    const failing = async () => {
      calls++;
      throw sysError("ECONNRESET");
    };
    await expect(withRetries(failing, { retryable: () => true, policy: { retries: 2, baseMs: 1, maxMs: 1 } })).rejects.toThrow("ECONNRESET");
    expect(calls).toBe(3);
    calls = 0;
    await expect(withRetries(failing, { retryable: () => false })).rejects.toThrow("ECONNRESET");
    expect(calls).toBe(1);
    calls = 0;
    const started = Date.now();
    await expect(withRetries(failing, { retryable: () => true, policy: { retries: 9, baseMs: 1000, maxMs: 1000 }, deadline: Date.now() + 100 })).rejects.toThrow();
    expect(calls).toBe(1);
    expect(Date.now() - started).toBeLessThan(500);
  });
});
