import { createHash, verify } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadOrCreateKeys, type RepositoryKeys } from "../../../src/cvmfs/repository/keys.js";
import { signManifestBody, splitLetter, verifyManifestLetter, signWhitelistHash, verifyWhitelistLetter, assembleLetter } from "../../../src/cvmfs/repository/signing.js";
import { X509Certificate } from "node:crypto";

describe("manifest and whitelist signatures", () => {
  let dir: string;
  let keys: RepositoryKeys;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "signing-test-"));
    keys = await loadOrCreateKeys(dir, "sig.test");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const body = Buffer.from("Cabc\nB1\nRd41d8cd98f00b204e9800998ecf8427e\nD240\nS1\nGno\nAno\nNsig.test\n");

  it("signs body + '--' + SHA-1 hex + newline + PKCS#1 v1.5/SHA-1 signature over the ASCII hash, no trailing newline", () => {
    const letter = signManifestBody(body, keys.certificateKey, "sha1");
    const hash = createHash("sha1").update(body).digest("hex");
    const head = Buffer.concat([body, Buffer.from(`--\n${hash}\n`)]);
    expect(letter.subarray(0, head.length)).toEqual(head);
    const sig = letter.subarray(head.length);
    expect(sig.length).toBe(256);
    // Independent check with node:crypto, exactly as the fact sheet states EVP_VerifyFinal would.
    const certKey = new X509Certificate(keys.certificatePem).publicKey;
    expect(verify("sha1", Buffer.from(hash, "ascii"), certKey, sig)).toBe(true);
    const parsed = splitLetter(letter)!;
    expect(parsed.body).toEqual(body);
    expect(parsed.hash).toBe(hash);
    expect(() => verifyManifestLetter(parsed, certKey)).not.toThrow();
  });

  it("uses the repository algorithm's id in the hash line", () => {
    const letter = splitLetter(signManifestBody(body, keys.certificateKey, "rmd160"))!;
    expect(letter.hash).toBe(createHash("ripemd160").update(body).digest("hex") + "-rmd160");
    expect(() => verifyManifestLetter(letter, new X509Certificate(keys.certificatePem).publicKey)).not.toThrow();
  });

  it("rejects a changed body, a changed hash and a foreign key", () => {
    const certKey = new X509Certificate(keys.certificatePem).publicKey;
    const letter = signManifestBody(body, keys.certificateKey, "sha1");
    const tampered = Buffer.from(letter);
    tampered[1] = "x".charCodeAt(0);
    expect(() => verifyManifestLetter(splitLetter(tampered)!, certKey)).toThrow(/body hash/);
    const parsed = splitLetter(letter)!;
    const otherHash = createHash("sha1").update("other").digest("hex");
    expect(() => verifyManifestLetter({ ...parsed, body: Buffer.from("other"), hash: otherHash }, certKey)).toThrow(/signature/);
    expect(() => verifyManifestLetter(parsed, keys.masterPublicKey)).toThrow(/signature/);
  });

  it("signs whitelist hashes with raw PKCS#1 type 1 and recovers them with the master public key", () => {
    const hash = createHash("sha1").update(body).digest("hex");
    const sig = signWhitelistHash(hash, keys.masterKey);
    expect(sig.length).toBe(256);
    expect(() => verifyWhitelistLetter({ body, hash, signature: sig }, [keys.masterPublicKey])).not.toThrow();
    expect(() => verifyWhitelistLetter({ body, hash, signature: sig }, [new X509Certificate(keys.certificatePem).publicKey])).toThrow();
  });

  it("requires the body to end with a newline", () => {
    expect(() => assembleLetter(Buffer.from("x"), "h", Buffer.alloc(0))).toThrow(/newline/);
  });
});
