import { createHash, type Hash } from "node:crypto";

/**
 * The pieces of a suffixed hash string as the gateway sees them (cvmfs-formats.md §0): the
 * algorithm follows from the hex length and id (`MkFromSuffixedHexPtr`), the optional last char
 * is the object suffix. Validating the exact shape here is also what keeps a hostile pack line
 * from naming a path outside `data/`.
 */
export interface ParsedObjectHash {
  algorithm: "md5" | "sha1" | "rmd160" | "shake128";
  /** Hex plus algorithm id, no suffix: the name the store files the object under. */
  hash: string;
  /** `""` for whole files, else one of C H X M P L T. */
  suffix: string;
}

const SHAPE = /^(?:([0-9a-f]{40})(-rmd160|-shake128)?|([0-9a-f]{32}))([CHXMPLT]?)$/;

/** Parse `ab12…C`, `ab12…-rmd160P`, …; undefined when the text is not a hash string. */
export function parseObjectHash(text: string): ParsedObjectHash | undefined {
  const m = SHAPE.exec(text);
  if (!m) return undefined;
  const suffix = m[4] ?? "";
  if (m[3]) return { algorithm: "md5", hash: m[3], suffix };
  const algorithm = m[2] === "-rmd160" ? "rmd160" : m[2] === "-shake128" ? "shake128" : "sha1";
  return { algorithm, hash: `${m[1]}${m[2] ?? ""}`, suffix };
}

/** A node:crypto hasher for the algorithm (SHAKE128 squeezed to 20 bytes, as CVMFS does). */
export function createObjectHasher(algorithm: ParsedObjectHash["algorithm"]): Hash {
  switch (algorithm) {
    case "md5":
      return createHash("md5");
    case "sha1":
      return createHash("sha1");
    case "rmd160":
      return createHash("ripemd160");
    case "shake128":
      return createHash("shake128", { outputLength: 20 });
  }
}

/** The hash string (no suffix) of a finished digest, for comparison with {@link ParsedObjectHash.hash}. */
export function digestHashString(algorithm: ParsedObjectHash["algorithm"], hexDigest: string): string {
  return algorithm === "rmd160" ? `${hexDigest}-rmd160` : algorithm === "shake128" ? `${hexDigest}-shake128` : hexDigest;
}
