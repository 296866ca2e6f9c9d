/**
 * Starts Debian's `docker-registry` (the CNCF distribution registry, 2.8) on 127.0.0.1 on a free
 * port, with a temp storage dir and a generated config, in one of three auth variants: anonymous,
 * htpasswd Basic auth, or Bearer tokens from our own token issuer. `stop()` ends the process and
 * removes the dir. Tests reach it as an insecure (plain HTTP) registry named `host`.
 */
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { execa, type ResultPromise } from "execa";
import { request } from "undici";
import { startTokenIssuer, type TokenIssuer, type TokenIssuerOptions } from "./token-issuer.js";
import { testdir } from "./testdir.js";

export type RegistryVariant = "anonymous" | "basic" | "token";

export interface StartRegistryOptions {
  /** Options for the token issuer of the `token` variant (users default to `credentials`). */
  tokenIssuer?: TokenIssuerOptions;
  /** Where the temp dir (config, storage) goes; default `$TMPDIR`. Benchmarks pass their scratch dir. */
  parentDir?: string;
  /**
   * Extra top-level sections appended to the generated config.yml, as YAML text (e.g. a
   * `notifications:` section whose endpoints point at a sink the test started).
   */
  extraConfig?: string;
  /** Keep the registry's access log (one line a request, on stdout) in `TestRegistry.accessLog()`. */
  accessLog?: boolean;
}

/** Where test-support code pushes to: a base URL and the header that grants push there. */
export interface PushTarget {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `127.0.0.1:PORT`: the registry part of image references. */
  readonly host: string;
  /** The Authorization header value granting pull+push on `repository`, if the target needs one. */
  authorization(repository: string): string | undefined;
}

export interface TestRegistry extends PushTarget {
  readonly variant: RegistryVariant;
  readonly port: number;
  readonly storageDir: string;
  /** The user the `basic` and `token` variants accept. */
  readonly credentials?: { username: string; password: string };
  /** The token issuer of the `token` variant. */
  readonly issuer?: TokenIssuer;
  /** The access-log lines written so far (`accessLog: true`), e.g. `… "HEAD /v2/ns/app/manifests/1 HTTP/1.1" 200 …`. */
  accessLog(): string[];
  stop(): Promise<void>;
}

/** A port that was free a moment ago. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const CREDENTIALS = { username: "tester", password: "s3cret-pass" };

/** Start a registry and wait until it answers `/v2/`. */
export async function startRegistry(variant: RegistryVariant = "anonymous", options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await testdir({ "storage/": "" }, "cis-registry-", options.parentDir);
  const port = await freePort();
  let issuer: TokenIssuer | undefined;
  let auth = "";
  if (variant === "basic") {
    const { stdout } = await execa("htpasswd", ["-Bbn", CREDENTIALS.username, CREDENTIALS.password]);
    await writeFile(dir.join("htpasswd"), stdout.trim() + "\n");
    auth = `auth:\n  htpasswd:\n    realm: test-registry\n    path: ${dir.join("htpasswd")}\n`;
  } else if (variant === "token") {
    issuer = await startTokenIssuer(dir.path, {
      users: { [CREDENTIALS.username]: CREDENTIALS.password },
      ...options.tokenIssuer,
    });
    auth =
      `auth:\n  token:\n    realm: ${issuer.realm}\n    service: ${issuer.service}\n` +
      `    issuer: ${issuer.issuer}\n    rootcertbundle: ${issuer.certFile}\n`;
  }
  const config =
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: ${options.accessLog ? "false" : "true"}\n` +
    `storage:\n  filesystem:\n    rootdirectory: ${dir.join("storage")}\n  delete:\n    enabled: true\n` +
    `  maintenance:\n    uploadpurging:\n      enabled: false\n` +
    `http:\n  addr: 127.0.0.1:${port}\n  secret: test-secret\n` +
    // Non-distributable layers name URLs; without an allow list distribution rejects them.
    `validation:\n  manifests:\n    urls:\n      allow:\n        - ^https?://\n` +
    auth +
    (options.extraConfig ?? "");
  await writeFile(dir.join("config.yml"), config);
  const child: ResultPromise = execa("/usr/bin/docker-registry", ["serve", dir.join("config.yml")], {
    stdio: ["ignore", options.accessLog ? "pipe" : "ignore", "pipe"],
    reject: false,
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => void (stderr += d.toString()));
  let stdout = "";
  child.stdout?.on("data", (d: Buffer) => void (stdout += d.toString()));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await request(`${url}/v2/`);
      await res.body.dump();
      if (res.statusCode === 200 || res.statusCode === 401) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      await dir.cleanup();
      throw new Error(`docker-registry did not start: ${stderr.slice(0, 2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const basic = `Basic ${Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString("base64")}`;
  return {
    variant,
    host: `127.0.0.1:${port}`,
    port,
    url,
    storageDir: dir.join("storage"),
    ...(variant !== "anonymous" ? { credentials: CREDENTIALS } : {}),
    ...(issuer ? { issuer } : {}),
    accessLog: () => stdout.split("\n").filter((line) => line !== ""),
    authorization(repository) {
      if (variant === "basic") return basic;
      if (variant === "token" && issuer) {
        return `Bearer ${issuer.mint(CREDENTIALS.username, [{ type: "repository", name: repository, actions: ["pull", "push", "delete"] }])}`;
      }
      return undefined;
    },
    async stop() {
      child.kill("SIGTERM");
      await child;
      await issuer?.stop();
      await dir.cleanup();
    },
  };
}
