import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, ConflictError, asConfigError } from "../../errors.js";
import { info, warn } from "../../logger.js";
import { createRegistryClient } from "../../registry/registry-client.js";
import { resolveTarget, splitList } from "../../config/settings.js";
import { getEventPlan, getEventTargets } from "../../events/get-event-plan.js";
import { rememberImages } from "../../events/remember-images.js";
import { resolveCompressor } from "../../cvmfs/objects/compressor.js";
import { parseFormats } from "../../runtimes/formats.js";
import { getSyncPlan } from "../../sync/get-sync-plan.js";
import { planFormats } from "../../sync/plan-formats.js";
import { createLayout, type LayoutKind } from "../../published/layout.js";
import { openPublishTarget } from "../../sync/publish-target.js";
import { executePlan, type Shard, type SyncRow } from "../../sync/sync-repository.js";
import { loadWishlists } from "../../wishlist/load-wishlists.js";
import { defaultOwner } from "../../wishlist/wishlist-owner.js";
import type { CommandInput } from "../context.js";
import { formatBytes, formatDuration, shortDigest } from "../../human-format.js";
import { formatTable } from "../table.js";
import type { RunRecord } from "../../status/run-report.js";
import { withRunReport } from "../../status/run-report-file.js";

const LAYOUTS: readonly LayoutKind[] = ["osg", "osg-registry", "ducc"];

/** Plans made in all when other runs keep changing the repository under this one. */
const CONFLICT_ATTEMPTS = 3;

/**
 * `sync`: make the repository match the wishlist. With no flags: `./images.txt` into the local
 * stratum 0 `./stratum0/<repo>` (created on first run). Exit 0 all published, 1 some images
 * failed (the rest were published), 2 bad input or configuration (nothing was published).
 * With `--report FILE` the run report is written however the run ends (see withRunReport).
 */
export async function run(input: CommandInput): Promise<number> {
  const record: RunRecord = { repository: input.settings.repo, startedAt: new Date() };
  return withRunReport(input.options["report"] as string | undefined, record, input.logger, () => runSync(input, record));
}

/** The run itself; `record` collects what the run report says, as the run gets to it. */
async function runSync({ options, settings, logger, ctx }: CommandInput, record: RunRecord): Promise<number> {
  const started = Date.now();
  const files = splitList(options["wishlist"] as string[] | string | undefined);
  const layoutKind = ((options["layout"] as string | undefined) ?? "osg") as LayoutKind;
  if (!LAYOUTS.includes(layoutKind)) throw new ConfigError(`--layout must be one of ${LAYOUTS.join(", ")}, got "${layoutKind}"`);
  const keepRemovedDays = Number(options["keepRemoved"] ?? 7);
  const formats = parseFormats(options["formats"] as string | undefined);
  // Which deflate the objects get (a bad CVMFS_IMAGE_SYNC_COMPRESSOR stops here, before any work).
  const compressor = resolveCompressor();
  const shard = parseShard(options["shard"] as string | undefined);
  if (!Number.isFinite(keepRemovedDays) || keepRemovedDays < 0) throw new ConfigError(`--keep-removed must be a number of days ≥ 0`);
  const target = resolveTarget(
    {
      stratum0: options["stratum0"] as string | undefined,
      gateway: options["gateway"] as string | undefined,
      gatewayKey: options["gatewayKey"] as string | undefined,
      repoUrl: options["repoUrl"] as string | undefined,
    },
    settings.repo,
  );
  const entries = await loadWishlists(files.length > 0 ? files : ["images.txt"], { logger });
  // A registry event (`--event FILE`): only the names it concerns; an event for no wishlist name stops here.
  const eventFile = options["event"] as string | undefined;
  if (eventFile !== undefined && shard) throw new ConfigError("--event and --shard do not combine: a run for an event syncs only the names it concerns");
  const event = eventFile === undefined ? undefined : await getEventTargets(eventFile, entries);
  if (event?.targets.length === 0) {
    ctx.stdout.write(`${event.line}\n`);
    return 0;
  }
  const layout = createLayout({ kind: layoutKind });
  const owner = (options["owner"] as string | undefined) || defaultOwner(files.length > 0 ? files : ["images.txt"], ctx.env);
  Object.assign(record, { wishlists: files.length > 0 ? files : ["images.txt"], entries, owner, ...(shard ? { shard } : {}) });
  const pubkey = join(settings.keysDir, `${settings.repo}.pub`);
  const where = target.kind === "local" ? target.stratum0 : target.repoUrl;
  const openTarget = () =>
    openPublishTarget(target, {
      fqrn: settings.repo,
      keysDir: settings.keysDir,
      cacheDir: settings.cacheDir,
      logger,
      signal: ctx.signal,
      ...(target.kind === "gateway" && existsSync(pubkey) ? { pubkeyPath: pubkey } : {}),
    }).catch((cause: unknown) => {
      throw asConfigError(`open repository ${where}`, cause);
    });
  const registry = createRegistryClient({
    insecureRegistries: settings.insecureRegistries,
    ...(settings.registryAuth ? { authFile: settings.registryAuth } : {}),
    logger,
  });
  // An event run fetches a moved tag's image while planning; its conversion gets the same object.
  const images = event ? rememberImages(registry) : registry;
  try {
    if (event) info(logger, "event.targets", event.line, { targets: event.targets.length, unlisted: event.unlisted.length });
 info(
      logger,
      "objects.compressor",
      `objects deflated with ${compressor.name} ${compressor.version} level ${compressor.level}${compressor.fallback ? ` (libdeflate not loaded: ${compressor.fallback})` : ""}`,
      { compressor: compressor.name, version: compressor.version, level: compressor.level },
    );
    info(logger, "sync.start", `syncing ${event ? `${event.targets.length} name(s) of a registry event` : `${entries.length} wishlist entr${entries.length === 1 ? "y" : "ies"}`} into ${settings.repo} (${target.kind === "local" ? target.stratum0 : target.gatewayUrl}) as owner ${owner}`, { owner });
    for (let attempt = 1; ; attempt++) {
      const publishTarget = await openTarget();
      try {
        const reader = await publishTarget.openReader().catch((cause: unknown) => {
          throw asConfigError(`read the published state from ${where}`, cause);
        });
        let planned;
        try {
          const planOptions = { keepRemovedDays, concurrency: settings.concurrency, logger, signal: ctx.signal, owner, platform: settings.platform, platforms: settings.platforms };
          planned = event
            ? await getEventPlan(event.targets, { registry: images, reader, layout }, planOptions)
            : await getSyncPlan(entries, { registry, reader, layout }, planOptions);
        } finally {
          await reader.close();
        }
        const { state, failures } = planned;
        const plan = planFormats(planned.plan, state, layout, formats);
        Object.assign(record, { tags: plan.tags, failures });
        const s = plan.summary;
        info(logger, "sync.plan", `plan: ${s.add} add, ${s.update} update, ${s.keep} keep, ${s.remove} remove, ${s.convert} to convert`, { ...s });
        const result = await executePlan(plan, state, failures, {
          registry: images,
          target: publishTarget,
          layout,
          platform: settings.platform,
          cacheDir: settings.cacheDir,
          concurrency: settings.concurrency,
          logger,
          signal: ctx.signal,
          ...(shard ? { shard } : {}),
          formats,
          // An event's plan comes from its names only: the index is the next full sync's to extend.
          ...(event ? { index: "leave" as const } : {}),
        });
        record.result = result;
        ctx.stdout.write(`${summaryTable(result.rows)}\n`);
        // Through a gateway each converted image is its own commit (its own lease), then one more.
        const commits = target.kind === "gateway" && result.commits > 1 ? ` in ${result.commits} commits` : "";
        const revision = result.revision !== undefined ? `published revision ${result.revision}${commits}` : "nothing to publish";
        ctx.stdout.write(`${revision}; ${result.failed} failed; ${formatDuration(Date.now() - started)}\n`);
        return result.failed > 0 ? 1 : 0;
      } catch (err) {
        // Another run changed what this one planned from: nothing of the final change was
        // published; plan again from the fresh state (images already published are reused).
        if (!(err instanceof ConflictError) || attempt >= CONFLICT_ATTEMPTS || ctx.signal.aborted) throw err;
        warn(logger, "sync.conflict", `${err.message}; planning again (attempt ${attempt + 1} of ${CONFLICT_ATTEMPTS})`, { attempt });
      } finally {
        await publishTarget.close();
      }
    }
  } finally {
    await registry.close();
  }
}

/** `--shard I/N` (1-based, as GitLab's CI_NODE_INDEX/CI_NODE_TOTAL). */
export function parseShard(text: string | undefined): Shard | undefined {
  if (text === undefined || text === "") return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const total = Number(m?.[2]);
  if (!m || index < 1 || total < 1 || index > total || total > 200) {
    throw new ConfigError(`--shard "${text}" is not I/N with 1 ≤ I ≤ N ≤ 200 (e.g. 2/4)`);
  }
  return { index, total };
}

function summaryTable(rows: SyncRow[]): string {
  return formatTable<SyncRow>(
    [
      { header: "image", value: (r) => r.image },
      { header: "action", value: (r) => r.action },
      { header: "digest", value: (r) => shortDigest(r.digest) },
      { header: "files", value: (r) => (r.files === undefined ? "-" : String(r.files)), align: "right" },
      { header: "size", value: (r) => formatBytes(r.bytes), align: "right" },
      { header: "new bytes", value: (r) => formatBytes(r.newBytes), align: "right" },
      ...(rows.some((r) => r.formats !== undefined) ? [{ header: "formats", value: (r: SyncRow) => r.formats ?? "-" }] : []),
      { header: "time", value: (r) => (r.seconds === undefined ? "-" : formatDuration(r.seconds * 1000)), align: "right" },
      { header: "result", value: (r) => (r.error ? `${r.result}: ${r.error}` : r.result) },
    ],
    rows,
  );
}
