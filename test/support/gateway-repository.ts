/**
 * A repository behind the dev gateway, as `serve` runs it: a stratum 0 created in `dir/s0` (keys
 * in `dir/keys`), the gateway API in front of it with one key from `dir/<keyFile>`, both on one
 * port on 127.0.0.1. For the tests that publish through the gateway protocol.
 */
import { createRepositoryServer, type RepositoryServer } from "../../src/cvmfs/repository/serve.js";
import { Stratum0 } from "../../src/cvmfs/repository/stratum0.js";
import { singleKeyAccess } from "../../src/gateway/access-config.js";
import { createGatewayHandler, type GatewayHandler } from "../../src/gateway/dev-gateway.js";
import { readGatewayKey } from "../../src/gateway/key-file.js";
import type { Testdir } from "./testdir.js";

export interface GatewayRepository {
  server: RepositoryServer;
  gateway: GatewayHandler;
  /** The gateway API's base URL (`…/api/v1`). */
  gatewayUrl: string;
  close(): Promise<void>;
}

export async function startGatewayRepository(dir: Testdir, fqrn: string, keyFile = "gw.key"): Promise<GatewayRepository> {
  await Stratum0.openOrCreate(dir.join("s0"), { fqrn, keysDir: dir.join("keys") });
  const gateway = await createGatewayHandler({
    stratum0Dir: dir.join("s0"),
    fqrn,
    keysDir: dir.join("keys"),
    access: singleKeyAccess(fqrn, await readGatewayKey(dir.join(keyFile))),
  });
  const server = await createRepositoryServer({ dir: dir.join("s0"), fqrn, apiHandler: gateway });
  return {
    server,
    gateway,
    gatewayUrl: `${server.url.slice(0, server.url.indexOf("/cvmfs/"))}/api/v1`,
    async close() {
      await server.close();
      await gateway.close();
    },
  };
}
