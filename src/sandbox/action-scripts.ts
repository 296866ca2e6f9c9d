/**
 * The scripts under `/.singularity.d/actions/` and the default `startscript`. Older runtimes (and
 * anything entering the container by hand) run these for `exec`, `run`, `shell`, `start` and
 * `test`; each first sources the environment scripts in name order, then hands over with `exec`.
 * They behave exactly like the ones Apptainer installs, messages and exit codes included.
 */

/** Source `/.singularity.d/env/*.sh` in glob (name) order; the loop variable is `script`. */
const SOURCE_ENV = `for script in /.singularity.d/env/*.sh; do
    if [ -f "$script" ]; then
        . "$script"
    fi
done
`;

/** `actions/exec`: run the given command in the container's environment. */
export const EXEC_ACTION = `#!/bin/sh
# apptainer exec: set up the environment, then become the command.
${SOURCE_ENV}
exec "$@"
`;

/**
 * An action that runs a per-app script when `--app` selected one (`/scif/apps/<app>/scif/<name>`,
 * falling back to the `singularity` app) and the container's own script otherwise.
 */
function appAwareAction(what: string, scif: string, own: string, missingApp: string, noScript: string[]): string {
  return `#!/bin/sh
# apptainer ${what}: set up the environment, then run the app's or the container's ${scif}.
${SOURCE_ENV}
if test -n "\${SINGULARITY_APPNAME:-}"; then
    if test -x "/scif/apps/\${SINGULARITY_APPNAME:-}/scif/${scif}"; then
        exec "/scif/apps/\${SINGULARITY_APPNAME:-}/scif/${scif}" "$@"
    elif test -x "/scif/apps/singularity/scif/${scif}"; then
        exec "/scif/apps/singularity/scif/${scif}" "$@"
    else
        echo "${missingApp}: \${SINGULARITY_APPNAME:-}"
        exit 1
    fi
elif test -x "${own}"; then
    exec "${own}" "$@"
else
${noScript.map((l) => `    ${l}`).join("\n")}
fi
`;
}

/** `actions/run`: the runscript, or `/bin/sh` when there is none. */
export const RUN_ACTION = appAwareAction("run", "runscript", "/.singularity.d/runscript", "No Apptainer runscript for contained app", [
  'echo "No Apptainer runscript found, executing /bin/sh"',
  'exec /bin/sh "$@"',
]);

/** `actions/test`: the test script, or `/bin/sh -c true` when there is none. */
export const TEST_ACTION = appAwareAction("test", "test", "/.singularity.d/test", "No tests for contained app", [
  'echo "No test found in container, executing /bin/sh -c true"',
  "exec /bin/sh -c true",
]);

/**
 * `actions/shell`: `$SINGULARITY_SHELL` when set and executable (word-split on purpose, so it
 * may carry options), else bash without rc files and an Apptainer prompt, else sh.
 */
export const SHELL_ACTION = `#!/bin/sh
# apptainer shell: set up the environment, then start an interactive shell.
${SOURCE_ENV}
if test -n "$SINGULARITY_SHELL" -a -x "$SINGULARITY_SHELL"; then
    exec $SINGULARITY_SHELL "$@"

    echo "ERROR: Failed running shell as defined by '\\$SINGULARITY_SHELL'" 1>&2
    exit 1
elif test -x /bin/bash; then
    SHELL=/bin/bash
    PS1="Apptainer $APPTAINER_NAME:\\\\w> "
    export SHELL PS1
    exec /bin/bash --norc "$@"
elif test -x /bin/sh; then
    SHELL=/bin/sh
    export SHELL
    exec /bin/sh "$@"
else
    echo "ERROR: /bin/sh does not exist in container" 1>&2
fi
exit 1
`;

/**
 * `actions/start`: for instances. The instance's PID 1 waits stopped until this script runs, so
 * it first sends SIGCONT to PID 1, then sets up the environment and runs the startscript.
 */
export const START_ACTION = `#!/bin/sh
# apptainer instance start: wake PID 1 (it waits for this signal), then run the startscript.
kill -CONT 1

${SOURCE_ENV}
if test -x "/.singularity.d/startscript"; then
    exec "/.singularity.d/startscript"
fi
`;

/** The default `startscript`: does nothing, so an instance just stays up. */
export const DEFAULT_STARTSCRIPT = "#!/bin/sh\n# Instance start script: nothing to start by default.\n";
