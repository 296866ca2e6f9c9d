import type { KeyObject } from "node:crypto";
import { SignatureError } from "../../errors.js";
import type { HashAlgorithm } from "../../content/content-store.js";
import { createContentHasher, hashBytes } from "../objects/hash.js";
import { assembleLetter, signWhitelistHash, splitLetter, verifyWhitelistLetter } from "./signing.js";

/**
 * `.cvmfswhitelist` (cvmfs-formats.md §1.3): which certificates may sign manifests, until when,
 * signed by the master key. Created as `cvmfs_server`'s `create_whitelist` does.
 */
export interface Whitelist {
  created: Date;
  expires: Date;
  fqrn: string;
  /** Fingerprints as written: `AB:CD:…` (+ `-RMD160`/`-SHAKE128` for other algorithms). */
  fingerprints: string[];
}

/** Default lifetime of a whitelist signed with a master key file. */
export const WHITELIST_DAYS = 30;

/** `YYYYMMDDhhmmss` in UTC. */
export function whitelistTimestamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

function parseTimestamp(s: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi, se] = m.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, se!));
}

/** Certificate fingerprint: hash of the DER bytes, uppercase hex pairs joined by `:`. */
export function certificateFingerprint(certificateDer: Buffer, algo: HashAlgorithm = "sha1"): string {
  const hex = createContentHasher(algo).update(certificateDer).digest("hex").toUpperCase();
  const pairs = hex.match(/../g)?.join(":") ?? "";
  return algo === "sha1" ? pairs : `${pairs}-${algo.toUpperCase()}`;
}

/**
 * Signed whitelist bytes for one certificate: creation line, `E` expiry (`days` ahead), `N<fqrn>`,
 * the certificate fingerprint, `--`, hash of those lines, raw master-key signature.
 */
export function createWhitelist(opts: {
  fqrn: string;
  certificateDer: Buffer;
  masterKey: KeyObject;
  hashAlgorithm?: HashAlgorithm;
  now?: Date;
  days?: number;
}): Buffer {
  const algo = opts.hashAlgorithm ?? "sha1";
  const now = opts.now ?? new Date();
  const expires = new Date(now.getTime() + (opts.days ?? WHITELIST_DAYS) * 86_400_000);
  const body = Buffer.from(
    `${whitelistTimestamp(now)}\nE${whitelistTimestamp(expires)}\nN${opts.fqrn}\n` +
      `${certificateFingerprint(opts.certificateDer, algo)}\n`,
  );
  const hash = hashBytes(body, algo);
  return assembleLetter(body, hash, signWhitelistHash(hash, opts.masterKey));
}

/** Parse the text part of a whitelist (no signature check). Throws SignatureError when malformed. */
export function parseWhitelist(bytes: Buffer): Whitelist {
  const letter = splitLetter(bytes);
  if (!letter) throw new SignatureError("whitelist: no signature part (missing `--` line)");
  const lines = letter.body.toString("utf8").split("\n");
  const created = parseTimestamp(lines[0] ?? "");
  if (!created) throw new SignatureError("whitelist: first line is not a 14-digit timestamp");
  const expires = (lines[1] ?? "").startsWith("E") ? parseTimestamp((lines[1] ?? "").slice(1)) : null;
  if (!expires) throw new SignatureError("whitelist: second line is not an E<timestamp> expiry");
  if (!(lines[2] ?? "").startsWith("N")) throw new SignatureError("whitelist: third line is not N<fqrn>");
  const fqrn = (lines[2] ?? "").slice(1);
  const fingerprints: string[] = [];
  for (const line of lines.slice(3)) {
    if (line === "" || line === "Vpkcs7" || line === "Wcachain") continue;
    const fp = line.split(/[ \t#]/)[0] ?? "";
    if (fp) fingerprints.push(fp);
  }
  return { created, expires, fqrn, fingerprints };
}

/**
 * Check a whitelist as the client does: master-key signature, name, expiry (at hour precision),
 * and, when given, that the certificate's fingerprint is listed. Returns the parsed whitelist;
 * throws SignatureError naming the failed check.
 */
export function verifyWhitelist(
  bytes: Buffer,
  opts: { fqrn: string; masterPublicKeys: KeyObject[]; certificateDer?: Buffer; now?: Date },
): Whitelist {
  const letter = splitLetter(bytes);
  if (!letter) throw new SignatureError("whitelist: no signature part (missing `--` line)");
  const wl = parseWhitelist(bytes);
  verifyWhitelistLetter(letter, opts.masterPublicKeys);
  if (wl.fqrn !== opts.fqrn) throw new SignatureError(`whitelist is for "${wl.fqrn}", not "${opts.fqrn}"`);
  const hour = (d: Date) => Math.floor(d.getTime() / 3_600_000);
  if (hour(wl.expires) < hour(opts.now ?? new Date())) {
    throw new SignatureError(`whitelist expired at ${wl.expires.toISOString()}`);
  }
  if (opts.certificateDer) {
    const listed = wl.fingerprints.map((f) => f.toUpperCase());
    const algos: HashAlgorithm[] = ["sha1", "rmd160", "shake128"];
    const ok = algos.some((a) => listed.includes(certificateFingerprint(opts.certificateDer!, a)));
    if (!ok) throw new SignatureError("the repository certificate is not listed in the whitelist");
  }
  return wl;
}

