import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { defaultAuthFile, loadAuthFile, normalizeAuthKey, parseDockerConfig } from "../../src/registry/credentials.js";
import { cleanupTestdirs, testdir } from "../support/testdir.js";

afterAll(cleanupTestdirs);

describe("docker config.json credentials", () => {
  it.each([
    ["https://index.docker.io/v1/", "docker.io"],
    ["registry-1.docker.io", "docker.io"],
    ["http://127.0.0.1:5000", "127.0.0.1:5000"],
    ["GHCR.io/some/path", "ghcr.io"],
  ])("normalises key %s to %s", (key, host) => {
    expect(normalizeAuthKey(key)).toBe(host);
  });

  it("reads auth, username/password and identitytoken entries", () => {
    const map = parseDockerConfig(
      JSON.stringify({
        auths: {
          "https://index.docker.io/v1/": { auth: Buffer.from("hubuser:pa:ss").toString("base64") },
          "ghcr.io": { username: "gh", password: "tok" },
          "quay.io": { auth: Buffer.from("<token>:").toString("base64"), identitytoken: "refresh" },
          "empty.io": {},
        },
        credsStore: "desktop",
      }),
      "config.json",
    );
    expect(Object.fromEntries(map)).toEqual({
      "docker.io": { kind: "basic", username: "hubuser", password: "pa:ss" },
      "ghcr.io": { kind: "basic", username: "gh", password: "tok" },
      "quay.io": { kind: "identity-token", token: "refresh", username: "<token>" },
    });
  });

  it("names the file, never the secret, in errors", async () => {
    expect(() => parseDockerConfig("{not json", "/x/config.json")).toThrow(/\/x\/config.json is not valid JSON/);
    const bad = () => parseDockerConfig(JSON.stringify({ auths: { h: { auth: Buffer.from("nocolon-secret").toString("base64") } } }), "f");
    expect(bad).toThrow(ConfigError);
    expect(bad).not.toThrow(/nocolon-secret/);
    await expect(loadAuthFile("/nonexistent/config.json")).rejects.toBeInstanceOf(ConfigError);
  });

  it("finds the default file: REGISTRY_AUTH_FILE, then DOCKER_CONFIG, then ~/.docker", async () => {
    const dir = await testdir({ "dc/config.json": "{}", "home/.docker/config.json": "{}" });
    expect(defaultAuthFile({ REGISTRY_AUTH_FILE: "/a.json", DOCKER_CONFIG: dir.join("dc") }, dir.join("home"))).toBe("/a.json");
    expect(defaultAuthFile({ DOCKER_CONFIG: dir.join("dc") }, dir.join("home"))).toBe(dir.join("dc/config.json"));
    expect(defaultAuthFile({}, dir.join("home"))).toBe(dir.join("home/.docker/config.json"));
    expect(defaultAuthFile({}, dir.join("nohome"))).toBeUndefined();
  });
});
