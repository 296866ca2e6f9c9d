import { readFile } from "node:fs/promises";
import type { z } from "zod";
import { ConfigError } from "./errors.js";

/** How a JSON file given on the command line is named in errors, and how to make a good one. */
export interface JsonFileKind {
  /** What the file is called, e.g. `plan file`. */
  what: string;
  /** What it should be, e.g. `a plan`. */
  noun: string;
  /** The command that writes it, e.g. `plan --format json`. */
  writtenBy: string;
}

/**
 * Read and check a JSON file a user passed to a command (a plan for `mr-note`, run reports for
 * `status`). A file that cannot be read, is not JSON, or does not fit `schema` is a mistake to fix:
 * ConfigError naming the file and the first field that is wrong.
 */
export async function readJsonFile<T extends z.ZodType>(schema: T, file: string, kind: JsonFileKind): Promise<z.infer<T>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new ConfigError(`${kind.what} ${file}: cannot read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`${kind.what} ${file} is not JSON (write it with ${kind.writtenBy})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${kind.what} ${file} is not ${kind.noun} (${issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "bad shape"})`);
  }
  return parsed.data;
}
