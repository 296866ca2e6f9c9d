import { CommanderError } from "commander";
import { ToolError, errorCode } from "../errors.js";
import type { CommandContext } from "./context.js";
import { buildProgram } from "./program.js";
import { runCommand } from "./run-command.js";

/**
 * The process edge: the only place that reads argv, installs signal handlers and turns errors
 * into exit codes (0 all good, 1 some images failed, 2 bad input or configuration).
 */
export async function main(argv: string[], overrides: Partial<Omit<CommandContext, "exitCode">> = {}): Promise<number> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error(`interrupted by ${signal}`));
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
  try {
    const program = buildProgram(ctx, (name, args, options) => runCommand(name, args, options, ctx));
    await program.parseAsync(argv, { from: "user" });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof ToolError) {
      ctx.stderr.write(`error [${err.code}]: ${err.message}\n`);
      return err.exitCode;
    }
    ctx.stderr.write(`error [${errorCode(err)}]: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    if (installSignals) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }
}
