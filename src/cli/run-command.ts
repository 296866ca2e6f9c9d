import { Writable } from "node:stream";
import type { Logger } from "../logger.js";
import { resolveCommonSettings, type RawCommonOptions } from "../config/settings.js";
import type { CommandContext, CommandModule } from "./context.js";
import { jsonLogger, textLogger } from "./log-output.js";
import { ProgressDisplay } from "./progress.js";

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  plan: () => import("./commands/plan.js"),
  convert: () => import("./commands/convert.js"),
  sync: () => import("./commands/sync.js"),
  serve: () => import("./commands/serve.js"),
  verify: () => import("./commands/verify.js"),
  export: () => import("./commands/export.js"),
  gc: () => import("./commands/gc.js"),
  status: () => import("./commands/status.js"),
  "mr-note": () => import("./commands/mr-note.js"),
};

/** Resolves settings, sets up the output the user asked for, runs the command. */
export async function runCommand(
  name: string,
  args: string[],
  options: Record<string, unknown>,
  ctx: CommandContext,
): Promise<number> {
  const settings = resolveCommonSettings(options as RawCommonOptions, ctx.env);
  const load = COMMANDS[name];
  if (!load) throw new Error(`unknown command ${name}`);
  const interactive = settings.logFormat === "text" && ctx.stderr.isTTY === true && options["quiet"] !== true && !ctx.env["CI"];
  const progress = interactive ? new ProgressDisplay(ctx.stderr as NodeJS.WriteStream) : undefined;
  const logger: Logger = progress ?? (settings.logFormat === "json" ? jsonLogger(ctx.stderr) : textLogger(ctx.stderr));
  // The result (a summary table) goes below the finished bars, never between redraws.
  const commandCtx: CommandContext = progress
    ? {
        ...ctx,
        stdout: new Writable({
          write(chunk: Buffer, encoding: BufferEncoding, done: (err?: Error | null) => void) {
            progress.stop();
            ctx.stdout.write(chunk, encoding, done);
          },
        }),
      }
    : ctx;
  try {
    const mod = await load();
    ctx.stopsOnSignal = mod.stopsOnSignal === true;
    return await mod.run({ args, options, settings, logger: mod.stopsOnSignal ? logger : recordingPublishes(logger, ctx), ctx: commandCtx });
  } finally {
    progress?.stop();
  }
}

/** The events that say a revision now exists: a local publish, a new repository, a gateway commit. */
const PUBLISH_EVENTS = new Set(["stratum0.publish", "stratum0.create", "gateway.published"]);

/** `logger`, also noting in `ctx.published` each revision the command reports publishing. */
function recordingPublishes(logger: Logger, ctx: CommandContext): Logger {
  return {
    log(e) {
      const revision = e.fields?.["revision"];
      if (PUBLISH_EVENTS.has(e.event)) ctx.published = { revision: typeof revision === "number" ? revision : 0, created: e.event === "stratum0.create" };
      logger.log(e);
    },
  };
}
