import type { Writable } from "node:stream";
import type { CommonSettings } from "../config/settings.js";
import type { Logger } from "../logger.js";

/** What a command may touch of the process: streams, environment, and its exit code. */
export interface CommandContext {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM: commands stop, drop leases and clean up. */
  signal: AbortSignal;
  exitCode: number;
  /**
   * The last revision this run published, as the command reported it (`created` when it only
   * made the empty repository); kept by runCommand so an interruption can say where the
   * repository stands.
   */
  published?: { revision: number; created: boolean };
  /** Set for a command whose normal end is SIGINT/SIGTERM (`serve`): then a signal is no interruption. */
  stopsOnSignal?: boolean;
}

/** What every command module under ./commands (run-command.ts lists them) exports. */
export interface CommandModule {
  run(input: CommandInput): Promise<number>;
  /** SIGINT/SIGTERM is how this command is meant to stop (exit 0, not 130). */
  stopsOnSignal?: boolean;
}

export interface CommandInput {
  args: string[];
  /** The command's own options, raw from commander (strings, arrays, booleans). */
  options: Record<string, unknown>;
  settings: CommonSettings;
  logger: Logger;
  ctx: CommandContext;
}
