import { setMaxListeners } from "node:events";
import { CommanderError } from "commander";
import { AbortedError, ToolError, errorCode } from "../errors.js";
import type { CommandContext } from "./context.js";
import { buildProgram } from "./program.js";
import { redactSecrets } from "./log-output.js";
import { runCommand } from "./run-command.js";

/**
 * The process edge: the only place that reads argv, installs signal handlers and turns errors
 * into exit codes (0 all good, 1 some images failed, 2 bad input or configuration).
 */
export async function main(argv: string[], overrides: Partial<Omit<CommandContext, "exitCode">> = {}): Promise<number> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      controller.abort(new AbortedError(`interrupted by ${signal}`));
      return;
    }
    // A second signal: leave a few seconds for a held gateway lease to be dropped; a third exits now.
    if (signals >= 3) process.exit(130);
    setTimeout(() => process.exit(130), 10_000).unref();
  };
  const installSignals = overrides.signal === undefined;
  if (installSignals) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  const ctx: CommandContext = {
    stdout: overrides.stdout ?? process.stdout,
    stderr: overrides.stderr ?? process.stderr,
    env: overrides.env ?? process.env,
    signal: overrides.signal ?? controller.signal,
    exitCode: 0,
  };
  // Every image and layer in flight listens to this one signal.
  setMaxListeners(0, ctx.signal);
  try {
    const program = buildProgram(ctx, (name, args, options) => runCommand(name, args, options, ctx));
    await program.parseAsync(argv, { from: "user" });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : 2;
    }
    if (ctx.signal.aborted) {
      ctx.stderr.write(`error [E_ABORTED]: ${redactSecrets(String((ctx.signal.reason as Error)?.message ?? "interrupted"))}; nothing further was published\n`);
      return 130;
    }
    if (err instanceof ToolError) {
      ctx.stderr.write(`error [${err.code}]: ${redactSecrets(err.message)}\n`);
      return err.exitCode;
    }
    // Not raised on purpose: a bug or an unexpected system error. The stack is for a bug report.
    const debugging = Boolean(ctx.env["CVMFS_IMAGE_SYNC_DEBUG"]);
    const text = err instanceof Error ? (debugging ? (err.stack ?? err.message) : err.message) : String(err);
    ctx.stderr.write(`error [${errorCode(err)}]: ${redactSecrets(text)}${debugging ? "" : " (set CVMFS_IMAGE_SYNC_DEBUG=1 for details)"}\n`);
    return 1;
  } finally {
    if (installSignals) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }
}
