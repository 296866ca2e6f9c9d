import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { verifyRepository } from "../../cvmfs/verify.js";
import { ConfigError } from "../../errors.js";
import { info } from "../../logger.js";
import type { CommandInput } from "../run-command.js";
import { formatBytes } from "../table.js";

/** `verify`: walk a repository (directory or URL) and report every problem; exit 1 if any. */
export async function run({ options, settings, logger, ctx }: CommandInput): Promise<number> {
  const repoUrl = options["repoUrl"] as string | undefined;
  const dir = resolve((options["stratum0"] as string | undefined) ?? join("stratum0", settings.repo));
  if (!repoUrl && !existsSync(join(dir, ".cvmfspublished"))) {
    throw new ConfigError(`no repository at ${dir} (no .cvmfspublished): give --stratum0 DIR or --repo-url URL`);
  }
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
