import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, RegistryAuthError, type RegistryError } from "../../src/errors.js";
import { createRegistryClient } from "../../src/registry/registry-client.js";
import { found, helperDir, type HelperDir } from "../support/credential-helper.js";
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

/** Two htpasswd registries (hosts A and B), fake helpers first on PATH. */
describe("pulling with docker credential helpers", () => {
  let a: TestRegistry;
  let b: TestRegistry;
  let imageA: PushedImage;
  let imageB: PushedImage;
  let helpers: HelperDir;

  beforeAll(async () => {
    [a, b] = await Promise.all([startRegistry("basic"), startRegistry("basic")]);
    const layer = await buildLayer([{ type: "file", path: "hello", content: "from a helper" }]);
    [imageA, imageB] = await Promise.all([pushImage(a, "private/app:1", { layers: [layer] }), pushImage(b, "private/app:2", { layers: [layer] })]);
    const { username, password } = a.credentials!;
    helpers = await helperDir();
    // The default store knows both hosts; the per-host helper knows A only.
    await helpers.add("cistest", { [a.host]: found(username, password), [b.host]: found(username, password) });
    await helpers.add("cisother", { [a.host]: found(username, password) });
    await helpers.add("cisempty", {});
    await helpers.add("cisbroken", { "*": { stdout: `fatal: keychain said ${password}\n`, exit: 1 } });
    helpers.onPath();
  });
  afterAll(async () => {
    await helpers?.cleanup();
    await Promise.all([a?.stop(), b?.stop()]);
    await cleanupTestdirs();
  });

  async function authFile(config: object): Promise<string> {
    const dir = await testdir({ "config.json": JSON.stringify(config) });
    return dir.join("config.json");
  }

  it("credsStore: pulls with the helper's answer, running it once per host across many requests", async () => {
    const before = (await helpers.calls("cistest")).length;
    // A wrong `auths` entry for A proves the helper wins over it, as in docker.
    const file = await authFile({ credsStore: "cistest", auths: { [a.host]: { username: "tester", password: "stale" } } });
    const client = createRegistryClient({ insecureRegistries: [a.host, b.host], authFile: file, ...fast });
    // Concurrent first requests to one host still share one helper run.
    const [image, resolvedA, resolvedB] = await Promise.all([client.image(imageA.reference), client.resolve(imageA.reference), client.resolve(imageB.reference)]);
    expect(resolvedA.digest).toBe(imageA.manifestDigest);
    expect(image.manifestDigest).toBe(imageA.manifestDigest);
    expect(resolvedB.digest).toBe(imageB.manifestDigest);
    expect((await readAll(await image.layers[0]!.compressed())).length).toBe(imageA.layers[0]!.size);
    expect(await client.listTags(imageA.reference)).toEqual(["1"]);
    expect((await client.resolve(imageA.reference)).digest).toBe(imageA.manifestDigest);
    expect((await client.image(imageB.reference)).manifestDigest).toBe(imageB.manifestDigest);
    const calls = (await helpers.calls("cistest")).slice(before);
    expect(calls.map((c) => c.input).sort()).toEqual([a.host, b.host].sort());
    expect(calls.every((c) => c.args.join(" ") === "get")).toBe(true);
    await client.close();
  });

  it("credHelpers: the host's own helper overrides credsStore", async () => {
    const before = { store: (await helpers.calls("cisbroken")).length, own: (await helpers.calls("cisother")).length };
    const file = await authFile({ credsStore: "cisbroken", credHelpers: { [a.host]: "cisother" } });
    const client = createRegistryClient({ insecureRegistries: [a.host, b.host], authFile: file, ...fast });
    expect((await client.resolve(imageA.reference)).digest).toBe(imageA.manifestDigest);
    expect((await helpers.calls("cisother")).slice(before.own).map((c) => c.input)).toEqual([a.host]);
    expect((await helpers.calls("cisbroken")).length).toBe(before.store);
    // B has no entry of its own, so credsStore (broken here) is what runs for it.
    const err = await client.resolve(imageB.reference).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((await helpers.calls("cisbroken")).slice(before.store).map((c) => c.input)).toEqual([b.host]);
    await client.close();
  });

  it("'credentials not found' means anonymous: the registry's 401 gives the usual auth error", async () => {
    const { username, password } = a.credentials!;
    // Docker ignores `auths` for a host that has a helper, even when the helper knows nothing.
    const file = await authFile({ credsStore: "cisempty", auths: { [a.host]: { username, password } } });
    const client = createRegistryClient({ insecureRegistries: [a.host], authFile: file, ...fast });
    const err = await client.resolve(imageA.reference).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect((err as RegistryError).message).toMatch(/requires a username and password/);
    expect((await helpers.calls("cisempty")).map((c) => c.input)).toEqual([a.host]);
    await client.close();
  });

  it("a failing or missing helper is a ConfigError naming helper and host, never the secret", async () => {
    const { password } = a.credentials!;
    for (const [suffix, pattern] of [
      ["cisbroken", /credential helper docker-credential-cisbroken for 127\.0\.0\.1:\d+ \(configured in .*config\.json\): exited with status 1/],
      ["cismissing", /credential helper docker-credential-cismissing for 127\.0\.0\.1:\d+ .*not on PATH/],
    ] as const) {
      const client = createRegistryClient({ insecureRegistries: [a.host], authFile: await authFile({ credsStore: suffix }), ...fast });
      const err = await client.image(imageA.reference).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(pattern);
      expect((err as Error).message).toContain(a.host);
      expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(password);
      await client.close();
    }
  });
});
