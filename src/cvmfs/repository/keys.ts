import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, webcrypto, type KeyObject } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { RepositoryError } from "../../errors.js";

/**
 * A repository's key set, kept on disk as `cvmfs_server mkfs` keeps it in /etc/cvmfs/keys
 * (cvmfs-formats.md §1.2): `<fqrn>.masterkey` + `<fqrn>.pub` (the master pair, which signs the
 * whitelist) and `<fqrn>.key` + `<fqrn>.crt` (the certificate pair, which signs manifests).
 * Private keys live only in KeyObjects and 0600 files; nothing here ever formats them into a
 * message.
 */
export interface RepositoryKeys {
  fqrn: string;
  paths: { masterKey: string; masterPublicKey: string; certificateKey: string; certificate: string };
  /** Master private key: signs `.cvmfswhitelist`. */
  masterKey: KeyObject;
  /** Master public key: what clients are configured with (`CVMFS_PUBLIC_KEY`). */
  masterPublicKey: KeyObject;
  /** Certificate private key: signs `.cvmfspublished`. */
  certificateKey: KeyObject;
  /** The self-signed certificate, PEM text (stored in the repository as the `X` object). */
  certificatePem: string;
  /** DER bytes of the certificate: what the whitelist fingerprint hashes. */
  certificateDer: Buffer;
}

const RSA_BITS = 2048;
const CERT_DAYS = 365;

/** Subject CN exactly as `cvmfs_server`'s `create_cert` builds it (long names cut at 30 characters). */
export function certificateCommonName(fqrn: string): string {
  const cn = fqrn.length > 30 ? `${fqrn.slice(0, 30)}[...]` : fqrn;
  return `${cn} CernVM-FS Release Managers`;
}

/**
 * Load the key set for `fqrn` from `keysDir`, creating whatever is missing as `cvmfs_server mkfs`
 * does: a 2048-bit RSA master pair, a 2048-bit certificate key and a self-signed certificate valid
 * 365 days. A missing public half is derived from its private key; a missing certificate is
 * re-issued for the existing certificate key. A public master key without its private key is an
 * error (whitelists could not be signed). Each file is written to a temporary name and renamed,
 * so an interrupted run never leaves a truncated key behind.
 */
export async function loadOrCreateKeys(keysDir: string, fqrn: string): Promise<RepositoryKeys> {
  const paths = {
    masterKey: join(keysDir, `${fqrn}.masterkey`),
    masterPublicKey: join(keysDir, `${fqrn}.pub`),
    certificateKey: join(keysDir, `${fqrn}.key`),
    certificate: join(keysDir, `${fqrn}.crt`),
  };
  await mkdir(keysDir, { recursive: true });

  let masterPem = await readIfExists(paths.masterKey);
  let pubPem = await readIfExists(paths.masterPublicKey);
  if (masterPem === null) {
    if (pubPem !== null) {
      throw new RepositoryError(
        `${paths.masterPublicKey} exists but ${paths.masterKey} does not: cannot sign the whitelist without the master key`,
      );
    }
    const pair = await newRsaPair();
    masterPem = pair.privatePem;
    await writeAtomic(paths.masterKey, masterPem, 0o600);
  }
  const masterKey = parsePrivate(masterPem, paths.masterKey);
  const masterPublicKey = createPublicKey(masterKey);
  if (pubPem === null) {
    pubPem = masterPublicKey.export({ type: "spki", format: "pem" }).toString();
    await writeAtomic(paths.masterPublicKey, pubPem, 0o644);
  }

  let keyPem = await readIfExists(paths.certificateKey);
  let crtPem = await readIfExists(paths.certificate);
  if (keyPem === null) {
    keyPem = (await newRsaPair()).privatePem;
    await writeAtomic(paths.certificateKey, keyPem, 0o600);
    crtPem = null; // a certificate for some other key is useless
  }
  const certificateKey = parsePrivate(keyPem, paths.certificateKey);
  if (crtPem === null) {
    crtPem = await selfSignedCertificate(certificateKey, certificateCommonName(fqrn));
    await writeAtomic(paths.certificate, crtPem, 0o644);
  }
  let certificateDer: Buffer;
  try {
    certificateDer = Buffer.from(new x509.X509Certificate(crtPem).rawData);
  } catch (cause) {
    throw new RepositoryError(`read certificate ${paths.certificate}: not a PEM X.509 certificate`, { cause });
  }
  return { fqrn, paths, masterKey, masterPublicKey, certificateKey, certificatePem: crtPem, certificateDer };
}

/** Load a PEM public key (e.g. a master `.pub`) for verification. */
export async function loadPublicKey(path: string): Promise<KeyObject> {
  const pem = await readIfExists(path);
  if (pem === null) throw new RepositoryError(`public key ${path} not found`);
  try {
    return createPublicKey(pem);
  } catch (cause) {
    throw new RepositoryError(`read public key ${path}: not a PEM public key`, { cause });
  }
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new RepositoryError(`read ${path}`, { cause: err });
  }
}

/** Never let key text reach an error message: the cause is dropped on purpose. */
function parsePrivate(pem: string, path: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    throw new RepositoryError(`read private key ${path}: not a PEM RSA private key`);
  }
}

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await writeFile(tmp, text, { mode, flag: "wx" });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new RepositoryError(`write ${path}: ${(err as Error).message}`);
  }
}

function newRsaPair(): Promise<{ privatePem: string }> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      "rsa",
      {
        modulusLength: RSA_BITS,
        publicExponent: 0x10001,
        publicKeyEncoding: { type: "spki", format: "pem" },
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
      },
      (err, _pub, privatePem) => (err ? reject(new RepositoryError("generate RSA key pair")) : resolve({ privatePem })),
    );
  });
}

/** Self-signed certificate over `key`, as `openssl req … | openssl x509 -req -signkey` makes it. */
async function selfSignedCertificate(key: KeyObject, commonName: string): Promise<string> {
  const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const subtle = webcrypto.subtle;
  const privateKey = await subtle.importKey("pkcs8", key.export({ type: "pkcs8", format: "der" }), alg, false, ["sign"]);
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  const publicKey = await subtle.importKey("spki", spki, alg, true, ["verify"]);
  const notBefore = new Date();
  const notAfter = new Date(notBefore.getTime() + CERT_DAYS * 86_400_000);
  const serial = randomBytes(8);
  serial[0] = (serial[0] ?? 0) & 0x7f; // keep the DER integer positive
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial.toString("hex"),
      name: `CN=${commonName}`,
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      keys: { privateKey, publicKey } as never,
    },
    webcrypto as never,
  );
  return cert.toString("pem") + "\n";
}
