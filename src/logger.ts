/**
 * The library never prints: it reports through a Logger that the CLI injects. Each call is one
 * event with a stable name (`layer.done`, `image.publish`, …) and flat fields; the CLI renders
 * events as text, as a progress display, or as one JSON line each (`--log-format json`).
 * Never put secrets (keys, tokens, passwords) in fields.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogEvent {
  level: LogLevel;
  /** Stable dotted name, e.g. `registry.retry`. */
  event: string;
  /** One human sentence. */
  message: string;
  /** Extra machine-readable fields (numbers, strings, booleans). */
  fields?: Record<string, unknown>;
}

export interface Logger {
  log(event: LogEvent): void;
}

/** A logger that drops everything: the default for library calls that pass none. */
export const silentLogger: Logger = { log() {} };

/** A logger that keeps events in memory: for tests that assert what was reported. */
export function memoryLogger(): Logger & { events: LogEvent[] } {
  const events: LogEvent[] = [];
  return { events, log: (e) => void events.push(e) };
}

/** Shorthands, so call sites read `warn(logger, "tree.unsafe", "…", { path })`. */
export function info(logger: Logger, event: string, message: string, fields?: Record<string, unknown>): void {
  logger.log({ level: "info", event, message, fields });
}
export function warn(logger: Logger, event: string, message: string, fields?: Record<string, unknown>): void {
  logger.log({ level: "warn", event, message, fields });
}
export function debug(logger: Logger, event: string, message: string, fields?: Record<string, unknown>): void {
  logger.log({ level: "debug", event, message, fields });
}
