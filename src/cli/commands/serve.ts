import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Stratum0 } from "../../cvmfs/repository/stratum0.js";
import { createRepositoryServer } from "../../cvmfs/repository/serve.js";
import { singleKeyAccess } from "../../gateway/access-config.js";
import { createGatewayHandler } from "../../gateway/dev-gateway.js";
import { readGatewayKey } from "../../gateway/key-file.js";
import { ConfigError } from "../../errors.js";
import { info } from "../../logger.js";
import type { CommandInput } from "../context.js";

/** SIGINT/SIGTERM is how `serve` stops: it exits 0 then, not 130. */
export const stopsOnSignal = true;

/**
 * `serve`: the local stratum 0 over HTTP with the dev gateway in front, on one port. Creates the
 * repository (and a gateway key file, mode 0600) when missing. Runs until SIGINT/SIGTERM.
 */
export async function run({ options, settings, logger, ctx }: CommandInput): Promise<number> {
  const dir = resolve((options["stratum0"] as string | undefined) ?? join("stratum0", settings.repo));
  const port = Number(options["port"] ?? 4929);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port must be 0..65535, got "${String(options["port"])}"`);
  const maxLeaseTime = Number(options["maxLeaseTime"] ?? 7200);
  const keyFile = resolve((options["gatewayKey"] as string | undefined) ?? join(settings.keysDir, `${settings.repo}.gw`));
  if (!existsSync(keyFile)) {
    await mkdir(dirname(keyFile), { recursive: true });
    // Only the key id is ever printed; the secret stays in the file.
    await writeFile(keyFile, `plain_text dev-key ${randomBytes(24).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    info(logger, "serve.key", `created gateway key file ${keyFile} (key id dev-key)`);
  }
  const key = await readGatewayKey(keyFile);
  // Created (or checked) here so the first request finds a repository; the gateway opens its own.
  await (await Stratum0.openOrCreate(dir, { fqrn: settings.repo, keysDir: settings.keysDir, logger })).close();
  const gateway = await createGatewayHandler({
    stratum0Dir: dir,
    fqrn: settings.repo,
    keysDir: settings.keysDir,
    access: singleKeyAccess(settings.repo, key),
    maxLeaseTime,
    logger,
  });
  const server = await createRepositoryServer({
    dir,
    fqrn: settings.repo,
    host: (options["host"] as string | undefined) ?? "127.0.0.1",
    port,
    apiHandler: gateway,
  });
  const origin = server.url.slice(0, server.url.indexOf("/cvmfs/"));
  ctx.stdout.write(`serving ${server.url} gateway ${origin}/api/v1\n`);
  logger.log({ level: "debug", event: "serve.ready", message: "ready", fields: { url: server.url, gateway: `${origin}/api/v1`, port: server.port } });
  await new Promise<void>((resolveStop) => {
    if (ctx.signal.aborted) resolveStop();
    ctx.signal.addEventListener("abort", () => resolveStop(), { once: true });
  });
  await server.close();
  await gateway.close();
  info(logger, "serve.stop", "stopped");
  return 0;
}
