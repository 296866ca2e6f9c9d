import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import {
  CredentialStore,
  credentialFromHelperAnswer,
  helperFor,
  helperServerUrl,
  parseDockerCredentialConfig,
  runCredentialHelper,
} from "../../src/registry/credentials.js";
import { found, helperDir, notFound, type HelperDir } from "../support/credential-helper.js";

describe("config.json credential helper settings", () => {
  it("reads credsStore and credHelpers, keys normalised to registry hosts", () => {
    const config = parseDockerCredentialConfig(
      JSON.stringify({
        auths: { "ghcr.io": { username: "gh", password: "tok" } },
        credsStore: "desktop",
        credHelpers: { "https://index.docker.io/v1/": "hub", "123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login", "off.io": "" },
      }),
      "config.json",
    );
    expect(config.credsStore).toBe("desktop");
    expect(Object.fromEntries(config.credHelpers)).toEqual({ "docker.io": "hub", "123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login", "off.io": "" });
    expect(helperFor(config, "docker.io")).toBe("hub");
    expect(helperFor(config, "ghcr.io")).toBe("desktop");
    // An empty credHelpers entry means no helper at all for that registry (its auths apply), as in docker.
    expect(helperFor(config, "off.io")).toBeUndefined();
    expect(helperFor(parseDockerCredentialConfig("{}", "f"), "ghcr.io")).toBeUndefined();
  });

  it("refuses helper names that would be paths", () => {
    expect(() => parseDockerCredentialConfig(JSON.stringify({ credsStore: "../../bin/sh" }), "/x/config.json")).toThrow(ConfigError);
    expect(() => parseDockerCredentialConfig(JSON.stringify({ credHelpers: { "a.io": "x/y" } }), "f")).toThrow(/credHelpers of a\.io/);
  });

  it("hands Docker Hub's index URL to helpers, the bare host otherwise", () => {
    expect(helperServerUrl("docker.io")).toBe("https://index.docker.io/v1/");
    expect(helperServerUrl("127.0.0.1:5000")).toBe("127.0.0.1:5000");
  });

  it("turns a <token> username into an identity token", () => {
    expect(credentialFromHelperAnswer({ Username: "<token>", Secret: "refresh-1" })).toEqual({ kind: "identity-token", token: "refresh-1" });
    expect(credentialFromHelperAnswer({ Username: "u", Secret: "p" })).toEqual({ kind: "basic", username: "u", password: "p" });
    expect(credentialFromHelperAnswer({ Username: "", Secret: "" })).toBeUndefined();
  });
});

describe("running docker-credential-<suffix> get", () => {
  let helpers: HelperDir;
  beforeAll(async () => {
    helpers = await helperDir();
    await helpers.add("cistest", {
      "https://index.docker.io/v1/": found("<token>", "refresh-from-helper"),
      "ghcr.io": found("ghuser", "gh-secret"),
      "gone.io": notFound,
      "broken.io": { stdout: "panic: leaked-secret-1\n", exit: 1 },
      "badjson.io": { stdout: '{"Username":"u","Secret":"leaked-secret-2"', exit: 0 },
      "slow.io": { stdout: "{}", delayMs: 10_000 },
    });
    helpers.onPath();
  });
  afterAll(async () => {
    await helpers.cleanup();
  });

  it("passes the server URL on stdin and reads an identity token from a <token> answer", async () => {
    expect(await runCredentialHelper("cistest", "docker.io")).toEqual({ kind: "identity-token", token: "refresh-from-helper" });
    expect(await runCredentialHelper("cistest", "ghcr.io")).toEqual({ kind: "basic", username: "ghuser", password: "gh-secret" });
    expect(await helpers.calls("cistest")).toEqual([
      { args: ["get"], input: "https://index.docker.io/v1/" },
      { args: ["get"], input: "ghcr.io" },
    ]);
  });

  it("takes 'credentials not found' as anonymous", async () => {
    expect(await runCredentialHelper("cistest", "gone.io")).toBeUndefined();
    expect(await runCredentialHelper("cistest", "elsewhere.io")).toBeUndefined();
  });

  it.each([
    ["broken.io", /docker-credential-cistest for broken\.io.*exited with status 1/, "leaked-secret-1"],
    ["badjson.io", /docker-credential-cistest for badjson\.io.*not credentials JSON/, "leaked-secret-2"],
  ])("fails on %s with a ConfigError naming helper and host, without its output", async (host, message, secret) => {
    const err = await runCredentialHelper("cistest", host, { source: "/etc/auth.json" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain("/etc/auth.json");
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(secret);
    expect((err as Error).cause).toBeUndefined();
  });

  it("fails when the helper is not on PATH, or does not answer in time", async () => {
    const missing = await runCredentialHelper("cisabsent", "ghcr.io").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConfigError);
    expect((missing as Error).message).toMatch(/docker-credential-cisabsent for ghcr\.io.*not on PATH/);
    const started = Date.now();
    const slow = await runCredentialHelper("cistest", "slow.io", { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(ConfigError);
    expect((slow as Error).message).toMatch(/docker-credential-cistest for slow\.io: no answer within/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("CredentialStore", () => {
  let helpers: HelperDir;
  beforeAll(async () => {
    helpers = await helperDir();
    await helpers.add("cisstore", { "a.io": found("ua", "pa"), "slow.io": { ...found("us", "ps"), delayMs: 200 } });
    await helpers.add("cisother", { "b.io": found("ub", "pb") });
    helpers.onPath();
  });
  afterAll(async () => {
    await helpers.cleanup();
  });

  const config = () =>
    parseDockerCredentialConfig(
      JSON.stringify({
        auths: { "a.io": { username: "file", password: "file-pass" }, "c.io": { username: "file", password: "file-pass" } },
        credsStore: "cisstore",
        credHelpers: { "b.io": "cisother" },
      }),
      "config.json",
    );

  it("follows docker's order: explicit, then the host's helper (over auths), and a helper's 'not found' is anonymous", async () => {
    const store = new CredentialStore(config(), { explicit: { "x.io": { kind: "basic", username: "flag", password: "f" } } });
    expect(await store.get("x.io")).toEqual({ kind: "basic", username: "flag", password: "f" });
    expect(await store.get("a.io")).toEqual({ kind: "basic", username: "ua", password: "pa" });
    expect(await store.get("b.io")).toEqual({ kind: "basic", username: "ub", password: "pb" });
    expect(await store.get("c.io")).toBeUndefined();
    expect(await new CredentialStore(undefined).get("a.io")).toBeUndefined();
    const authsOnly = parseDockerCredentialConfig(JSON.stringify({ auths: { "c.io": { username: "file", password: "file-pass" } } }), "f");
    expect(await new CredentialStore(authsOnly).get("c.io")).toEqual({ kind: "basic", username: "file", password: "file-pass" });
    expect((await helpers.calls("cisstore")).map((c) => c.input)).toEqual(["a.io", "c.io"]);
    expect((await helpers.calls("cisother")).map((c) => c.input)).toEqual(["b.io"]);
  });

  it("runs a helper once per host, however many lookups ask at once or later", async () => {
    const store = new CredentialStore(config());
    const answers = await Promise.all([store.get("slow.io"), store.get("slow.io"), store.get("slow.io")]);
    expect(answers).toEqual(Array(3).fill({ kind: "basic", username: "us", password: "ps" }));
    expect(await store.get("slow.io")).toEqual(answers[0]);
    expect((await helpers.calls("cisstore")).filter((c) => c.input === "slow.io")).toHaveLength(1);
  });
});
