import { describe, expect, it } from "vitest";
import { formatImageReference, parseImageReference } from "../../src/wishlist/reference.js";
import { ImageReferenceError } from "../../src/errors.js";

const digest = `sha256:${"ab".repeat(32)}`;

describe("parseImageReference", () => {
  it.each([
    ["centos:7", "docker.io/library/centos:7"],
    ["centos", "docker.io/library/centos:latest"],
    ["opensciencegrid/osgvo-el8:latest", "docker.io/opensciencegrid/osgvo-el8:latest"],
    ["index.docker.io/library/ubuntu:22.04", "docker.io/library/ubuntu:22.04"],
    ["registry-1.docker.io/ubuntu", "docker.io/library/ubuntu:latest"],
    ["ghcr.io/org/team/image:v1.2", "ghcr.io/org/team/image:v1.2"],
    ["127.0.0.1:5000/ns/name:tag", "127.0.0.1:5000/ns/name:tag"],
    ["localhost/name", "localhost/name:latest"],
    ["localhost:5000/name", "localhost:5000/name:latest"],
    [`ubuntu@${digest}`, `docker.io/library/ubuntu@${digest}`],
    [`quay.io/a/b:1.0@${digest}`, `quay.io/a/b:1.0@${digest}`],
    ["  hub.opensciencegrid.org/osg/x:*  ", "hub.opensciencegrid.org/osg/x:*"],
  ])("%s → %s", (input, expected) => {
    if (input.includes("*")) {
      expect(() => parseImageReference(input)).toThrow(ImageReferenceError);
      return;
    }
    expect(formatImageReference(parseImageReference(input))).toBe(expected);
  });

  it("splits registry, repository, tag and digest", () => {
    expect(parseImageReference(`host.example:8443/a/b:t@${digest}`)).toEqual({
      registry: "host.example:8443",
      repository: "a/b",
      tag: "t",
      digest,
    });
    expect(parseImageReference(`a/b@${digest}`)).toEqual({ registry: "docker.io", repository: "a/b", digest });
  });

  it.each([
    ["", "empty reference"],
    ["Ubuntu:22.04", "not a valid name component"],
    ["a//b", "empty path component"],
    ["name:bad tag", "whitespace"],
    ["name:-bad", "malformed tag"],
    ["name@sha256:1234", "64 lowercase hex"],
    ["name@nodigest", "malformed digest"],
    ["host:5000/", "missing repository name"],
    ["docker.io/a_/b", "not a valid name component"],
  ])("rejects %j (%s)", (input, reason) => {
    const err = (() => {
      try {
        parseImageReference(input);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ImageReferenceError);
    expect((err as ImageReferenceError).message).toContain(reason);
    expect((err as ImageReferenceError).code).toBe("E_REFERENCE");
  });
});
