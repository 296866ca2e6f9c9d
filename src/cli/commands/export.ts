import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { exportRepository } from "../../cvmfs/export/export-repository.js";
import { RepositoryReader } from "../../cvmfs/repository/repository-reader.js";
import { ConfigError } from "../../errors.js";
import { formatBytes } from "../../human-format.js";
import type { CommandInput } from "../context.js";

/**
 * `export REPO_PATH DEST`: lay a repository subtree out on local disk through the repository
 * reader (every object hash-checked), to test it with a runtime without a CVMFS client: an image
 * directory for Apptainer, `podmanStore/` for Podman, `.layers/…/layerfs` as overlayfs lower
 * directories. Exit 0 written, 1 the repository could not be read, 2 bad arguments.
 */
export async function run({ args, options, settings, logger, ctx }: CommandInput): Promise<number> {
  const [repoPath, dest] = args;
  if (repoPath === undefined || dest === undefined) throw new ConfigError("export needs REPO_PATH and DEST");
  const repoUrl = options["repoUrl"] as string | undefined;
  const dir = resolve((options["stratum0"] as string | undefined) ?? join("stratum0", settings.repo));
  if (!repoUrl && !existsSync(join(dir, ".cvmfspublished"))) {
    throw new ConfigError(`no repository at ${dir} (no .cvmfspublished): give --stratum0 DIR or --repo-url URL`);
  }
  const defaultPub = join(settings.keysDir, `${settings.repo}.pub`);
  const pubkey = (options["pubkey"] as string | undefined) ?? (existsSync(defaultPub) ? defaultPub : undefined);
  const reader = await RepositoryReader.open(repoUrl ? { url: repoUrl } : { dir }, {
    fqrn: settings.repo,
    ...(pubkey ? { pubkeyPath: resolve(pubkey) } : {}),
  });
  try {
    const s = await exportRepository(reader, repoPath, resolve(dest), { logger, signal: ctx.signal });
    ctx.stdout.write(
      `${s.path} → ${resolve(dest)}: ${s.dirs} directories, ${s.files} files (${formatBytes(s.bytes)}), ${s.hardlinks} hardlinks, ` +
        `${s.symlinks} symlinks, ${s.specials} special files, ${s.xattrs} extended attributes\n`,
    );
    return 0;
  } finally {
    await reader.close();
  }
}
