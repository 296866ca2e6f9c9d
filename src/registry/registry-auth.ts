/**
 * Authentication against one registry, learned from its challenges (distribution docs/spec/auth):
 * anonymous until a 401 says otherwise; `Basic` sends the configured credential; `Bearer` gets a
 * token per repository scope from the realm (GET with Basic credentials, or the OAuth2 POST with
 * an identity token as refresh token) and caches it until shortly before it expires. Concurrent
 * requests for one scope share one token fetch. Secrets never reach errors or logs.
 */
import { request, type Dispatcher } from "undici";
import { RegistryAuthError, RegistryError } from "../errors.js";
import { debug, type Logger } from "../logger.js";
import type { RegistryCredential } from "./credentials.js";
import { redactUrl } from "./redact.js";
import { TokenResponse } from "./schema.js";
import { parseWwwAuthenticate } from "./www-authenticate.js";

/** The scope a pull of `repository` needs. */
export const pullScope = (repository: string): string => `repository:${repository}:pull`;

interface CachedToken {
  token: string;
  expiresAt: number;
}

export class RegistryAuth {
  private scheme: "none" | "basic" | "bearer" = "none";
  private realm?: string;
  private service?: string;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();

  constructor(
    /** Registry host as references name it, for messages. */
    private readonly registry: string,
    private readonly credential: RegistryCredential | undefined,
    private readonly dispatcher: Dispatcher,
    private readonly logger: Logger,
    private readonly userAgent: string,
  ) {}

  /** The Authorization header for a request needing `scope` (undefined: send none). */
  async header(scope: string | undefined, signal?: AbortSignal): Promise<string | undefined> {
    if (this.scheme === "basic") return this.basicHeader();
    if (this.scheme !== "bearer" || scope === undefined) return undefined;
    const cached = this.tokens.get(scope);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    return `Bearer ${(await this.fetchToken(scope, scope, signal)).token}`;
  }

  /**
   * React to a 401's `WWW-Authenticate`: learn the scheme, drop the token that failed and get a
   * new one. Throws RegistryAuthError when the challenge cannot be met.
   */
  async challenge(header: string | undefined, scope: string | undefined, signal?: AbortSignal): Promise<void> {
    const challenges = parseWwwAuthenticate(header ?? "");
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    if (bearer?.params["realm"]) {
      this.scheme = "bearer";
      this.realm = bearer.params["realm"];
      this.service = bearer.params["service"];
      const key = scope ?? bearer.params["scope"] ?? "";
      this.tokens.delete(key);
      await this.fetchToken(key, bearer.params["scope"] ?? scope, signal);
      return;
    }
    if (basic) {
      if (this.credential?.kind !== "basic") {
        throw new RegistryAuthError(`${this.registry} requires a username and password, and none is configured for it (--registry-auth)`);
      }
      this.scheme = "basic";
      return;
    }
    throw new RegistryAuthError(`${this.registry} answered 401 without a usable authentication challenge`);
  }

  private basicHeader(): string | undefined {
    if (this.credential?.kind !== "basic") return undefined;
    return `Basic ${Buffer.from(`${this.credential.username}:${this.credential.password}`).toString("base64")}`;
  }

  private fetchToken(key: string, scope: string | undefined, signal?: AbortSignal): Promise<CachedToken> {
    let p = this.pending.get(key);
    if (!p) {
      p = this.requestToken(scope, signal)
        .then((t) => {
          this.tokens.set(key, t);
          return t;
        })
        .finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async requestToken(scope: string | undefined, signal?: AbortSignal): Promise<CachedToken> {
    const realm = new URL(this.realm!);
    const cred = this.credential;
    const useOAuth = cred?.kind === "identity-token";
    const headers: Record<string, string> = { "user-agent": this.userAgent };
    let body: string | undefined;
    if (useOAuth) {
      const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: cred.token, client_id: this.userAgent });
      if (this.service) form.set("service", this.service);
      if (scope) form.set("scope", scope);
      body = form.toString();
      headers["content-type"] = "application/x-www-form-urlencoded";
    } else {
      if (this.service) realm.searchParams.set("service", this.service);
      if (scope) realm.searchParams.set("scope", scope);
      if (cred?.kind === "basic") realm.searchParams.set("account", cred.username);
      const basic = this.basicHeader();
      if (basic) headers["authorization"] = basic;
    }
    const method = useOAuth ? "POST" : "GET";
    const where = { method, url: redactUrl(realm) };
    let res: Dispatcher.ResponseData;
    try {
      res = await request(realm, { dispatcher: this.dispatcher, method, headers, ...(body ? { body } : {}), ...(signal ? { signal } : {}) });
    } catch (cause) {
      throw new RegistryError(`get token for ${this.registry}: ${(cause as Error).message}`, where, { cause });
    }
    const text = await res.body.text();
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new RegistryAuthError(`token server of ${this.registry} refused the configured credentials (HTTP ${res.statusCode})`, {
        ...where,
        status: res.statusCode,
      });
    }
    if (res.statusCode !== 200) {
      throw new RegistryError(`get token for ${this.registry}: HTTP ${res.statusCode}`, { ...where, status: res.statusCode });
    }
    let parsed: TokenResponse;
    try {
      parsed = TokenResponse.parse(JSON.parse(text));
    } catch {
      throw new RegistryAuthError(`token server of ${this.registry} sent a malformed response`, where);
    }
    const token = parsed.token ?? parsed.access_token;
    if (!token) throw new RegistryAuthError(`token server of ${this.registry} sent no token`, where);
    // The spec's default lifetime is 60 s; renew at 90 % of it so a token never dies mid-request.
    const lifetime = (parsed.expires_in ?? 60) * 1000;
    const issued = parsed.issued_at ? Date.parse(parsed.issued_at) : NaN;
    const start = Number.isNaN(issued) ? Date.now() : Math.min(Date.now(), issued);
    debug(this.logger, "registry.token", `got a token for ${this.registry}`, { registry: this.registry, scope, expiresIn: lifetime / 1000 });
    return { token, expiresAt: start + lifetime * 0.9 };
  }
}
