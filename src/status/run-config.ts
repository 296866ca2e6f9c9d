import { z } from "zod";
import type { StatusRunConfig } from "./status-json.js";

/**
 * The runtime part of an OCI image configuration (image-spec config.md, `config`): only the fields
 * the page shows. Each field is read on its own and dropped when malformed, because the config is
 * whatever the image's author pushed: one odd label must not hide the rest of the image.
 */
const Strings = z.array(z.string()).nullable().optional().catch(undefined);
const Text = z.string().optional().catch(undefined);
const OciRunConfig = z
  .object({
    config: z
      .object({
        Entrypoint: Strings,
        Cmd: Strings,
        WorkingDir: Text,
        User: Text,
        Env: Strings,
        Labels: z.record(z.string(), z.unknown()).nullable().optional().catch(undefined),
      })
      .optional()
      .catch(undefined),
  })
  .catch({});

/** Pure: what a container of this image runs and sees, from the image's config as stored in its metadata. */
export function runConfigOf(config: Record<string, unknown>): StatusRunConfig {
  const c = OciRunConfig.parse(config).config ?? {};
  const labels: Record<string, string> = {};
  for (const key of Object.keys(c.Labels ?? {}).sort()) {
    const value = c.Labels?.[key];
    if (typeof value === "string") labels[key] = value;
  }
  return {
    entrypoint: c.Entrypoint ?? null,
    cmd: c.Cmd ?? null,
    workingDir: c.WorkingDir ? c.WorkingDir : null,
    user: c.User ? c.User : null,
    env: c.Env ?? [],
    labels,
  };
}
