/**
 * POSIX shell quoting in the exact forms Apptainer's generated scripts use. The generated
 * `.singularity.d` files must behave as Apptainer's do byte for byte in the shell, so these helpers
 * follow its rules precisely, quirks included (see each function).
 */

/**
 * Escape text for use between double quotes: backslash, double quote, backtick and dollar get a
 * backslash. Single quotes are not touched (they are literal inside double quotes).
 */
export function escapeDoubleQuoted(text: string): string {
  return text.replace(/[\\"`$]/g, (c) => `\\${c}`);
}

/**
 * Make text safe inside a single-quoted word: each `'` closes the quote, adds a double-quoted `'`
 * and reopens (`'"'"'`), the form Apptainer writes. Nothing else needs escaping there.
 */
export function escapeSingleQuotes(text: string): string {
  return text.replaceAll("'", `'"'"'`);
}

/** One single-quoted shell word holding `text` literally. */
export function singleQuote(text: string): string {
  return `'${escapeSingleQuotes(text)}'`;
}

/**
 * The argument list as one string of double-quoted words separated by single spaces, e.g.
 * `["/bin/echo", "a b"]` → `"/bin/echo" "a b"`. This string is later `eval`ed by the runscript,
 * which turns it back into the original words. An empty list gives the empty string.
 */
export function argsQuoted(args: readonly string[]): string {
  return args.map((a) => `"${escapeDoubleQuoted(a)}"`).join(" ");
}
