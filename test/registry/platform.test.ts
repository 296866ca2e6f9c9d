import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { choosePlatform, normalizePlatform, parsePlatform } from "../../src/registry/platform.js";

describe("platform", () => {
  it.each([
    ["linux/amd64", { os: "linux", architecture: "amd64" }],
    ["linux/x86_64", { os: "linux", architecture: "amd64" }],
    ["linux/arm64", { os: "linux", architecture: "arm64", variant: "v8" }],
    ["linux/aarch64", { os: "linux", architecture: "arm64", variant: "v8" }],
    ["linux/arm", { os: "linux", architecture: "arm", variant: "v7" }],
    ["linux/arm/6", { os: "linux", architecture: "arm", variant: "v6" }],
    ["Linux/AMD64", { os: "linux", architecture: "amd64" }],
  ])("parses %s", (text, expected) => {
    expect(parsePlatform(text)).toEqual(expected);
  });

  it.each(["linux", "linux/", "/amd64", "a/b/c/d"])("rejects %j with ConfigError", (text) => {
    expect(() => parsePlatform(text)).toThrow(ConfigError);
  });

  const index = [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm", variant: "v5" },
    { os: "linux", architecture: "arm", variant: "v6" },
    { os: "linux", architecture: "arm64" },
    { os: "unknown", architecture: "unknown" },
    undefined,
    { os: "windows", architecture: "amd64" },
  ];
  it.each([
    ["linux/amd64", 0],
    ["linux/arm64/v8", 3],
    ["linux/arm/v7", 2],
    ["linux/arm/v6", 2],
    ["linux/arm/v5", 1],
    ["windows/amd64", 6],
    ["linux/s390x", -1],
    ["linux/arm/v4", -1],
  ])("chooses for %s entry %d (containerd order: exact, then the nearest older arm variant)", (want, expected) => {
    expect(choosePlatform(parsePlatform(want), index)).toBe(expected);
  });

  it("prefers an exact variant over a compatible one wherever it sits", () => {
    expect(choosePlatform(parsePlatform("linux/arm/v7"), [{ os: "linux", architecture: "arm", variant: "v6" }, { os: "linux", architecture: "arm", variant: "v7" }])).toBe(1);
    expect(normalizePlatform({ os: "linux", architecture: "armhf" })).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
  });
});
