import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { request } from "undici";
import { verifyRepository } from "../../cvmfs/repository/verify.js";
import { ConfigError } from "../../errors.js";
import { info } from "../../logger.js";
import type { CommandInput } from "../context.js";
import { formatBytes } from "../../human-format.js";

/** `verify`: walk a repository (directory or URL) and report every problem; exit 1 if any. */
export async function run({ options, settings, logger, ctx }: CommandInput): Promise<number> {
  const repoUrl = options["repoUrl"] as string | undefined;
  const dir = resolve((options["stratum0"] as string | undefined) ?? join("stratum0", settings.repo));
  if (!repoUrl && !existsSync(join(dir, ".cvmfspublished"))) {
    throw new ConfigError(`no repository at ${dir} (no .cvmfspublished): give --stratum0 DIR or --repo-url URL`);
  }
  if (repoUrl) await checkReachable(repoUrl);
  const defaultPub = join(settings.keysDir, `${settings.repo}.pub`);
  const pubkey = (options["pubkey"] as string | undefined) ?? (existsSync(defaultPub) ? defaultPub : undefined);
  const where = repoUrl ?? dir;
  info(logger, "verify.start", `verifying ${settings.repo} at ${where}${pubkey ? ` against ${pubkey}` : " (no master key: whitelist signature not checked)"}`);
  const { problems, stats } = await verifyRepository(repoUrl ? { url: repoUrl } : { dir }, {
    fqrn: settings.repo,
    ...(pubkey ? { pubkeyPath: resolve(pubkey) } : {}),
  });
  for (const problem of problems) logger.log({ level: "error", event: "verify.problem", message: problem, fields: { problem } });
  const summary =
    `revision ${stats.revision}: ${stats.catalogs} catalogs, ${stats.entries} entries, ` +
    `${stats.objects} objects (${formatBytes(stats.objectBytes)}) — ${problems.length === 0 ? "OK" : `${problems.length} problem(s)`}`;
  ctx.stdout.write(`${summary}\n`);
  logger.log({ level: "debug", event: "verify.done", message: summary, fields: { ...stats, problems: problems.length } });
  return problems.length === 0 ? 0 : 1;
}

/** A wrong address is a configuration error (exit 2), not a damaged repository (exit 1). */
async function checkReachable(repoUrl: string): Promise<void> {
  let status: number;
  try {
    const res = await request(`${repoUrl.replace(/\/+$/, "")}/.cvmfspublished`, { method: "HEAD", headersTimeout: 30_000 });
    await res.body.dump();
    status = res.statusCode;
  } catch (cause) {
    throw new ConfigError(`cannot reach ${repoUrl}: ${(cause as Error).message}`, { cause });
  }
  if (status === 404) throw new ConfigError(`no repository at ${repoUrl} (.cvmfspublished: HTTP 404)`);
}
