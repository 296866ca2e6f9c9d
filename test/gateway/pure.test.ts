import { createHash, createHmac } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { formatGoDuration, parseGoDuration } from "../../src/gateway/go-duration.js";
import { authorizationHeader, hmacSign, hmacVerify, parseAuthorization } from "../../src/gateway/hmac.js";
import { parseGatewayKey, readGatewayKey } from "../../src/gateway/key-file.js";
import { base32Std, goTimeString, LeaseService } from "../../src/gateway/lease-service.js";
import { checkAccess, readAccessConfig } from "../../src/gateway/access-config.js";

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe("hmac", () => {
  it.each([
    ["secret", "hello"],
    ["s3cr3t-key", '{"path":"repo.org/a","api_version":"2"}'],
    ["k", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRST===="],
  ])("signs %s / %s as base64 of the lowercase hex HMAC-SHA1", (secret, message) => {
    const hex = createHmac("sha1", secret).update(message).digest("hex");
    const expected = Buffer.from(hex).toString("base64");
    expect(expected).toHaveLength(56);
    expect(hmacSign(secret, message)).toBe(expected);
    expect(hmacVerify(secret, message, expected)).toBe(true);
    expect(hmacVerify(secret, `${message}x`, expected)).toBe(false);
    expect(authorizationHeader("kid", secret, message)).toBe(`kid ${expected}`);
  });

  it("computes a fixed vector", () => {
    // HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog") = de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9
    expect(hmacSign("key", "The quick brown fox jumps over the lazy dog")).toBe(
      Buffer.from("de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9").toString("base64"),
    );
  });

  it("parses Authorization headers", () => {
    expect(parseAuthorization("id c2ln")).toEqual({ keyId: "id", signature: "c2ln" });
    expect(parseAuthorization(undefined)).toBeUndefined();
    expect(parseAuthorization("onlyone")).toBeUndefined();
    expect(parseAuthorization("a b c")).toBeUndefined();
  });
});

describe("key file", () => {
  it("reads plain_text KEY_ID SECRET and never shows the secret", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gwkey-"));
    dirs.push(dir);
    await writeFile(join(dir, "repo.gw"), "plain_text  key1\tTOPSECRETVALUE\nignored line\n");
    const key = await readGatewayKey(join(dir, "repo.gw"));
    expect(key.id).toBe("key1");
    const msg = "abc";
    expect(key.authorization(msg)).toBe(`key1 ${hmacSign("TOPSECRETVALUE", msg)}`);
    expect(key.verify(msg, hmacSign("TOPSECRETVALUE", msg))).toBe(true);
    for (const shown of [JSON.stringify(key), inspect(key, { showHidden: true, depth: 5 }), String(key), JSON.stringify({ ...key })]) {
      expect(shown).not.toContain("TOPSECRETVALUE");
    }
    expect(Object.keys(key)).toEqual(["id"]);
  });

  it("rejects malformed files without quoting them", async () => {
    for (const text of ["", "plain_text onlyid", "rsa key1 SECRETXYZ", "plain_text id SECRET XYZ"]) {
      const fn = () => parseGatewayKey(text, "k");
      expect(fn).toThrow(/plain_text KEY_ID SECRET|whitespace/);
      try {
        fn();
      } catch (e) {
        expect((e as Error).message).not.toContain("SECRET XYZ");
        expect((e as Error).message).not.toContain("SECRETXYZ");
      }
    }
    await expect(readGatewayKey("/nonexistent/key.gw")).rejects.toMatchObject({ code: "E_CONFIG" });
  });
});

describe("go duration", () => {
  it.each([
    ["1m30.5s", 90_500],
    ["1h59m58.123456789s", 7_198_123.456789],
    ["300ms", 300],
    ["1.5h", 5_400_000],
    ["0s", 0],
    ["0", 0],
    ["-2s", -2000],
    ["10us", 0.01],
    ["5µs", 0.005],
    ["2h0m0s", 7_200_000],
  ])("parses %s", (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 6);
  });
  it.each(["", "1", "1x", "h", "1m 2s"])("refuses %j", (t) => expect(parseGoDuration(t)).toBeUndefined());
  it.each([
    [7_200_000, "2h0m0s"],
    [90_500, "1m30.5s"],
    [1500, "1.5s"],
    [250, "250ms"],
    [0, "0s"],
    [-1000, "-1s"],
    [3_723_004, "1h2m3.004s"],
  ])("formats %d ms as %s", (ms, text) => {
    expect(formatGoDuration(ms)).toBe(text);
    expect(parseGoDuration(text)).toBeCloseTo(ms, 6);
  });
});

describe("lease service", () => {
  it("makes 56-char base32 tokens from 32 bytes", () => {
    const bytes = createHash("sha256").update("x").digest();
    const t = base32Std(bytes);
    expect(t).toHaveLength(56);
    expect(t).toMatch(/^[A-Z2-7]{52}====$/);
    expect(base32Std(Buffer.from("foobar"))).toBe("MZXW6YTBOI======");
  });

  it("refuses character-prefix conflicts and expires leases", () => {
    let now = 1_000_000;
    const s = new LeaseService({ maxLeaseTimeMs: 60_000, now: () => now });
    const a = s.acquire("r.org", "/foo", "k", "h");
    expect(a.ok).toBe(true);
    expect(s.acquire("r.org", "/foobar", "k", "h")).toEqual({ ok: false, remainingMs: 60_000 });
    expect(s.acquire("r.org", "/", "k", "h").ok).toBe(false);
    expect(s.acquire("r.org", "/foo/x", "k", "h").ok).toBe(false);
    expect(s.acquire("other.org", "/foo", "k", "h").ok).toBe(true);
    const b = s.acquire("r.org", "/bar", "k", "h");
    expect(b.ok).toBe(true);
    now += 30_000;
    expect(s.acquire("r.org", "/foo", "k", "h")).toEqual({ ok: false, remainingMs: 30_000 });
    now += 30_000;
    if (!a.ok) throw new Error("unreachable");
    expect(s.get(a.lease.token)).toBeUndefined();
    expect(s.acquire("r.org", "/foobar", "k", "h").ok).toBe(true);
  });

  it("formats expiry like Go's time.String", () => {
    expect(goTimeString(Date.UTC(2026, 10, 24, 6, 21, 50, 213))).toBe("2026-11-24 06:21:50.213 +0000 UTC");
    expect(goTimeString(Date.UTC(2026, 10, 24, 6, 21, 50, 0))).toBe("2026-11-24 06:21:50 +0000 UTC");
  });
});

describe("access config", () => {
  it("reads repo.json v2 with per-key paths", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gwacc-"));
    dirs.push(dir);
    await writeFile(join(dir, "k2.gw"), "plain_text k2 SECRET2\n");
    await writeFile(
      join(dir, "repo.json"),
      JSON.stringify({
        version: 2,
        repos: [{ domain: "r.org", keys: [{ id: "k1", path: "/" }, { id: "k2", path: "/.images/ab" }] }],
        keys: [
          { type: "plain_text", id: "k1", secret: "SECRET1" },
          { type: "file", file_name: "k2.gw" },
        ],
      }),
    );
    const acc = await readAccessConfig(join(dir, "repo.json"));
    expect([...acc.keys.keys()]).toEqual(["k1", "k2"]);
    expect(checkAccess(acc, "r.org", "k1", "/anything")).toBe("ok");
    expect(checkAccess(acc, "r.org", "k2", "/.images/ab/cd")).toBe("ok");
    expect(checkAccess(acc, "r.org", "k2", "/.images/ab")).toBe("ok");
    expect(checkAccess(acc, "r.org", "k2", "/.images/abc")).toBe("invalid_path");
    expect(checkAccess(acc, "r.org", "k2", "/")).toBe("invalid_path");
    expect(checkAccess(acc, "r.org", "k3", "/")).toBe("invalid_key");
    expect(checkAccess(acc, "x.org", "k1", "/")).toBe("invalid_repo");
    await writeFile(join(dir, "bad.json"), JSON.stringify({ version: 1, repos: [] }));
    await expect(readAccessConfig(join(dir, "bad.json"))).rejects.toMatchObject({ code: "E_CONFIG" });
  });
});
