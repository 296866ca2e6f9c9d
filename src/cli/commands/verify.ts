import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { request } from "undici";
import { RepositoryReader, type SourceSpec } from "../../cvmfs/repository/repository-reader.js";
import { verifyRepository } from "../../cvmfs/repository/verify.js";
import { checkArchTree } from "../../platforms/check-arch-tree.js";
import { createLayout } from "../../published/layout.js";
import { ConfigError } from "../../errors.js";
import { info } from "../../logger.js";
import type { CommandInput } from "../context.js";
import { formatBytes } from "../../human-format.js";

/**
 * `verify`: walk a repository (directory or URL) and report every problem, then resolve its
 * per-architecture names and variant links as each architecture's clients would; exit 1 if any.
 */
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
  const spec = repoUrl ? { url: repoUrl } : { dir };
  const { problems, stats, variantLinks } = await verifyRepository(spec, {
    fqrn: settings.repo,
    ...(pubkey ? { pubkeyPath: resolve(pubkey) } : {}),
  });
  problems.push(...(await checkArchLinks(spec, settings.repo, variantLinks)));
  for (const problem of problems) logger.log({ level: "error", event: "verify.problem", message: problem, fields: { problem } });
  const summary =
    `revision ${stats.revision}: ${stats.catalogs} catalogs, ${stats.entries} entries, ` +
    `${stats.objects} objects (${formatBytes(stats.objectBytes)}) — ${problems.length === 0 ? "OK" : `${problems.length} problem(s)`}`;
  ctx.stdout.write(`${summary}\n`);
  logger.log({ level: "debug", event: "verify.done", message: summary, fields: { ...stats, problems: problems.length } });
  return problems.length === 0 ? 0 : 1;
}

/**
 * What a client on each architecture sees: per-architecture names and variant links resolved with
 * each `CVMFS_ARCH` the repository publishes (platforms/check-arch-tree.ts). A repository whose
 * manifest or catalogs cannot be read has said so already; this adds nothing then.
 */
async function checkArchLinks(spec: SourceSpec, fqrn: string, variantLinks: readonly string[]): Promise<string[]> {
  let reader: RepositoryReader;
  try {
    reader = await RepositoryReader.open(spec, { fqrn });
  } catch {
    return [];
  }
  try {
    const imageRoots = [...new Set((["osg", "ducc"] as const).map((kind) => createLayout({ kind }).imagesRoot))];
    return await checkArchTree(reader, { imageRoots, variantLinks });
  } catch (err) {
    return [`per-architecture names: ${(err as Error).message}`];
  } finally {
    await reader.close();
  }
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
