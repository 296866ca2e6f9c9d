import type { Writable } from "node:stream";
import { displayText } from "../human-format.js";
import type { LogEvent, Logger, LogLevel } from "../logger.js";

/**
 * How log events reach the user: readable lines (`--log-format text`, the default) or one JSON
 * object per line (`--log-format json`), always on stderr so that stdout carries only a command's
 * result (a plan, a summary table) and can be piped.
 */

/** Hides the password of any `scheme://user:password@host` in a text: users put them in URLs. */
export function redactSecrets(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]+):([^/@\s]+)@/gi, "$1$2:***@");
}

/**
 * A message as it may reach a terminal or a CI log: secrets hidden, control bytes shown escaped
 * (line feeds kept), whoever built it. Parts that came from user text are escaped and shortened
 * where they are quoted; this is the last line of defence for any that were not.
 */
export function forTerminal(text: string): string {
  return displayText(redactSecrets(text), { maxLength: Number.POSITIVE_INFINITY, keepNewlines: true });
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Progress events are for the progress display; as text lines they would flood a CI log. */
const CHATTY = new Set(["layer.progress", "blob.progress"]);

export function textLogger(out: Writable, options: { minLevel?: LogLevel; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[options.minLevel ?? "info"];
  const write = options.write ?? ((line: string) => void out.write(`${line}\n`));
  return {
    log(e: LogEvent) {
      if (ORDER[e.level] < min || CHATTY.has(e.event)) return;
      const prefix = e.level === "info" ? "" : `${e.level}: `;
      write(forTerminal(`${prefix}${e.message}`));
    },
  };
}

export function jsonLogger(out: Writable, now: () => Date = () => new Date()): Logger {
  return {
    log(e: LogEvent) {
      out.write(
        `${redactSecrets(JSON.stringify({ time: now().toISOString(), level: e.level, event: e.event, message: e.message, ...e.fields }, jsonSafe))}\n`,
      );
    },
  };
}

/** Buffers and bigints are not JSON: show sizes and strings instead. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
