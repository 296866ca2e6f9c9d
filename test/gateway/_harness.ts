import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { deflateSync } from "node:zlib";
import { createRepositoryServer, type RepositoryServer } from "../../src/cvmfs/repository/serve.js";
import type { AccessConfig } from "../../src/gateway/access-config.js";
import { createGatewayHandler, type DevGatewayOptions, type GatewayHandler } from "../../src/gateway/dev-gateway.js";
import { GatewayKey } from "../../src/gateway/key-file.js";
import type { PackFileObject } from "../../src/gateway/object-pack.js";

export const FQRN = "test.gw.org";
export const SECRET = "s3cr3t-gw-key-material";

/** A dev gateway on 127.0.0.1 serving a stratum 0 directory, with keys `k1` (all) and `k2` (/sub). */
export interface Harness {
  root: string;
  stratum0: string;
  keysDir: string;
  server: RepositoryServer;
  handler: GatewayHandler;
  apiUrl: string;
  key: GatewayKey;
  narrowKey: GatewayKey;
  close(): Promise<void>;
}

export async function startHarness(extra: Partial<DevGatewayOptions> = {}, prepare?: (h: { stratum0: string; keysDir: string }) => Promise<void>): Promise<Harness> {
  const root = await mkdtemp(join(tmpdir(), "gw-"));
  const stratum0 = join(root, "stratum0");
  const keysDir = join(root, "keys");
  await mkdir(join(stratum0, "data", "txn"), { recursive: true });
  await mkdir(keysDir, { recursive: true });
  await prepare?.({ stratum0, keysDir });
  const key = new GatewayKey("k1", SECRET);
  const narrowKey = new GatewayKey("k2", "other-secret");
  const access: AccessConfig = {
    keys: new Map([
      ["k1", key],
      ["k2", narrowKey],
    ]),
    repos: new Map([[FQRN, new Map([["k1", "/"], ["k2", "/sub"]])]]),
  };
  const handler = await createGatewayHandler({ stratum0Dir: stratum0, fqrn: FQRN, keysDir, access, ...extra });
  const server = await createRepositoryServer({ dir: stratum0, fqrn: FQRN, apiHandler: handler });
  return {
    root,
    stratum0,
    keysDir,
    server,
    handler,
    apiUrl: `http://127.0.0.1:${server.port}/api/v1`,
    key,
    narrowKey,
    close: async () => {
      await server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Path → SHA-256 of every file under `dir` (empty dirs included as "dir"), for byte-identity checks. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(d: string): Promise<void> {
    const entries = await readdir(d, { withFileTypes: true });
    if (entries.length === 0) out[relative(dir, d)] = "dir";
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out[relative(dir, p)] = createHash("sha256").update(await readFile(p)).digest("hex");
    }
  }
  await walk(dir);
  return out;
}

/** Write compressed objects into `dir` as pack inputs; returns them with their sha1 hash strings. */
export async function makeObjects(dir: string, count: number, seed: string, suffix = ""): Promise<PackFileObject[]> {
  await mkdir(dir, { recursive: true });
  const out: PackFileObject[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = deflateSync(Buffer.from(`${seed} object ${i} `.repeat(50 + i)));
    const h = createHash("sha1").update(bytes).digest("hex");
    const path = join(dir, `${seed}-${i}`);
    await writeFile(path, bytes);
    out.push({ hash: `${h}${suffix}`, size: bytes.length, path });
  }
  return out;
}

/** Whether the stratum 0 holds the object with these exact bytes. */
export async function storedObject(stratum0: string, o: PackFileObject): Promise<boolean> {
  const m = /^([0-9a-f]{2})(.*)$/.exec(o.hash)!;
  const p = join(stratum0, "data", m[1]!, m[2]!);
  try {
    await stat(p);
  } catch {
    return false;
  }
  return (await readFile(p)).equals(await readFile(o.path));
}
