import type { z } from "zod";
import { RepositoryError } from "./errors.js";

/**
 * Parses one of the JSON files the tool keeps inside the repository (image metadata, removal
 * schedule) against its schema. Throws RepositoryError saying `read <what> <where>: <problem>`,
 * naming the first field that is wrong.
 */
export function parseRepositoryJson<T extends z.ZodType>(schema: T, bytes: Buffer | string, what: string, where: string): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === "string" ? bytes : bytes.toString("utf8"));
  } catch (cause) {
    throw new RepositoryError(`read ${what} ${where}: not JSON`, { cause });
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new RepositoryError(`read ${what} ${where}: ${issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid"}`);
  }
  return result.data;
}

/** The bytes of such a file: pretty JSON with a final newline. */
export function formatRepositoryJson(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, "utf8");
}
