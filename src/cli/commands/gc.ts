import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { garbageCollect, type GcResult } from "../../cvmfs/gc/garbage-collect.js";
import { resolveRetention } from "../../cvmfs/gc/retention.js";
import { Stratum0 } from "../../cvmfs/repository/stratum0.js";
import { asConfigError, ConfigError } from "../../errors.js";
import { info } from "../../logger.js";
import { formatBytes, formatDuration } from "../../human-format.js";
import type { CommandInput } from "../context.js";

/**
 * `gc`: delete the objects of a local stratum 0 that the kept revisions no longer reference
 * (the current one always; `--keep-revisions N` newest, `--keep-days D` recent; three days when
 * neither is given, as `cvmfs_server gc`). Exit 0 done, 1 the repository could not be collected
 * safely (nothing deleted), 2 bad flags or no repository.
 */
export async function run({ options, settings, logger, ctx }: CommandInput): Promise<number> {
  const dir = resolve((options["stratum0"] as string | undefined) ?? join("stratum0", settings.repo));
  const retention = resolveRetention({
    ...numberOption(options["keepRevisions"], "--keep-revisions", "keepRevisions"),
    ...numberOption(options["keepDays"], "--keep-days", "keepDays"),
  });
  const dryRun = options["dryRun"] === true;
  if (!existsSync(join(dir, ".cvmfspublished"))) {
    throw new ConfigError(`no repository at ${dir} (no .cvmfspublished): give --stratum0 DIR`);
  }
  // gc re-signs the manifest; keys created here would not match the repository anyway.
  for (const ext of ["masterkey", "key"]) {
    const file = join(settings.keysDir, `${settings.repo}.${ext}`);
    if (!existsSync(file)) throw new ConfigError(`gc signs the repository's manifest: ${file} is missing (give --keys-dir DIR)`);
  }
  const s0 = await Stratum0.openOrCreate(dir, { fqrn: settings.repo, keysDir: settings.keysDir, logger }).catch((cause: unknown) => {
    throw asConfigError(`open repository ${dir}`, cause);
  });
  try {
    const window = `${retention.keepRevisions} newest revision(s)${retention.keepDays > 0 ? ` and those of the last ${retention.keepDays} day(s)` : ""}`;
    info(logger, "gc.start", `collecting garbage in ${settings.repo} at ${dir}, keeping the ${window}${dryRun ? " (dry run)" : ""}`, {
      ...retention,
      dryRun,
    });
    const result = await garbageCollect(s0, { retention, dryRun, logger, signal: ctx.signal });
    const text = summary(result);
    ctx.stdout.write(`${text}\n`);
    logger.log({ level: "debug", event: "gc.done", message: text, fields: { ...result } });
    return 0;
  } finally {
    await s0.close();
  }
}

/** A flag's number, absent when not given (the defaults depend on which flags were given). */
function numberOption<K extends string>(raw: unknown, flag: string, key: K): Partial<Record<K, number>> {
  if (raw === undefined || raw === "") return {};
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new ConfigError(`${flag} must be a number, got "${String(raw)}"`);
  return { [key]: value } as Partial<Record<K, number>>;
}

function summary(r: GcResult): string {
  const verb = r.dryRun ? "would delete" : "deleted";
  return (
    `revision ${r.revision}: kept ${r.keptRevisions.length} revision(s) with ${r.catalogs} catalogs and ${r.objectsKept} objects, ` +
    `dropped ${r.droppedRevisions.length}; ${verb} ${r.objectsDeleted} objects (${formatBytes(r.bytesDeleted)})` +
    `${r.recentObjects > 0 ? `, left ${r.recentObjects} written meanwhile` : ""}; ${formatDuration(r.seconds * 1000)}`
  );
}
