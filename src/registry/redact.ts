/**
 * URLs in errors and logs carry neither credentials nor query strings: a pre-signed blob storage
 * URL's query is a credential, and userinfo is one by definition.
 */

/** `https://user:pw@host/path?sig=…` → `https://host/path`. Unparseable input becomes `<url>`. */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(url.toString());
    u.username = "";
    u.password = "";
    u.search = "";
    u.hash = "";
    return u.toString();
  } catch {
    return "<url>";
  }
}
