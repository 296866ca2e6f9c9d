import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryAuthError, RegistryError } from "../../src/errors.js";
import { memoryLogger } from "../../src/logger.js";
import { createRegistryClient } from "../../src/registry/registry-client.js";
import { pushImage, type PushedImage } from "../support/image-builder.js";
import { buildLayer } from "../support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { cleanupTestdirs, testdir } from "../support/testdir.js";

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const fast = { retries: 0, retryBaseMs: 10 };

describe("Basic auth (htpasswd)", () => {
  let registry: TestRegistry;
  let pushed: PushedImage;
  beforeAll(async () => {
    registry = await startRegistry("basic");
    pushed = await pushImage(registry, "private/app:1", { layers: [await buildLayer([{ type: "file", path: "x", content: "x" }])] });
  });
  afterAll(async () => {
    await registry.stop();
    await cleanupTestdirs();
  });

  it("pulls with credentials from a docker config.json (base64 auth)", async () => {
    const { username, password } = registry.credentials!;
    const dir = await testdir({
      "config.json": JSON.stringify({ auths: { [`http://${registry.host}`]: { auth: Buffer.from(`${username}:${password}`).toString("base64") } } }),
    });
    const client = createRegistryClient({ insecureRegistries: [registry.host], authFile: dir.join("config.json"), ...fast });
    const image = await client.image(pushed.reference);
    expect(image.manifestDigest).toBe(pushed.manifestDigest);
    expect((await readAll(await image.layers[0]!.compressed())).length).toBe(pushed.layers[0]!.size);
    expect(await client.listTags(pushed.reference)).toEqual(["1"]);
    await client.close();
  });

  it("fails with RegistryAuthError, without the password in the message, when credentials are wrong or missing", async () => {
    const wrong = createRegistryClient({
      insecureRegistries: [registry.host],
      authFile: false,
      credentials: { [registry.host]: { kind: "basic", username: "tester", password: "not-the-password" } },
      ...fast,
    });
    const err = await wrong.resolve(pushed.reference).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect((err as RegistryError).details.status).toBe(401);
    expect(JSON.stringify({ m: (err as Error).message, d: (err as RegistryError).details })).not.toContain("not-the-password");
    const none = createRegistryClient({ insecureRegistries: [registry.host], authFile: false, ...fast });
    const err2 = await none.resolve(pushed.reference).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(RegistryAuthError);
    expect((err2 as Error).message).toMatch(/requires a username and password/);
    await wrong.close();
    await none.close();
  });

  it("reads REGISTRY_AUTH_FILE when no file is named", async () => {
    const { username, password } = registry.credentials!;
    const dir = await testdir({ "auth.json": JSON.stringify({ auths: { [registry.host]: { username, password } } }) });
    const saved = process.env["REGISTRY_AUTH_FILE"];
    process.env["REGISTRY_AUTH_FILE"] = dir.join("auth.json");
    try {
      const client = createRegistryClient({ insecureRegistries: [registry.host], ...fast });
      expect((await client.resolve(pushed.reference)).digest).toBe(pushed.manifestDigest);
      await client.close();
    } finally {
      if (saved === undefined) delete process.env["REGISTRY_AUTH_FILE"];
      else process.env["REGISTRY_AUTH_FILE"] = saved;
    }
  });
});

describe("Bearer token auth (registry auth: token + our token issuer)", () => {
  let registry: TestRegistry;
  let a: PushedImage;
  let b: PushedImage;
  beforeAll(async () => {
    registry = await startRegistry("token", { tokenIssuer: { refreshTokens: { "refresh-abc": "tester" } } });
    const layer = await buildLayer([{ type: "file", path: "x", content: "token" }]);
    a = await pushImage(registry, "team/a:1", { layers: [layer] });
    b = await pushImage(registry, "team/b:1", { layers: [layer] });
  });
  afterAll(async () => {
    await registry.stop();
    await cleanupTestdirs();
  });

  it("pulls anonymously through the challenge flow, one token per repository scope, cached", async () => {
    const issuer = registry.issuer!;
    issuer.requests.length = 0;
    const logger = memoryLogger();
    const client = createRegistryClient({ insecureRegistries: [registry.host], authFile: false, logger, ...fast });
    const image = await client.image(a.reference);
    await readAll(await image.layers[0]!.compressed());
    await client.resolve(a.reference);
    await client.listTags(a.reference);
    await client.resolve(b.reference);
    expect(issuer.requests.map((r) => [r.method, r.params["scope"], r.params["service"], r.user])).toEqual([
      ["GET", "repository:team/a:pull", "test-registry", undefined],
      ["GET", "repository:team/b:pull", "test-registry", undefined],
    ]);
    expect(JSON.stringify(logger.events)).not.toMatch(/eyJ/);
    await client.close();
  });

  it("sends Basic credentials to the token server", async () => {
    const issuer = registry.issuer!;
    issuer.requests.length = 0;
    const client = createRegistryClient({
      insecureRegistries: [registry.host],
      authFile: false,
      credentials: { [registry.host]: { kind: "basic", ...registry.credentials! } },
      ...fast,
    });
    expect((await client.resolve(a.reference)).digest).toBe(a.manifestDigest);
    expect(issuer.requests.map((r) => [r.method, r.user, r.params["account"]])).toEqual([["GET", "tester", "tester"]]);
    await client.close();
  });

  it("uses an identitytoken as OAuth2 refresh token (POST)", async () => {
    const issuer = registry.issuer!;
    issuer.requests.length = 0;
    const dir = await testdir({ "config.json": JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from("<token>:").toString("base64"), identitytoken: "refresh-abc" } } }) });
    const client = createRegistryClient({ insecureRegistries: [registry.host], authFile: dir.join("config.json"), ...fast });
    expect((await client.image(a.reference)).configDigest).toBe(a.configDigest);
    expect(issuer.requests.map((r) => [r.method, r.params["grant_type"], r.params["scope"], r.user])).toEqual([
      ["POST", "refresh_token", "repository:team/a:pull", "tester"],
    ]);
    await client.close();
  });

  it("refuses bad token-server credentials with RegistryAuthError", async () => {
    const client = createRegistryClient({
      insecureRegistries: [registry.host],
      authFile: false,
      credentials: { [registry.host]: { kind: "basic", username: "tester", password: "wrong" } },
      ...fast,
    });
    const err = await client.resolve(a.reference).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect((err as Error).message).not.toContain("wrong");
    await client.close();
  });

  it("gets a new token when the cached one has expired", async () => {
    const short = await startRegistry("token", { tokenIssuer: { expiresIn: 1 } });
    try {
      const pushed = await pushImage(short, "exp/app:1", { layers: [await buildLayer([{ type: "file", path: "e", content: "e" }])] });
      const client = createRegistryClient({ insecureRegistries: [short.host], authFile: false, ...fast });
      await client.resolve(pushed.reference);
      await client.resolve(pushed.reference);
      expect(short.issuer!.requests).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 1000));
      await client.resolve(pushed.reference);
      expect(short.issuer!.requests).toHaveLength(2);
      await client.close();
    } finally {
      await short.stop();
    }
  });
});

describe("insecure registries", () => {
  it("speaks HTTPS to a registry not listed as insecure (and so fails against a plain HTTP one)", async () => {
    const registry = await startRegistry("anonymous");
    try {
      const client = createRegistryClient({ authFile: false, ...fast });
      const err = await client.resolve(`${registry.host}/x/y:1`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as RegistryError).details.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v2\/x\/y\/manifests\/1$/);
      await client.close();
    } finally {
      await registry.stop();
    }
  });
});
