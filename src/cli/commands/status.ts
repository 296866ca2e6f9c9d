import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { RepositoryReader } from "../../cvmfs/repository/repository-reader.js";
import { ConfigError, asConfigError } from "../../errors.js";
import { formatBytes, formatDuration } from "../../human-format.js";
import { info } from "../../logger.js";
import { splitList } from "../../config/settings.js";
import { createLayout, type LayoutKind } from "../../published/layout.js";
import { assembleSite } from "../../status/assemble-site.js";
import { getStatus } from "../../status/get-status.js";
import { PAGE_ASSETS } from "../../status/page-assets.js";
import { writeSite } from "../../status/write-site.js";
import type { CommandInput } from "../context.js";

const LAYOUTS: readonly LayoutKind[] = ["osg", "osg-registry", "ducc"];

/**
 * `status --out DIR`: write the status site (index.html, status.json, a page per image) of the
 * repository at `--stratum0 DIR` or `--repo-url URL`, with the failures of the run reports
 * `--report FILE` (one per shard) and the history of `--previous FILE|URL`. Exit 0 when the site
 * was written, whatever the runs it shows; 2 for bad flags, a repository that cannot be read or
 * a report that cannot be.
 */
export async function run({ options, settings, logger, ctx }: CommandInput): Promise<number> {
  const started = Date.now();
  const given = (options["out"] as string | undefined) || "public";
  const out = resolve(given);
  const reportFiles = splitList(options["report"] as string[] | string | undefined);
  const previous = (options["previous"] as string | undefined) || undefined;
  const layoutKind = ((options["layout"] as string | undefined) ?? "osg") as LayoutKind;
  if (!LAYOUTS.includes(layoutKind)) throw new ConfigError(`--layout must be one of ${LAYOUTS.join(", ")}, got "${layoutKind}"`);
  const repoUrl = (options["repoUrl"] as string | undefined) || undefined;
  const dir = resolve((options["stratum0"] as string | undefined) ?? join("stratum0", settings.repo));
  if (!repoUrl && !existsSync(join(dir, ".cvmfspublished"))) {
    throw new ConfigError(`no repository at ${dir} (no .cvmfspublished): give --stratum0 DIR or --repo-url URL`);
  }
  const defaultPub = join(settings.keysDir, `${settings.repo}.pub`);
  const pubkey = (options["pubkey"] as string | undefined) ?? (existsSync(defaultPub) ? defaultPub : undefined);
  const where = repoUrl ?? dir;
  info(logger, "status.start", `reading ${settings.repo} at ${where}${reportFiles.length > 0 ? ` with ${reportFiles.length} run report(s)` : ""}`, { reports: reportFiles.length });

  const reader = await RepositoryReader.open(repoUrl ? { url: repoUrl } : { dir }, {
    fqrn: settings.repo,
    ...(pubkey ? { pubkeyPath: resolve(pubkey) } : {}),
  }).catch((cause: unknown) => {
    throw asConfigError(`open repository ${where}`, cause);
  });
  let status;
  try {
    status = await getStatus({
      reader,
      repository: settings.repo,
      layout: createLayout({ kind: layoutKind }),
      reportFiles,
      ...(previous !== undefined ? { previous } : {}),
      measureStorage: options["skipStorage"] !== true,
      concurrency: settings.concurrency,
      logger,
      signal: ctx.signal,
    });
  } finally {
    await reader.close();
  }
  const site = assembleSite(status, PAGE_ASSETS);
  const bytes = await writeSite(out, site);
  const index = Buffer.byteLength(site.get("index.html") ?? "");
  ctx.stdout.write(
    `wrote ${given}: ${status.names.length} names, ${status.images.length} images, ${status.failures.length} failure(s); ` +
      `index.html ${formatBytes(index)}, ${site.size} files ${formatBytes(bytes)}; ${formatDuration(Date.now() - started)}\n`,
  );
  return 0;
}
