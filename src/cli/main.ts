import { setMaxListeners } from "node:events";
import { CommanderError } from "commander";
import { AbortedError, ToolError, describeError, errorCode } from "../errors.js";
import type { CommandContext } from "./context.js";
import { buildProgram } from "./program.js";
import { forTerminal } from "./log-output.js";
import { runCommand } from "./run-command.js";

/** What the process's SIGINT/SIGTERM handlers do: act on the latest run of {@link main}. */
let onProcessSignal: ((signal: NodeJS.Signals) => void) | undefined;
let handlersInstalled = false;

/**
 * The process edge: the only place that reads argv, installs signal handlers and turns errors
 * into exit codes (0 all good, 1 some images failed, 2 bad input or configuration, 130
 * interrupted).
 *
 * SIGINT/SIGTERM means exit 130 whatever the moment. The first signal aborts the command; one
 * that comes while a publish is already under way lets that publish finish (a local stratum 0
 * renames its manifest in one step; a gateway commit already sent is not cut off), and one that
 * comes after the command returned, while the process winds down, still exits 130. Each time the
 * message says where the repository stands: at the revision this run published, or untouched.
 * The handlers stay installed until the process exits, so no signal ever finds it defenceless.
 */
export async function main(argv: string[], overrides: Partial<Omit<CommandContext, "exitCode">> = {}): Promise<number> {
  const controller = new AbortController();
  let signals = 0;
  let signalled: NodeJS.Signals | undefined;
  let ended = false;
  const installSignals = overrides.signal === undefined;
  const ctx: CommandContext = {
    stdout: overrides.stdout ?? process.stdout,
    stderr: overrides.stderr ?? process.stderr,
    env: overrides.env ?? process.env,
    signal: overrides.signal ?? controller.signal,
    exitCode: 0,
  };
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (ended) {
      // The command is over and the process only winds down: the outcome stands; say so, and exit 130.
      ctx.stderr.write(`error [E_ABORTED]: interrupted by ${signal} after the run ended; ${outcome(ctx)}\n`);
      process.exit(130);
    }
    if (signals === 1) {
      signalled = signal;
      controller.abort(new AbortedError(`interrupted by ${signal}`));
      return;
    }
    // A second signal: leave a few seconds for a held gateway lease to be dropped; a third exits now.
    if (signals >= 3) process.exit(130);
    setTimeout(() => process.exit(130), 10_000).unref();
  };
  if (installSignals) {
    // One pair of handlers per process, acting on the latest run (a script may call main twice).
    onProcessSignal = onSignal;
    if (!handlersInstalled) {
      handlersInstalled = true;
      process.on("SIGINT", (s) => onProcessSignal?.(s));
      process.on("SIGTERM", (s) => onProcessSignal?.(s));
    }
  }
  // Every image and layer in flight listens to this one signal.
  setMaxListeners(0, ctx.signal);
  try {
    const program = buildProgram(ctx, (name, args, options) => runCommand(name, args, options, ctx));
    await program.parseAsync(argv, { from: "user" });
    if (signalled !== undefined && !ctx.stopsOnSignal) {
      // The signal came too late to stop the work (a publish under way finished first).
      ctx.stderr.write(`error [E_ABORTED]: interrupted by ${signalled}; ${outcome(ctx)}\n`);
      return 130;
    }
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : 2;
    }
    if (ctx.signal.aborted) {
      const reason = describeError(ctx.signal.reason ?? "interrupted");
      ctx.stderr.write(`error [E_ABORTED]: ${forTerminal(reason)}; ${outcome(ctx)}\n`);
      return 130;
    }
    if (err instanceof ToolError) {
      ctx.stderr.write(`error [${err.code}]: ${forTerminal(describeError(err))}\n`);
      return err.exitCode;
    }
    // Not raised on purpose: a bug or an unexpected system error. The stack is for a bug report.
    const debugging = Boolean(ctx.env["CVMFS_IMAGE_SYNC_DEBUG"]);
    const text = err instanceof Error ? (debugging ? (err.stack ?? err.message) : describeError(err)) : String(err);
    ctx.stderr.write(`error [${errorCode(err)}]: ${forTerminal(text)}${debugging ? "" : " (set CVMFS_IMAGE_SYNC_DEBUG=1 for details)"}\n`);
    return 1;
  } finally {
    // The handlers stay: a signal while the process winds down must still mean exit 130.
    ended = true;
  }
}

/** Where an interrupted run left the repository, from the publish events the command reported. */
function outcome(ctx: CommandContext): string {
  if (!ctx.published) return "this run published nothing: the repository is as it was";
  if (ctx.published.created) return "this run created the repository empty (revision 0) and published nothing in it";
  return `the repository is at revision ${ctx.published.revision}, published by this run`;
}
