/**
 * Registry notifications as each registry documents them, wrapped the way GitLab's webhook
 * trigger hands them to a job (its own `id`, `ref` and `variables` mixed into the body), read into
 * the tags they say were pushed. Malformed, unknown and hostile payloads fail with E_EVENT.
 */
import { describe, expect, it } from "vitest";
import { EventError } from "../../src/errors.js";
import { parseRegistryEvent, type RegistryEvent } from "../../src/events/registry-event.js";
import { formatImageReference } from "../../src/wishlist/reference.js";

const DIGEST = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4";

/** What GitLab's `/ref/<ref>/trigger/pipeline?token=…` makes of a JSON body: the body plus its own keys. */
function asTriggerPayload(body: Record<string, unknown>): string {
  return JSON.stringify({ ...body, id: "1217", ref: "main", variables: {} });
}

const read = (body: Record<string, unknown>): RegistryEvent => parseRegistryEvent(asTriggerPayload(body), "TRIGGER_PAYLOAD");
const pushed = (event: RegistryEvent): string[] => event.pushed.map(formatImageReference);

function failure(text: string): EventError {
  try {
    parseRegistryEvent(text, "TRIGGER_PAYLOAD");
  } catch (err) {
    expect(err).toBeInstanceOf(EventError);
    expect((err as EventError).code).toBe("E_EVENT");
    expect((err as EventError).exitCode).toBe(2);
    return err as EventError;
  }
  throw new Error("parsed");
}

/** Harbor's event data: one resource per artifact. */
function harborData(resources: Array<{ tag: string; url: string }>): Record<string, unknown> {
  return {
    resources: resources.map((r) => ({ digest: DIGEST, tag: r.tag, resource_url: r.url })),
    repository: { date_created: 1680501893, name: "alpine", namespace: "library", repo_full_name: "library/alpine", repo_type: "public" },
  };
}

describe("parseRegistryEvent", () => {
  it("reads Harbor's default webhook: the tag pushed, on the host of resource_url; a push by digest names no tag", () => {
    const event = read({
      type: "PUSH_ARTIFACT",
      occur_at: 1680501893,
      operator: "admin",
      event_data: harborData([
        { tag: "3.19", url: "harbor.example.org:8443/library/alpine:3.19" },
        { tag: DIGEST, url: `harbor.example.org:8443/library/alpine@${DIGEST}` },
      ]),
    });
    expect(event.format).toBe("harbor");
    expect(pushed(event)).toEqual(["harbor.example.org:8443/library/alpine:3.19"]);
    expect(event.ignored).toEqual(["a push by digest (no tag)"]);
    // The payload's digest is a claim: it is not kept anywhere.
    expect(JSON.stringify(event)).not.toContain(DIGEST.slice(7));
  });

  it("reads Harbor's CloudEvents form, whose id GitLab overwrote", () => {
    const event = read({
      specversion: "1.0",
      requestid: "51c0b694-0168-4f3c-b0db-282565455d7b",
      source: "/projects/2/webhook/policies/15",
      type: "harbor.artifact.pushed",
      datacontenttype: "application/json",
      time: "2023-04-03T06:04:46Z",
      data: harborData([{ tag: "latest", url: "harbor.example.org/library/alpine:latest" }]),
      operator: "harbor-jobservice",
    });
    expect(event.format).toBe("harbor-cloudevents");
    expect(pushed(event)).toEqual(["harbor.example.org/library/alpine:latest"]);
  });

  it("Harbor events that push nothing: a delete, a scan (whatever its data), in both forms", () => {
    const deleted = read({ type: "DELETE_ARTIFACT", occur_at: 1, event_data: harborData([{ tag: "1", url: "harbor.example.org/library/alpine:1" }]) });
    expect(deleted).toEqual({ format: "harbor", pushed: [], ignored: ["a delete (removals stay the wishlist's job)"] });
    const scanned = read({ type: "SCANNING_COMPLETED", event_data: { scan_overview: { severity: "High" } } });
    expect(scanned).toEqual({ format: "harbor", pushed: [], ignored: ["a SCANNING_COMPLETED event"] });
    const pulled = read({ specversion: "1.0", type: "harbor.artifact.pulled", data: {} });
    expect(pulled).toEqual({ format: "harbor-cloudevents", pushed: [], ignored: ["a harbor.artifact.pulled event"] });
  });

  it("reads the distribution registry's envelope: only manifest pushes with a tag count", () => {
    const target = (mediaType: string, extra: Record<string, unknown> = {}) => ({ mediaType, size: 708, digest: DIGEST, length: 708, repository: "sites/app", url: "http://r/v2/…", ...extra });
    const request = { id: "6df24a34", addr: "192.0.2.11:42961", host: "registry.example.org:5000", method: "PUT", useragent: "skopeo/1.9.3" };
    const event = read({
      events: [
        { id: "1", timestamp: "2016-03-09T14:44:26Z", action: "push", target: target("application/octet-stream"), request, actor: {}, source: { addr: "xtal.local:5000" } },
        { id: "2", action: "push", target: target("application/vnd.oci.image.manifest.v1+json"), request },
        { id: "3", action: "push", target: target("application/vnd.docker.distribution.manifest.v2+json", { tag: "1" }), request },
        { id: "4", action: "pull", target: target("application/vnd.oci.image.manifest.v1+json", { tag: "2" }), request },
        { id: "5", action: "delete", target: { digest: DIGEST, repository: "sites/app" }, request },
        { id: "6", action: "push", target: target("application/vnd.oci.image.index.v1+json", { tag: "1" }), request },
      ],
    });
    expect(event.format).toBe("distribution");
    expect(pushed(event)).toEqual(["registry.example.org:5000/sites/app:1"]);
    expect(event.ignored).toEqual(["a blob push", "a manifest push by digest (no tag)", "a pull", "a delete (removals stay the wishlist's job)"]);
  });

  it("reads Docker Hub's webhook, normalising the name", () => {
    const event = read({
      callback_url: "https://registry.hub.docker.com/u/svendowideit/testhook/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/",
      push_data: { pushed_at: 1417566161, pusher: "trustedbuilder", tag: "latest" },
      repository: { name: "testhook", namespace: "svendowideit", owner: "svendowideit", repo_name: "svendowideit/testhook", repo_url: "https://registry.hub.docker.com/u/svendowideit/testhook/", is_private: true, status: "Active" },
    });
    expect(event.format).toBe("docker-hub");
    expect(pushed(event)).toEqual(["docker.io/svendowideit/testhook:latest"]);
  });

  it("reads Quay's repository push, one reference per updated tag; a build notification pushes nothing", () => {
    const event = read({
      repository: "mynamespace/repository",
      namespace: "mynamespace",
      name: "repository",
      docker_url: "quay.io/mynamespace/repository",
      homepage: "https://quay.io/repository/mynamespace/repository",
      updated_tags: ["latest", "v1.2"],
    });
    expect(event.format).toBe("quay");
    expect(pushed(event)).toEqual(["quay.io/mynamespace/repository:latest", "quay.io/mynamespace/repository:v1.2"]);
    const build = read({ repository: "mynamespace/repository", docker_url: "quay.io/mynamespace/repository", build_id: "296ec063", docker_tags: ["latest"] });
    expect(build.pushed).toEqual([]);
  });

  it("reads GitHub's package event for ghcr.io, lowercasing the owner; other packages and untagged versions push nothing", () => {
    const pkg = (overrides: Record<string, unknown>, tag: string | null = "1.2.0") => ({
      action: "published",
      package: {
        id: 1, name: "Hello-World", namespace: "Octo-Org", description: "", ecosystem: "CONTAINER", package_type: "CONTAINER",
        html_url: "https://github.com/orgs/Octo-Org/packages/container/package/hello-world",
        owner: { login: "Octo-Org", id: 2, type: "Organization" },
        package_version: { id: 3, version: DIGEST, name: DIGEST, container_metadata: { tag: tag === null ? null : { name: tag, digest: DIGEST }, labels: {}, manifest: {} } },
        registry: { about_url: "https://docs.github.com/packages", name: "GitHub CR", type: "docker", url: "https://ghcr.io/octo-org", vendor: "GitHub Inc" },
        ...overrides,
      },
      repository: { id: 4, name: "hello-world", full_name: "Octo-Org/hello-world" },
      sender: { login: "octocat" },
    });
    const event = read(pkg({}));
    expect(event.format).toBe("github-package");
    expect(pushed(event)).toEqual(["ghcr.io/octo-org/hello-world:1.2.0"]);
    expect(read(pkg({ package_type: "npm" })).pushed).toEqual([]);
    expect(read(pkg({}, null))).toMatchObject({ pushed: [], ignored: ["a container version without a tag"] });
  });

  it("names each pushed reference once", () => {
    const event = read({ docker_url: "quay.io/ns/app", updated_tags: ["1", "1"] });
    expect(pushed(event)).toEqual(["quay.io/ns/app:1"]);
  });
});

describe("parseRegistryEvent refuses what it cannot read (E_EVENT, exit 2)", () => {
  it("text that is not JSON, or JSON that is not an object", () => {
    expect(failure("<html>502</html>").message).toMatch(/^TRIGGER_PAYLOAD: not JSON \(.*\); expected a Harbor webhook/);
    expect(failure("[1,2]").message).toMatch(/a JSON array, not an object/);
  });

  it("an unknown shape: what was expected, and the keys it has, escaped", () => {
    const err = failure(JSON.stringify({ kind: "push", "evil\u001b[2Jkey": 1, id: "1", ref: "main" }));
    expect(err.message).toContain("expected a Harbor webhook (type, event_data) or Harbor CloudEvent");
    expect(err.message).toContain("a Quay notification (docker_url, updated_tags) or a GitHub package event (action, package)");
    expect(err.message).toContain('its keys are "kind", "evil\\x1b[2Jkey"');
    expect(err.message).not.toContain("\u001b");
  });

  it("a payload of GitLab's keys only: the pipeline was not triggered by a webhook", () => {
    expect(failure(JSON.stringify({ id: "1217", ref: "main", variables: {} })).message).toMatch(/only GitLab's own keys \(id, ref, variables\)/);
  });

  it("a known shape with a field missing or wrong names the format and the field", () => {
    expect(failure(asTriggerPayload({ type: "PUSH_ARTIFACT", event_data: { resources: [{ tag: "1", resource_url: "h.example.org/a/b:1" }] } })).message).toBe(
      "TRIGGER_PAYLOAD: a Harbor webhook, but event_data.repository: Invalid input: expected object, received undefined",
    );
    expect(failure(asTriggerPayload({ push_data: { tag: 7 }, repository: { repo_name: "a/b" } })).message).toMatch(/a Docker Hub webhook, but push_data\.tag: /);
    expect(failure(asTriggerPayload({ specversion: "1.0", type: "com.example.thing", data: {} })).message).toMatch(/a Harbor CloudEvent, but type "com.example.thing" is not one of Harbor's/);
    expect(failure(asTriggerPayload({ events: [{ action: "push", target: { mediaType: "application/vnd.oci.image.manifest.v1+json", tag: "1" } }] })).message).toMatch(
      /events\.0: a tag push without request\.host or target\.repository/,
    );
  });

  it("references that do not parse, or a host no reference can name, are refused, escaped", () => {
    const bad = failure(asTriggerPayload({ docker_url: "quay.io/ns/app", updated_tags: ["1\u001b]0;owned\u0007"] }));
    expect(bad.message).toMatch(/a Quay notification, but invalid image reference/);
    expect(bad.message).not.toMatch(/[\u0000-\u001f]/);
    // "library" has no dot or port: as a reference it would name Docker Hub's library/ubuntu.
    const host = failure(asTriggerPayload({ events: [{ action: "push", target: { mediaType: "application/vnd.oci.image.manifest.v1+json", repository: "ubuntu", tag: "1" }, request: { host: "library" } }] }));
    expect(host.message).toMatch(/registry host "library" is no host an image reference can name/);
  });
});
