import { createPublicKey, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certificateCommonName, loadOrCreateKeys } from "../../../src/cvmfs/repository/keys.js";

describe("loadOrCreateKeys", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "keys-test-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("creates the four files of cvmfs_server mkfs with private keys at 0600", async () => {
    const keys = await loadOrCreateKeys(dir, "images.local");
    for (const [name, mode] of [
      ["images.local.masterkey", 0o600],
      ["images.local.key", 0o600],
      ["images.local.pub", 0o644],
      ["images.local.crt", 0o644],
    ] as const) {
      expect((await stat(join(dir, name))).mode & 0o777, name).toBe(mode);
    }
    const pub = await readFile(join(dir, "images.local.pub"), "utf8");
    expect(pub).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(createPublicKey(keys.masterKey).export({ type: "spki", format: "pem" })).toBe(pub);
    expect(keys.masterKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(keys.certificateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);

    const cert = new X509Certificate(await readFile(join(dir, "images.local.crt")));
    expect(cert.subject).toBe("CN=images.local CernVM-FS Release Managers");
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.checkPrivateKey(keys.certificateKey)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    expect(Math.round(days)).toBe(365);
    expect(keys.certificateDer.equals(cert.raw)).toBe(true);
  });

  it("loads the same keys on the next call", async () => {
    const before = await readFile(join(dir, "images.local.masterkey"));
    const keys = await loadOrCreateKeys(dir, "images.local");
    expect(await readFile(join(dir, "images.local.masterkey"))).toEqual(before);
    expect(keys.certificatePem).toBe(await readFile(join(dir, "images.local.crt"), "utf8"));
  });

  it("re-issues a missing certificate for the existing certificate key", async () => {
    const key = await readFile(join(dir, "images.local.key"), "utf8");
    await unlink(join(dir, "images.local.crt"));
    const keys = await loadOrCreateKeys(dir, "images.local");
    expect(await readFile(join(dir, "images.local.key"), "utf8")).toBe(key);
    expect(new X509Certificate(keys.certificatePem).checkPrivateKey(keys.certificateKey)).toBe(true);
  });

  it("refuses a public master key without its private key, without printing key material", async () => {
    const d = await mkdtemp(join(tmpdir(), "keys-test-"));
    try {
      await writeFile(join(d, "x.org.pub"), await readFile(join(dir, "images.local.pub")));
      await expect(loadOrCreateKeys(d, "x.org")).rejects.toThrow(/cannot sign the whitelist/);
      await writeFile(join(d, "y.org.masterkey"), "-----BEGIN PRIVATE KEY-----\nMIIBroken\n-----END PRIVATE KEY-----\n");
      const err = await loadOrCreateKeys(d, "y.org").catch((e: Error) => e);
      expect(String(err)).toMatch(/not a PEM RSA private key/);
      expect(String(err)).not.toContain("MIIBroken");
      expect((err as Error).cause).toBeUndefined();
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it("cuts long names in the CN as cvmfs_server does", () => {
    expect(certificateCommonName("a".repeat(31) + ".org")).toBe(`${"a".repeat(30)}[...] CernVM-FS Release Managers`);
  });
});
