/**
 * The input of `setfattr --restore` (attr's dump format, as `getfattr --dump` writes it): one
 * `# file: PATH` block per path, one `name=0sBASE64` line per attribute, a blank line after each
 * block. Pure; the export hands the text to one `setfattr -h --restore=-` process, so a tree with
 * thousands of attributes costs one process, not one per attribute.
 */

/** Bytes that attr's `unquote` restores from `\ooo` and that must not appear raw: controls, space, `\`, `=`, non-ASCII. */
function quote(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    if (byte <= 0x20 || byte >= 0x7f || byte === 0x5c || byte === 0x3d) out += `\\${byte.toString(8).padStart(3, "0")}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}

/** One block per path (absolute paths: restore resolves relative ones against its own cwd), attributes sorted by name. */
export function formatSetfattrScript(items: Iterable<{ path: string; xattrs: Record<string, Buffer> }>): string {
  let out = "";
  for (const { path, xattrs } of items) {
    const names = Object.keys(xattrs).sort();
    if (names.length === 0) continue;
    out += `# file: ${quote(path)}\n`;
    for (const name of names) out += `${quote(name)}=0s${(xattrs[name] as Buffer).toString("base64")}\n`;
    out += "\n";
  }
  return out;
}
