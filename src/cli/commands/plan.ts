import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { RepositoryReader } from "../../cvmfs/repository/repository-reader.js";
import { ConfigError, WishlistError, asConfigError, type WishlistProblem } from "../../errors.js";
import { info, type Logger } from "../../logger.js";
import { createRegistryClient, type RegistryClient } from "../../registry/registry-client.js";
import { getEventPlan, getEventTargets } from "../../events/get-event-plan.js";
import { parseFormats } from "../../runtimes/formats.js";
import { getSyncPlan } from "../../sync/get-sync-plan.js";
import { planFormats } from "../../sync/plan-formats.js";
import { resolveDesired, type ResolveFailure } from "../../sync/resolve-desired.js";
import { createLayout, type LayoutKind } from "../../published/layout.js";
import { formatPlanTable, planToJson } from "../../sync/plan-format.js";
import type { Plan } from "../../sync/plan.js";
import { emptyPublishedState } from "../../published/published-state.js";
import { assemblePlan } from "../../sync/plan.js";
import { getWishlistChanges } from "../../wishlist/git-base.js";
import { assembleWishlists, checkWishlists, readWishlistSources } from "../../wishlist/load-wishlists.js";
import { wishlistCheckRows } from "../../wishlist/wishlist-report.js";
import { defaultOwner } from "../../wishlist/wishlist-owner.js";
import type { WishlistEntry } from "../../wishlist/entry.js";
import { formatImageReference } from "../../wishlist/reference.js";
import { splitList } from "../../config/settings.js";
import type { CommandInput } from "../context.js";
import { forTerminal } from "../log-output.js";
import { formatTable } from "../table.js";
import { entryPlatforms } from "../../platforms/entry-platforms.js";
import { describePlanPlatforms } from "../../platforms/plan-platforms.js";

/**
 * `plan`: what `sync` would do. `--offline` checks and normalises the wishlist without network;
 * `--base REV` shows only what the wishlist change since REV brings, and checks each new line
 * against its registry (the image exists, the platform is there): what a merge request runs.
 */
export async function run(input: CommandInput): Promise<number> {
  const { options, logger, ctx } = input;
  const files = wishlistFiles(options);
  const format = (options["format"] as string | undefined) ?? "table";
  if (format !== "table" && format !== "json") throw new ConfigError(`--format must be table or json, got "${format}"`);

  const eventFile = options["event"] as string | undefined;
  if (eventFile !== undefined && (options["offline"] || options["base"])) throw new ConfigError("--event does not combine with --offline or --base");
  if (options["offline"]) return offline(files, format, input);

  const base = options["base"] as string | undefined;
  let entries: WishlistEntry[];
  let focus: { added: WishlistEntry[]; removed: WishlistEntry[] } | undefined;
  if (base) {
    const changes = await getWishlistChanges(base, files);
    if (changes.current.problems.length > 0) throw new WishlistError(changes.current.problems);
    entries = changes.current.entries;
    focus = { added: changes.diff.added, removed: changes.diff.removed };
    info(logger, "plan.base", `since ${base}: ${focus.added.length} line(s) added, ${focus.removed.length} removed`);
  } else {
    entries = assembleWishlists(await readWishlistSources(files), logger);
  }

  const layout = createLayout({ kind: ((options["layout"] as LayoutKind | undefined) ?? "osg") });
  // A registry event: only the names it concerns, as `sync --event` would publish them.
  const event = eventFile === undefined ? undefined : await getEventTargets(eventFile, entries);
  if (event) info(logger, "event.targets", event.line, { targets: event.targets.length, unlisted: event.unlisted.length });
  if (event?.targets.length === 0 && format === "table") {
    ctx.stdout.write(`${event.line}\n`);
    return 0;
  }
  const registry = createRegistryClient({
    insecureRegistries: input.settings.insecureRegistries,
    ...(input.settings.registryAuth ? { authFile: input.settings.registryAuth } : {}),
    logger,
  });
  try {
    if (focus) await validateNewLines(focus.added, registry, input);
    const reader = await openReader(options, input.settings.repo, logger);
    let plan: Plan;
    let failures: ResolveFailure[];
    let state = emptyPublishedState();
    try {
      if (event) {
        ({ plan, failures, state } = await getEventPlan(event.targets, { registry, reader, layout }, {
          platform: input.settings.platform,
          platforms: input.settings.platforms,
          concurrency: input.settings.concurrency,
          logger,
          signal: ctx.signal,
          owner: (options["owner"] as string | undefined) || defaultOwner(files, ctx.env),
        }));
      } else if (reader) {
        ({ plan, failures, state } = await getSyncPlan(entries, { registry, reader, layout }, {
          keepRemovedDays: Number(options["keepRemoved"] ?? 7),
          concurrency: input.settings.concurrency,
          platforms: input.settings.platforms,
          logger,
          signal: ctx.signal,
          owner: (options["owner"] as string | undefined) || defaultOwner(files, ctx.env),
        }));
      } else {
        const resolved = await resolveDesired(entries, registry, layout, { concurrency: 8, logger, signal: ctx.signal, platforms: input.settings.platforms });
        failures = resolved.failures;
        plan = assemblePlan(resolved.desired, emptyPublishedState(), layout, {});
      }
    } finally {
      await reader?.close();
    }
    // What each name's image has and gets (`--formats`), as `sync` would do it.
    plan = planFormats(plan, state, layout, parseFormats(options["formats"] as string | undefined));
    if (focus) {
      plan = focusPlan(plan, focus, layout.publicPath.bind(layout));
      const lines = new Set(focus.added.map((e) => `${e.file}:${e.line}`));
      failures = failures.filter((f) => lines.has(`${f.entry.file}:${f.entry.line}`));
    }
    // Per-architecture names whose index moved: each platform's digest and size, and a note for
    // a platform the index lacks, so a reviewer sees them before any sync (one GET per index).
    plan = await describePlanPlatforms(plan, registry, { runDefault: input.settings.platform, concurrency: input.settings.concurrency, logger, signal: ctx.signal });
    const failed = failures.map((f) => ({ file: f.entry.file, line: f.entry.line, reference: f.reference, code: f.code, message: f.message }));
    if (format === "json") {
      ctx.stdout.write(`${JSON.stringify({ ...planToJson(plan), failures: failed }, null, 2)}\n`);
    } else {
      ctx.stdout.write(`${formatPlanTable(plan)}\n`);
      for (const f of failed) ctx.stdout.write(`${forTerminal(`FAILED  ${f.file}:${f.line}  ${f.reference}  [${f.code}] ${f.message}`)}\n`);
    }
    // A line that cannot be resolved is not planned: say so with the exit code, as sync would.
    if (failed.length > 0) return 1;
    return 0;
  } finally {
    await registry.close();
  }
}

function wishlistFiles(options: Record<string, unknown>): string[] {
  const files = splitList(options["wishlist"] as string[] | string | undefined);
  return files.length > 0 ? files : ["images.txt"];
}

async function offline(files: string[], format: string, { ctx }: CommandInput): Promise<number> {
  const check = checkWishlists(await readWishlistSources(files));
  const rows = wishlistCheckRows(check, files);
  if (format === "json") {
    ctx.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  } else {
    ctx.stdout.write(
      `${formatTable(
        [
          { header: "where", value: (r: (typeof rows)[number]) => `${r.file}:${r.line}` },
          { header: "reference", value: (r) => r.reference ?? "" },
          { header: "note", value: (r) => r.error ?? (r.duplicateOf ? `duplicate of ${r.duplicateOf}` : (r.warning ?? "")) },
        ],
        rows,
      )}\n${check.entries.length} entr${check.entries.length === 1 ? "y" : "ies"}, ${check.problems.length} error(s), ${check.duplicates.length} duplicate(s)\n`,
    );
  }
  if (check.problems.length > 0) throw new WishlistError(check.problems);
  return 0;
}

/** Each new line: the image exists and has the platform (patterns: the repository has tags). */
async function validateNewLines(added: WishlistEntry[], registry: RegistryClient, { settings, ctx, logger }: CommandInput): Promise<void> {
  const problems: WishlistProblem[] = [];
  for (const entry of added) {
    const name = formatImageReference(entry.ref);
    try {
      if (entry.tagPattern !== undefined) {
        const tags = await registry.listTags(entry.ref, { signal: ctx.signal });
        if (tags.length === 0) problems.push({ file: entry.file, line: entry.line, message: `${name}: the repository has no tags` });
      } else {
        // The line's first platform must be there; a per-architecture one it lacks is only a note at sync.
        await registry.image(entry.ref, entryPlatforms(entry.platforms, settings.platforms).first, { signal: ctx.signal });
      }
      info(logger, "plan.valid", `${entry.file}:${entry.line}: ${name} OK`, { image: name });
    } catch (err) {
      problems.push({ file: entry.file, line: entry.line, message: `${name}: ${(err as Error).message}` });
    }
  }
  if (problems.length > 0) throw new WishlistError(problems);
}

async function openReader(options: Record<string, unknown>, repo: string, logger: Logger): Promise<RepositoryReader | undefined> {
  const url = options["repoUrl"] as string | undefined;
  const fail = (where: string) => (cause: unknown) => {
    throw asConfigError(`read the published state from ${where}`, cause);
  };
  if (url) return RepositoryReader.open({ url }, { fqrn: repo }).catch(fail(url));
  const dir = resolve((options["stratum0"] as string | undefined) ?? join("stratum0", repo));
  if (existsSync(join(dir, ".cvmfspublished"))) return RepositoryReader.open({ dir }, { fqrn: repo }).catch(fail(dir));
  info(logger, "plan.empty", `no repository at ${dir}: planning against an empty one`);
  return undefined;
}

/** Only the names that the added and removed lines touch. */
function focusPlan(plan: Plan, focus: { added: WishlistEntry[]; removed: WishlistEntry[] }, publicPath: (ref: WishlistEntry["ref"]) => string): Plan {
  const lines = new Set(focus.added.map((e) => `${e.file}:${e.line}`));
  const removedPaths = new Set(focus.removed.filter((e) => e.tagPattern === undefined).map((e) => publicPath(e.ref)));
  const tags = plan.tags.filter((t) => (t.file !== undefined && lines.has(`${t.file}:${t.line}`)) || removedPaths.has(t.publicPath));
  const paths = new Set(tags.map((t) => t.publicPath));
  const conversions = plan.conversions.filter((c) => c.publicPaths.some((p) => paths.has(p)));
  const imageRemovals = plan.imageRemovals.filter((r) => r.lastNames.some((n) => removedPaths.has(n)));
  const summary = { ...plan.summary };
  for (const key of ["add", "update", "keep", "remove"] as const) summary[key] = tags.filter((t) => t.action === key).length;
  summary.convert = conversions.length;
  summary.removeImages = imageRemovals.filter((r) => r.due).length;
  summary.waiting = imageRemovals.filter((r) => !r.due).length;
  return { ...plan, tags, conversions, imageRemovals, summary };
}
