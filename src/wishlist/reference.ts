import { ImageReferenceError } from "../errors.js";
import { displayText } from "../human-format.js";

/**
 * An image reference: `registry/repository[:tag][@digest]`, normalised the way docker does
 * (`centos:7` → `docker.io/library/centos:7`). Follows the grammar of the distribution project's
 * `reference` package; a reference with neither tag nor digest gets the tag `latest`.
 */
export interface ImageReference {
  /** Registry host with optional port, e.g. `docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  readonly registry: string;
  /** Repository path inside the registry, e.g. `library/centos`, `opensciencegrid/osgvo-el8`. */
  readonly repository: string;
  /** Tag, if the reference names one (always set when there is no digest). */
  readonly tag?: string;
  /** `sha256:<64 hex>`, if the reference pins a digest. */
  readonly digest?: string;
}

export const DOCKER_HUB = "docker.io";
/** Where Docker Hub's registry API actually lives. */
export const DOCKER_HUB_API_HOST = "registry-1.docker.io";

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;
const MAX_NAME = 255;

/**
 * The error for text that is no valid reference. Wishlist lines are anyone's text: the reference
 * is quoted escaped and shortened (displayText), so a line can neither act on the terminal or CI
 * log that shows the error nor fill it with ten thousand characters.
 */
export function invalidReference(input: string, reason: string): ImageReferenceError {
  return new ImageReferenceError(displayText(input), reason);
}

/** A part of a bad reference, quoted for a message (escaped, shortened). */
export function quoted(part: string): string {
  return `"${displayText(part, { maxLength: 60 })}"`;
}

/** Parse and normalise a reference; throws ImageReferenceError naming the reference and the reason. */
export function parseImageReference(input: string): ImageReference {
  const text = input.trim();
  if (text === "") throw invalidReference(input, "empty reference");
  if (/\s/.test(text)) throw invalidReference(input, "contains whitespace");

  const split = splitReferenceText(text);
  const rest = split.name;
  let tag = split.tag;
  const digest = split.digest;
  if (digest !== undefined) {
    if (digest.startsWith("sha256:") && !SHA256_DIGEST.test(digest)) {
      throw invalidReference(input, "a sha256 digest is 64 lowercase hex characters");
    }
    if (!DIGEST.test(digest)) throw invalidReference(input, `malformed digest ${quoted(digest)}`);
  }
  if (tag !== undefined && !TAG.test(tag)) throw invalidReference(input, `malformed tag ${quoted(tag)}`);
  if (rest === "") throw invalidReference(input, "missing repository name");

  const slash = rest.indexOf("/");
  let registry = DOCKER_HUB;
  let repository = rest;
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase()) {
      if (!DOMAIN.test(first)) throw invalidReference(input, `malformed registry host ${quoted(first)}`);
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (repository === "") throw invalidReference(input, "missing repository name");
  // registry.hub.docker.com is how DUCC recipes name Docker Hub.
  if (registry === "index.docker.io" || registry === DOCKER_HUB_API_HOST || registry === "registry.hub.docker.com") {
    registry = DOCKER_HUB;
  }
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;

  if (repository.length > MAX_NAME) throw invalidReference(input, `repository name longer than ${MAX_NAME}`);
  for (const component of repository.split("/")) {
    if (!COMPONENT.test(component)) {
      throw invalidReference(
        input,
        component === ""
          ? "empty path component"
          : `${quoted(component)} is not a valid name component (lowercase letters, digits and . _ - separators)`,
      );
    }
  }
  if (tag === undefined && digest === undefined) tag = "latest";
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * Splits `name[:tag][@digest]` without checking the parts: the digest follows the `@`, and a tag
 * follows the last colon that comes after the last slash (a colon before it is a registry port).
 */
export function splitReferenceText(text: string): { name: string; tag?: string; digest?: string } {
  let name = text;
  let digest: string | undefined;
  const at = name.indexOf("@");
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
  }
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) {
    return { name: name.slice(0, colon), tag: name.slice(colon + 1), ...(digest !== undefined ? { digest } : {}) };
  }
  return { name, ...(digest !== undefined ? { digest } : {}) };
}

/** The canonical string form: `registry/repository[:tag][@digest]`. */
export function formatImageReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest !== undefined ? `@${ref.digest}` : ""}`;
}

/** The same repository, pinned to `digest` (the tag is kept for display). */
export function withDigest(ref: ImageReference, digest: string): ImageReference {
  return { ...ref, digest };
}

/** What to ask the registry for: the digest if pinned, else the tag. */
export function manifestSelector(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? "latest";
}
