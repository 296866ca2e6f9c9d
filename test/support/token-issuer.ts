/**
 * A token server for the registry's `auth: token` mode (distribution's Bearer token spec): it
 * signs RS256 JWTs with a key whose self-signed certificate is the registry's `rootcertbundle`,
 * naming that certificate in the JOSE `x5c` header so the registry can verify the chain. Supports
 * the GET flow (Basic credentials or anonymous) and the OAuth2 POST flow with refresh tokens
 * (`identitytoken` in docker config.json). Every request it answers is recorded.
 */
import { createPrivateKey, createSign, randomBytes, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { execa } from "execa";

export interface TokenIssuerOptions {
  /** The `service` the registry announces and the token's audience. */
  service?: string;
  /** The token's `iss`, which the registry must trust. */
  issuer?: string;
  /** username → password accepted with Basic auth (GET) or grant_type=password (POST). */
  users?: Record<string, string>;
  /** refresh token → username accepted with grant_type=refresh_token (POST). */
  refreshTokens?: Record<string, string>;
  /** Grant `pull` to clients that send no credentials. Default true. */
  anonymousPull?: boolean;
  /** Lifetime of issued tokens, seconds. Default 300. */
  expiresIn?: number;
}

/** One request the issuer answered. */
export interface TokenRequest {
  method: string;
  /** `GET` with query or `POST` with form: the parsed parameters (no secrets kept). */
  params: Record<string, string>;
  /** The user the request authenticated as, if any. */
  user?: string;
  status: number;
}

export interface TokenIssuer {
  /** The realm URL to put in the registry config. */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM certificate file to use as the registry's `rootcertbundle`. */
  readonly certFile: string;
  readonly requests: TokenRequest[];
  /** Sign a token directly (for test setup pushes), granting `actions` on `repository`. */
  mint(subject: string, access: { type: string; name: string; actions: string[] }[], expiresIn?: number): string;
  stop(): Promise<void>;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString("base64url");

/** Start an issuer on 127.0.0.1; `dir` receives its key and certificate. */
export async function startTokenIssuer(dir: string, options: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const service = options.service ?? "test-registry";
  const issuerName = options.issuer ?? "test-token-issuer";
  const users = options.users ?? {};
  const refreshTokens = options.refreshTokens ?? {};
  const anonymousPull = options.anonymousPull ?? true;
  const lifetime = options.expiresIn ?? 300;
  const keyFile = join(dir, "token.key");
  const certFile = join(dir, "token.crt");
  await execa("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile,
    "-subj", "/CN=test-token-issuer", "-days", "2",
  ]);
  const key: KeyObject = createPrivateKey(await readFile(keyFile));
  const certDer = pemToDer(await readFile(certFile, "utf8"));

  const mint: TokenIssuer["mint"] = (subject, access, expiresIn = lifetime) => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "RS256", x5c: [certDer.toString("base64")] };
    // distribution 2.8 reads `aud` as a single string.
    const claims = {
      iss: issuerName, sub: subject, aud: service, exp: now + expiresIn, nbf: now - 1, iat: now,
      jti: randomBytes(8).toString("hex"), access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign("sha256").update(signingInput).sign(key);
    return `${signingInput}.${b64url(signature)}`;
  };

  const requests: TokenRequest[] = [];
  const server: Server = createServer((req, res) => {
    void handle(req).then(({ status, body }) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
  });

  async function handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const url = new URL(req.url ?? "/", "http://x");
    let params: Record<string, string> = Object.fromEntries(url.searchParams);
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
    }
    const record = (status: number, user?: string): void => {
      const kept = { ...params };
      delete kept["password"];
      delete kept["refresh_token"];
      requests.push({ method: req.method ?? "GET", params: kept, ...(user ? { user } : {}), status });
    };
    let user: string | undefined;
    if (req.method === "POST") {
      if (params["grant_type"] === "refresh_token") user = refreshTokens[params["refresh_token"] ?? ""];
      else if (params["grant_type"] === "password" && users[params["username"] ?? ""] === params["password"]) {
        user = params["username"];
      }
      if (!user) {
        record(401);
        return { status: 401, body: { error: "invalid_grant" } };
      }
    } else {
      const authz = req.headers.authorization;
      if (authz?.startsWith("Basic ")) {
        const [name, ...rest] = Buffer.from(authz.slice(6), "base64").toString().split(":");
        if (name === undefined || users[name] !== rest.join(":")) {
          record(401);
          return { status: 401, body: { errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] } };
        }
        user = name;
      }
    }
    const access = url.searchParams.getAll("scope").concat(req.method === "POST" ? (params["scope"] ?? "").split(" ") : [])
      .filter((s) => s !== "")
      .map(parseScope)
      .filter((a): a is NonNullable<typeof a> => a !== undefined)
      .map((a) => ({ ...a, actions: user ? a.actions : anonymousPull ? a.actions.filter((x) => x === "pull") : [] }));
    const token = mint(user ?? "", access);
    record(200, user);
    const issuedAt = new Date().toISOString();
    return req.method === "POST"
      ? { status: 200, body: { access_token: token, expires_in: lifetime, issued_at: issuedAt } }
      : { status: 200, body: { token, access_token: token, expires_in: lifetime, issued_at: issuedAt } };
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer: issuerName,
    certFile,
    requests,
    mint,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** `repository:name:pull,push` → access entry; names may contain `:`-free slashes only. */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first < 0 || last <= first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(",") };
}

function pemToDer(pem: string): Buffer {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return Buffer.from(body, "base64");
}
