import { describe, expect, it } from "vitest";
import { parseWwwAuthenticate } from "../../src/registry/www-authenticate.js";

describe("parseWwwAuthenticate", () => {
  it.each([
    [
      "BearerWithScope",
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/centos:pull"',
      [{ scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/centos:pull" } }],
    ],
    [
      "QuotedCommasAndEscapes",
      'Bearer realm="https://a.example/token?x=1,2",service="svc \\"q\\"",scope="repository:a/b:pull,push"',
      [{ scheme: "bearer", params: { realm: "https://a.example/token?x=1,2", service: 'svc "q"', scope: "repository:a/b:pull,push" } }],
    ],
    ["Basic", 'Basic realm="Registry Realm"', [{ scheme: "basic", params: { realm: "Registry Realm" } }]],
    [
      "TwoChallengesUnquotedValues",
      'Basic realm=simple, Bearer realm="https://t.example/", error=insufficient_scope',
      [
        { scheme: "basic", params: { realm: "simple" } },
        { scheme: "bearer", params: { realm: "https://t.example/", error: "insufficient_scope" } },
      ],
    ],
    ["Empty", "", []],
    ["MixedCaseScheme", 'BEARER Realm="r"', [{ scheme: "bearer", params: { realm: "r" } }]],
  ])("%s", (_name, header, expected) => {
    expect(parseWwwAuthenticate(header)).toEqual(expected);
  });
});
