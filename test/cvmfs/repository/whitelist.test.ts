import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadOrCreateKeys, type RepositoryKeys } from "../../../src/cvmfs/repository/keys.js";
import { splitLetter } from "../../../src/cvmfs/repository/signing.js";
import { certificateFingerprint, createWhitelist, parseWhitelist, verifyWhitelist } from "../../../src/cvmfs/repository/whitelist.js";

describe("whitelist", () => {
  let dir: string;
  let keys: RepositoryKeys;
  let other: RepositoryKeys;
  const now = new Date(Date.UTC(2026, 10, 24, 5, 6, 7));
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "whitelist-test-"));
    [keys, other] = await Promise.all([loadOrCreateKeys(dir, "wl.test"), loadOrCreateKeys(dir, "other.test")]);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lists the certificate fingerprint exactly as openssl prints it", () => {
    const out = execFileSync("openssl", ["x509", "-in", keys.paths.certificate, "-noout", "-fingerprint", "-sha1"], { encoding: "utf8" });
    expect(out.trim().split("=")[1]).toBe(certificateFingerprint(keys.certificateDer));
    expect(certificateFingerprint(keys.certificateDer, "rmd160")).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}-RMD160$/);
  });

  it("writes creation time, E expiry 30 days on, N name, fingerprint, then the signed hash", () => {
    const bytes = createWhitelist({ fqrn: "wl.test", certificateDer: keys.certificateDer, masterKey: keys.masterKey, now });
    const text = `20261124050607\nE20261224050607\nNwl.test\n${certificateFingerprint(keys.certificateDer)}\n`;
    const hash = createHash("sha1").update(text).digest("hex");
    expect(bytes.subarray(0, text.length + 3 + 41).toString()).toBe(`${text}--\n${hash}\n`);
    expect(bytes.length).toBe(text.length + 3 + 41 + 256);
    const wl = parseWhitelist(bytes);
    expect(wl).toEqual({ created: now, expires: new Date(Date.UTC(2026, 11, 24, 5, 6, 7)), fqrn: "wl.test", fingerprints: [certificateFingerprint(keys.certificateDer)] });
  });

  it("is recovered by openssl pkeyutl -verifyrecover with the master public key", async () => {
    const bytes = createWhitelist({ fqrn: "wl.test", certificateDer: keys.certificateDer, masterKey: keys.masterKey, now });
    const letter = splitLetter(bytes)!;
    const sigFile = join(dir, "wl.sig");
    await writeFile(sigFile, letter.signature);
    const recovered = execFileSync("openssl", ["pkeyutl", "-verifyrecover", "-pubin", "-inkey", keys.paths.masterPublicKey, "-in", sigFile]);
    expect(recovered.toString("latin1")).toBe(letter.hash);
  });

  it("verifies against the master key and refuses expiry, wrong names, foreign keys and unlisted certificates", () => {
    const bytes = createWhitelist({ fqrn: "wl.test", certificateDer: keys.certificateDer, masterKey: keys.masterKey, now });
    const ok = { fqrn: "wl.test", masterPublicKeys: [keys.masterPublicKey], certificateDer: keys.certificateDer, now };
    expect(verifyWhitelist(bytes, ok).fqrn).toBe("wl.test");
    expect(() => verifyWhitelist(bytes, { ...ok, now: new Date(now.getTime() + 31 * 86_400_000) })).toThrow(/expired/);
    expect(() => verifyWhitelist(bytes, { ...ok, fqrn: "x.test" })).toThrow(/not "x.test"/);
    expect(() => verifyWhitelist(bytes, { ...ok, masterPublicKeys: [other.masterPublicKey] })).toThrow(/master key/);
    expect(() => verifyWhitelist(bytes, { ...ok, certificateDer: other.certificateDer })).toThrow(/not listed/);
    const flipped = Buffer.from(bytes);
    flipped.writeUInt8(flipped.readUInt8(20) ^ 1, 20);
    expect(() => verifyWhitelist(flipped, ok)).toThrow();
  });

  it("reads fingerprints with trailing comments", () => {
    const fp = certificateFingerprint(keys.certificateDer);
    const body = `20261124050607\nE20261224050607\nNwl.test\n${fp} # release manager\n--\nx\n`;
    expect(parseWhitelist(Buffer.from(body)).fingerprints).toEqual([fp]);
  });
});
