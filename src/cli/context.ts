import type { Writable } from "node:stream";

/** What a command may touch of the process: streams, environment, and its exit code. */
export interface CommandContext {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM: commands stop, drop leases and clean up. */
  signal: AbortSignal;
  exitCode: number;
}
