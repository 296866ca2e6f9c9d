import { escapeDoubleQuoted } from "./shell-escape.js";

/**
 * The scripts under `/.singularity.d/env/`. Apptainer sources every `*.sh` there, in name order,
 * before running anything in the container; the numbers fix that order. The static ones behave
 * exactly like Apptainer's own; `10-docker2singularity.sh` is generated from the image's `Env`.
 */

/** A name Apptainer accepts as a variable: the other `Env` entries are skipped, as it does. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `10-docker2singularity.sh` for the image config's `Env` list, one `export` per entry in order:
 *
 * - `PATH=value` is exported unconditionally (the image's PATH replaces the host's);
 * - `NAME=value` becomes `export NAME="${NAME:-"value"}"`: the image's value is only a default,
 *   a value the caller passes in (e.g. `APPTAINERENV_NAME`) wins;
 * - `NAME` without `=` becomes `export NAME="${NAME:-}"`.
 *
 * The value is split at the first `=` only and escaped for double quotes (`\`, `"`, `` ` ``, `$`),
 * so it reaches the environment literally. Entries whose name is not a shell variable name are
 * left out, as Apptainer leaves them out.
 */
export function renderDockerEnvScript(env: readonly string[] | null | undefined): string {
  const lines = ["#!/bin/sh"];
  for (const entry of env ?? []) {
    const eq = entry.indexOf("=");
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (!VARIABLE_NAME.test(name)) continue;
    if (eq < 0) {
      lines.push(`export ${name}="\${${name}:-}"`);
      continue;
    }
    const value = escapeDoubleQuoted(entry.slice(eq + 1));
    lines.push(name === "PATH" ? `export PATH="${value}"` : `export ${name}="\${${name}:-"${value}"}"`);
  }
  return `${lines.join("\n")}\n`;
}

/** `01-base.sh`: sourced first; sets nothing, a place for site additions. */
export const BASE_ENV_SCRIPT = "#!/bin/sh\n# Base environment of the container: intentionally empty.\n";

/**
 * `90-environment.sh`: where a definition file's `%environment` section would go; empty for
 * images built from a registry. `/environment` links here.
 */
export const ENVIRONMENT_SCRIPT = "#!/bin/sh\n# Container-specific environment settings follow.\n";

/**
 * `94-appsbase.sh`: the SCIF apps' global variables. Apptainer writes it even when the image has
 * no apps, then with no content at all.
 */
export const APPS_BASE_SCRIPT = "";

/**
 * `95-apps.sh`: when `SINGULARITY_APPNAME` names a SCIF app, export it, put the app's directories
 * first in PATH (and its `lib` in LD_LIBRARY_PATH) and source the app's own environment; fail
 * when the app is not in the image. The fallbacks to `/scif/apps/singularity` are kept as they are.
 */
export const APPS_SCRIPT = `#!/bin/sh
# Environment of the SCIF app selected with --app, if any. No helper variables on purpose: this
# file is sourced, and anything it set would leak into the container's shell.
if test -n "\${SINGULARITY_APPNAME:-}"; then
    export SINGULARITY_APPNAME

    if test -d "/scif/apps/\${SINGULARITY_APPNAME:-}/"; then
        SCIF_APPS="/scif/apps"
        SCIF_APPROOT="/scif/apps/\${SINGULARITY_APPNAME:-}"
        export SCIF_APPROOT SCIF_APPS
        PATH="/scif/apps/\${SINGULARITY_APPNAME:-}:/scif/apps/singularity:$PATH"

        # the app's bin and lib directories come first
        if test -d "/scif/apps/\${SINGULARITY_APPNAME:-}/bin"; then
            PATH="/scif/apps/\${SINGULARITY_APPNAME:-}/bin:$PATH"
        elif test -d "/scif/apps/singularity/bin"; then
            PATH="/scif/apps/singularity/bin:$PATH"
        fi
        if test -d "/scif/apps/\${SINGULARITY_APPNAME:-}/lib"; then
            LD_LIBRARY_PATH="/scif/apps/\${SINGULARITY_APPNAME:-}/lib:$LD_LIBRARY_PATH"
            export LD_LIBRARY_PATH
        elif test -d "/scif/apps/singularity/lib"; then
            LD_LIBRARY_PATH="/scif/apps/singularity/lib:$LD_LIBRARY_PATH"
            export LD_LIBRARY_PATH
        fi

        # then the app's own environment scripts
        if [ -f "/scif/apps/\${SINGULARITY_APPNAME:-}/scif/env/01-base.sh" ]; then
            . "/scif/apps/\${SINGULARITY_APPNAME:-}/scif/env/01-base.sh"
        elif [ -f "/scif/apps/singularity/scif/env/01-base.sh" ]; then
            . "/scif/apps/singularity/scif/env/01-base.sh" "$@"
        fi
        if [ -f "/scif/apps/\${SINGULARITY_APPNAME:-}/scif/env/90-environment.sh" ]; then
            . "/scif/apps/\${SINGULARITY_APPNAME:-}/scif/env/90-environment.sh"
        elif [ -f "/scif/apps/singularity/scif/env/90-environment.sh" ]; then
            . "/scif/apps/singularity/scif/env/90-environment.sh" "$@"
        fi

        export PATH
    else
        echo "Could not locate the container application: \${SINGULARITY_APPNAME}"
        exit 1
    fi
fi
`;

/**
 * `99-base.sh`: append `/.singularity.d/libs` (where Apptainer binds host GPU libraries) to
 * LD_LIBRARY_PATH, give PS1 a default, export both.
 */
export const BASE_FINAL_SCRIPT = `#!/bin/sh
# Host libraries bound by the runtime live in /.singularity.d/libs: search them last.
if [ -n "\${LD_LIBRARY_PATH:-}" ]; then
    LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/.singularity.d/libs"
else
    LD_LIBRARY_PATH="/.singularity.d/libs"
fi

if [ -z "\${PS1:-}" ]; then
    PS1="Apptainer> "
fi
export LD_LIBRARY_PATH PS1
`;

/**
 * `99-runtimevars.sh`: apply the PATH changes asked for on the command line
 * (`--env PREPEND_PATH=…`, `APPEND_PATH`, `PATH`), after the image's own PATH has been set, then
 * forget the request variables.
 */
export const RUNTIME_VARS_SCRIPT = `#!/bin/sh
# PATH changes requested at run time, applied last so they win over the image's PATH.
if [ -n "\${SING_USER_DEFINED_PREPEND_PATH:-}" ]; then
    PATH="\${SING_USER_DEFINED_PREPEND_PATH}:\${PATH}"
fi
if [ -n "\${SING_USER_DEFINED_APPEND_PATH:-}" ]; then
    PATH="\${PATH}:\${SING_USER_DEFINED_APPEND_PATH}"
fi
if [ -n "\${SING_USER_DEFINED_PATH:-}" ]; then
    PATH="\${SING_USER_DEFINED_PATH}"
fi
unset SING_USER_DEFINED_PREPEND_PATH SING_USER_DEFINED_APPEND_PATH SING_USER_DEFINED_PATH
export PATH
`;
