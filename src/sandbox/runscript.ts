import { argsQuoted, escapeSingleQuotes, singleQuote } from "./shell-escape.js";

/**
 * The `/.singularity.d/runscript` Apptainer writes for an image built from a docker/OCI source,
 * derived from the image config's `Entrypoint` and `Cmd`. `apptainer run` execs it with the
 * caller's arguments. It has two modes, and both are reproduced exactly:
 *
 * - **Default (evaluating)**: the ENTRYPOINT words, then either the caller's arguments or (when
 *   there are none) the CMD words, are joined into one string and passed through `eval "set …"`.
 *   Each caller argument is wrapped in double quotes *without escaping*, so `$VAR`, backticks and
 *   backslashes in arguments are expanded by the shell, and an argument containing `"` breaks the
 *   quoting. The config's own words are escaped first, so they come out literally. With no
 *   ENTRYPOINT, no CMD and no arguments, `set` is run without arguments and prints the shell's
 *   variables, and the script then exits 0: Apptainer does the same.
 * - **`SINGULARITY_NO_EVAL` set** (`apptainer run --no-eval` / `--compat`): OCI semantics. The
 *   argv is ENTRYPOINT + (caller's arguments, or CMD when there are none), every word literal.
 *   With nothing to run it falls through to the default mode, again as Apptainer does.
 *
 * The first two lines assign `OCI_ENTRYPOINT` and `OCI_CMD` in Apptainer's format (each word
 * double-quoted and escaped, the whole single-quoted) so tools and people reading the runscript
 * find the same values there.
 */
export function renderRunscript(
  entrypoint: readonly string[] | null | undefined,
  cmd: readonly string[] | null | undefined,
): string {
  const ep = entrypoint ?? [];
  const cm = cmd ?? [];
  return [
    "#!/bin/sh",
    `OCI_ENTRYPOINT='${escapeSingleQuotes(argsQuoted(ep))}'`,
    `OCI_CMD='${escapeSingleQuotes(argsQuoted(cm))}'`,
    "",
    "# SINGULARITY_NO_EVAL: run ENTRYPOINT and CMD as OCI runtimes do, every word taken",
    "# literally; the caller's arguments, when given, replace CMD and are not evaluated.",
    'if [ -n "$SINGULARITY_NO_EVAL" ]; then',
    ...literalBranch(ep, cm).map((l) => `    ${l}`),
    "fi",
    "",
    "# Default: build one command string from ENTRYPOINT and either the caller's arguments or",
    "# CMD, and let the shell evaluate it; arguments are quoted but not escaped, so variables",
    "# and quotes in them are interpreted.",
    'CMDLINE_ARGS=""',
    'for arg in "$@"; do',
    '    CMDLINE_ARGS="${CMDLINE_ARGS} \\"$arg\\""',
    "done",
    "if [ $# -gt 0 ]; then",
    '    SINGULARITY_OCI_RUN="${OCI_ENTRYPOINT} ${CMDLINE_ARGS}"',
    "else",
    '    SINGULARITY_OCI_RUN="${OCI_ENTRYPOINT} ${OCI_CMD}"',
    "fi",
    'eval "set ${SINGULARITY_OCI_RUN}"',
    'exec "$@"',
    "",
  ].join("\n");
}

/**
 * The body of the `SINGULARITY_NO_EVAL` branch. The words are known now, so the branch is
 * specialised here instead of testing the variables at run time.
 */
function literalBranch(ep: readonly string[], cmd: readonly string[]): string[] {
  const words = (list: readonly string[]): string => list.map(singleQuote).join(" ");
  const lines: string[] = [];
  if (cmd.length > 0) {
    lines.push("if [ $# -eq 0 ]; then", `    set -- ${words(cmd)}`, "fi");
  }
  if (ep.length > 0) {
    lines.push(`set -- ${words(ep)} "$@"`, 'exec "$@"');
  } else {
    // With no words at all, an empty `exec` would do nothing and the default mode would run.
    lines.push('if [ $# -gt 0 ]; then', '    exec "$@"', "fi");
  }
  return lines;
}
