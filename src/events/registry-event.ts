import type { z } from "zod";
import { EventError } from "../errors.js";
import { displayText } from "../human-format.js";
import { formatImageReference, parseImageReference, type ImageReference } from "../wishlist/reference.js";
import { DistributionEnvelope, DockerHubEvent, GitHubPackageEvent, HarborCloudEvent, HarborEvent, HarborPushData, QuayEvent } from "./schema.js";

/** The notification formats `sync --event` reads, recognised by their shape. */
export type EventFormat = "harbor" | "harbor-cloudevents" | "distribution" | "docker-hub" | "quay" | "github-package";

/** How messages name each format. */
export const EVENT_FORMAT_NAMES: Readonly<Record<EventFormat, string>> = {
  harbor: "Harbor webhook",
  "harbor-cloudevents": "Harbor CloudEvent",
  distribution: "distribution registry notification",
  "docker-hub": "Docker Hub webhook",
  quay: "Quay notification",
  "github-package": "GitHub package event",
};

/**
 * One registry notification, read: the tags it says were pushed, and what else it reported.
 * A claim, not a fact: a caller syncs only the references a wishlist names, and resolves them
 * again; the payload's digests are not kept at all.
 */
export interface RegistryEvent {
  format: EventFormat;
  /** Tagged references (never a digest), normalised, each once, in the payload's order. */
  pushed: ImageReference[];
  /** One phrase per part of the event that pushed no tag (`a delete`, `a blob push`, …), for the log. */
  ignored: string[];
}

type Read = Omit<RegistryEvent, "format">;

/** What the unknown-shape error lists as expected. */
const EXPECTED =
  "a Harbor webhook (type, event_data) or Harbor CloudEvent (specversion, type harbor.*, data), " +
  "a distribution registry notification (events[]), a Docker Hub webhook (push_data, repository.repo_name), " +
  "a Quay notification (docker_url, updated_tags) or a GitHub package event (action, package)";

/** Keys GitLab's webhook trigger mixes into TRIGGER_PAYLOAD: not part of any registry's event. */
const GITLAB_KEYS = new Set(["id", "ref", "variables"]);

/** Manifest and index media types: a push of one of these with a tag is a tag push. */
const MANIFEST_TYPES = new Set([
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v1+prettyjws",
  "application/vnd.docker.distribution.manifest.v1+json",
]);

const DELETE = "a delete (removals stay the wishlist's job)";

/** Shape markers, tried in order: the first format whose marker keys the body has is the one. */
const FORMATS: ReadonlyArray<{ format: EventFormat; marker: (body: Record<string, unknown>) => boolean; read: (body: unknown) => Read }> = [
  { format: "distribution", marker: (b) => Array.isArray(b["events"]), read: readDistribution },
  { format: "harbor", marker: (b) => "event_data" in b && typeof b["type"] === "string", read: readHarbor },
  { format: "harbor-cloudevents", marker: (b) => "specversion" in b, read: readHarborCloudEvent },
  { format: "github-package", marker: (b) => typeof b["package"] === "object" && b["package"] !== null, read: readGitHubPackage },
  { format: "docker-hub", marker: (b) => "push_data" in b, read: readDockerHub },
  { format: "quay", marker: (b) => "docker_url" in b, read: readQuay },
];

/**
 * Pure: reads one notification body (JSON text; `where` names it in errors). The format is
 * recognised by its shape, not by a header: a GitLab trigger hands on only the body. Throws
 * EventError (exit 2) for text that is not JSON, a body of no known shape (naming what was
 * expected and the keys it has, escaped), or a known shape with a field wrong or a reference that
 * does not parse. Events that push no tag (deletes, pulls, scans, blobs) read as `pushed: []`.
 */
export function parseRegistryEvent(text: string, where: string): RegistryEvent {
  const name = displayText(where, { maxLength: 200 });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new EventError(`${name}: not JSON (${displayText((err as Error).message, { maxLength: 80 })}); expected ${EXPECTED}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new EventError(`${name}: a JSON ${Array.isArray(body) ? "array" : typeof body}, not an object; expected ${EXPECTED}`);
  }
  const object = body as Record<string, unknown>;
  const format = FORMATS.find((f) => f.marker(object));
  if (!format) throw new EventError(`${name}: not a registry event: expected ${EXPECTED}; ${describeKeys(object)}`);
  try {
    const read = format.read(body);
    const pushed = new Map(read.pushed.map((ref) => [formatImageReference(ref), ref]));
    return { format: format.format, pushed: [...pushed.values()], ignored: read.ignored };
  } catch (err) {
    if (err instanceof EventError) throw new EventError(`${name}: a ${EVENT_FORMAT_NAMES[format.format]}, but ${err.message}`);
    throw err;
  }
}

function describeKeys(body: Record<string, unknown>): string {
  const keys = Object.keys(body).filter((k) => !GITLAB_KEYS.has(k));
  if (keys.length === 0) {
    return "it holds only GitLab's own keys (id, ref, variables): was the pipeline triggered by a registry's webhook?";
  }
  const shown = keys.slice(0, 10).map((k) => `"${displayText(k, { maxLength: 40 })}"`);
  return `its keys are ${shown.join(", ")}${keys.length > 10 ? ` and ${keys.length - 10} more` : ""}`;
}

/** `schema.parse` whose failure is an EventError naming the first wrong field (the fix to make). */
function check<T extends z.ZodType>(schema: T, value: unknown, prefix = ""): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const inner = issue?.path.join(".") ?? "";
  const path = inner === "" ? prefix.replace(/\.$/, "") || "(root)" : `${prefix}${inner}`;
  throw new EventError(`${path}: ${displayText(issue?.message ?? "invalid", { maxLength: 120 })}`);
}

/**
 * The reference `host/repository:tag`, normalised. The host must be one a reference can name (a
 * dot, a port or `localhost`), else it would read as the first path component of a Docker Hub
 * name and claim an image of another registry.
 */
function pushedReference(host: string, repository: string, tag: string): ImageReference {
  if (!/[.:]/.test(host) && host !== "localhost") {
    throw new EventError(`registry host "${displayText(host, { maxLength: 60 })}" is no host an image reference can name`);
  }
  let ref: ImageReference;
  try {
    ref = parseImageReference(`${host}/${repository}:${tag}`);
  } catch (err) {
    throw new EventError((err as Error).message);
  }
  if (ref.tag !== tag || ref.digest !== undefined) throw new EventError(`"${displayText(tag, { maxLength: 60 })}" is not a tag`);
  return ref;
}

function readHarborPush(data: unknown, prefix: string): Read {
  const push = check(HarborPushData, data, prefix);
  const read: Read = { pushed: [], ignored: [] };
  for (const resource of push.resources) {
    // A push by digest names the digest as its "tag": there is no tag to sync.
    if (!resource.tag || resource.tag.startsWith("sha256:")) {
      read.ignored.push("a push by digest (no tag)");
      continue;
    }
    const slash = resource.resource_url.indexOf("/");
    if (slash <= 0) throw new EventError(`resource_url "${displayText(resource.resource_url, { maxLength: 80 })}" names no registry host`);
    read.pushed.push(pushedReference(resource.resource_url.slice(0, slash), push.repository.repo_full_name, resource.tag));
  }
  return read;
}

function readHarbor(body: unknown): Read {
  const event = check(HarborEvent, body);
  if (event.type === "PUSH_ARTIFACT") return readHarborPush(event.event_data, "event_data.");
  return { pushed: [], ignored: [event.type === "DELETE_ARTIFACT" ? DELETE : `a ${displayText(event.type, { maxLength: 40 })} event`] };
}

function readHarborCloudEvent(body: unknown): Read {
  const event = check(HarborCloudEvent, body);
  if (!event.type.startsWith("harbor.")) throw new EventError(`type "${displayText(event.type, { maxLength: 60 })}" is not one of Harbor's (harbor.*)`);
  if (event.type === "harbor.artifact.pushed") return readHarborPush(event.data, "data.");
  return { pushed: [], ignored: [event.type === "harbor.artifact.deleted" ? DELETE : `a ${displayText(event.type, { maxLength: 40 })} event`] };
}

function readDistribution(body: unknown): Read {
  const envelope = check(DistributionEnvelope, body);
  const read: Read = { pushed: [], ignored: [] };
  envelope.events.forEach((event, i) => {
    const manifest = MANIFEST_TYPES.has(event.target?.mediaType ?? "");
    if (event.action === "delete") read.ignored.push(DELETE);
    else if (event.action !== "push") read.ignored.push(`a ${displayText(event.action, { maxLength: 20 })}`);
    else if (!manifest) read.ignored.push("a blob push");
    else if (!event.target?.tag) read.ignored.push("a manifest push by digest (no tag)");
    else {
      const host = event.request?.host;
      const repository = event.target.repository;
      if (!host || !repository) throw new EventError(`events.${i}: a tag push without request.host or target.repository`);
      read.pushed.push(pushedReference(host, repository, event.target.tag));
    }
  });
  return read;
}

function readDockerHub(body: unknown): Read {
  const event = check(DockerHubEvent, body);
  return { pushed: [pushedReference("docker.io", event.repository.repo_name, event.push_data.tag)], ignored: [] };
}

function readQuay(body: unknown): Read {
  const event = check(QuayEvent, body);
  if (event.updated_tags === undefined) return { pushed: [], ignored: ["a notification that names no updated tags (not a push)"] };
  const slash = event.docker_url.indexOf("/");
  if (slash <= 0) throw new EventError(`docker_url "${displayText(event.docker_url, { maxLength: 80 })}" names no registry host`);
  const [host, repository] = [event.docker_url.slice(0, slash), event.docker_url.slice(slash + 1)];
  return { pushed: event.updated_tags.map((tag) => pushedReference(host, repository, tag)), ignored: [] };
}

function readGitHubPackage(body: unknown): Read {
  const event = check(GitHubPackageEvent, body);
  const pkg = event.package;
  if (event.action !== "published" && event.action !== "updated") return { pushed: [], ignored: [`a "${displayText(event.action, { maxLength: 20 })}" package event`] };
  if (pkg.package_type.toLowerCase() !== "container") return { pushed: [], ignored: [`a ${displayText(pkg.package_type, { maxLength: 20 })} package, not a container image`] };
  const tag = pkg.package_version?.container_metadata?.tag?.name;
  if (!tag) return { pushed: [], ignored: ["a container version without a tag"] };
  const owner = pkg.namespace ?? pkg.owner?.login;
  if (!owner) throw new EventError("package.namespace and package.owner.login are both missing");
  // ghcr.io names are lowercase whatever the case of the GitHub account or package.
  return { pushed: [pushedReference(registryHost(pkg.registry?.url), `${owner}/${pkg.name}`.toLowerCase(), tag)], ignored: [] };
}

/** The host of GitHub's `package.registry.url` (`https://ghcr.io/owner`), ghcr.io when absent or odd. */
function registryHost(url: string | undefined): string {
  if (url === undefined) return "ghcr.io";
  try {
    return new URL(url).host || "ghcr.io";
  } catch {
    return "ghcr.io";
  }
}
