import type { ImageConfig } from "../registry/image.js";
import {
  DEFAULT_STARTSCRIPT,
  EXEC_ACTION,
  RUN_ACTION,
  SHELL_ACTION,
  START_ACTION,
  TEST_ACTION,
} from "./action-scripts.js";
import type { ApptainerFile } from "./apptainer-file.js";
import {
  APPS_BASE_SCRIPT,
  APPS_SCRIPT,
  BASE_ENV_SCRIPT,
  BASE_FINAL_SCRIPT,
  ENVIRONMENT_SCRIPT,
  RUNTIME_VARS_SCRIPT,
  renderDockerEnvScript,
} from "./env-scripts.js";
import { assembleLabels, formatLabelsJson } from "./labels.js";
import { renderRunscript } from "./runscript.js";

/** Where Apptainer keeps a container's metadata and scripts, inside the image root. */
export const SINGULARITY_D = "/.singularity.d";

/** What the `.singularity.d` contents are derived from. */
export interface SingularityDInput {
  config: ImageConfig;
  /** The image reference as given (the definition's `from`). */
  reference: string;
  /** The digest the reference resolved to: the index's when it named one, else the manifest's. */
  resolvedDigest: string;
  buildDate: Date;
  apptainerVersion?: string;
}

/**
 * Everything `apptainer build --sandbox DIR docker://IMAGE` writes under `/.singularity.d`, parents
 * first. Directories are created only when absent (an image that already has them keeps their
 * metadata); every file is written anew, as Apptainer overwrites them; an older definition file is
 * moved into `bootstrap_history/`. Modes are what the build leaves (its umask is 002): 0755 for
 * directories and scripts, 0644 for `labels.json` and the definition file.
 */
export function assembleSingularityD(input: SingularityDInput): ApptainerFile[] {
  const c = input.config.config ?? {};
  const dir = (rel: string): ApptainerFile => ({ path: p(rel), type: "dir", mode: 0o755, onExisting: "keep" });
  const script = (rel: string, content: string): ApptainerFile => ({
    path: p(rel),
    type: "file",
    mode: 0o755,
    content,
    onExisting: "replace",
  });
  const labels = assembleLabels(c.Labels, {
    reference: input.reference,
    resolvedDigest: input.resolvedDigest,
    architecture: input.config.architecture,
    variant: input.config.variant,
    buildDate: input.buildDate,
    apptainerVersion: input.apptainerVersion,
  });
  return [
    dir(""),
    dir("libs"),
    dir("actions"),
    dir("env"),
    script("actions/exec", EXEC_ACTION),
    script("actions/run", RUN_ACTION),
    script("actions/shell", SHELL_ACTION),
    script("actions/start", START_ACTION),
    script("actions/test", TEST_ACTION),
    script("env/01-base.sh", BASE_ENV_SCRIPT),
    script("env/10-docker2singularity.sh", renderDockerEnvScript(c.Env)),
    script("env/90-environment.sh", ENVIRONMENT_SCRIPT),
    script("env/94-appsbase.sh", APPS_BASE_SCRIPT),
    script("env/95-apps.sh", APPS_SCRIPT),
    script("env/99-base.sh", BASE_FINAL_SCRIPT),
    script("env/99-runtimevars.sh", RUNTIME_VARS_SCRIPT),
    script("runscript", renderRunscript(c.Entrypoint, c.Cmd)),
    script("startscript", DEFAULT_STARTSCRIPT),
    { path: p("labels.json"), type: "file", mode: 0o644, content: formatLabelsJson(labels), onExisting: "replace" },
    {
      path: p("Singularity"),
      type: "file",
      mode: 0o644,
      content: definitionFile(input.reference),
      onExisting: "move-to-history",
    },
  ];
}

/**
 * The definition Apptainer records for a build straight from a URI: the header only, `bootstrap`
 * first, then a blank line.
 */
export function definitionFile(reference: string): string {
  return `bootstrap: docker\nfrom: ${reference}\n\n`;
}

function p(rel: string): string {
  return rel === "" ? SINGULARITY_D : `${SINGULARITY_D}/${rel}`;
}
