/**
 * The closed catalogue of errors the tool raises. Every class has a stable `code` that the CLI,
 * the JSON event log and tests match on; messages say what failed and what to do about it.
 * Wrap with context in umoci's "verb object: cause" shape: `new XError("fetch layer sha256:…", { cause })`.
 */

export type ErrorCode =
  | "E_REFERENCE"
  | "E_REGISTRY"
  | "E_REGISTRY_AUTH"
  | "E_MANIFEST"
  | "E_PLATFORM"
  | "E_DIGEST_MISMATCH"
  | "E_SIZE_MISMATCH"
  | "E_LAYER"
  | "E_UNSAFE_PATH"
  | "E_REPOSITORY"
  | "E_CATALOG"
  | "E_SIGNATURE"
  | "E_VERIFY"
  | "E_GATEWAY"
  | "E_GATEWAY_BUSY"
  | "E_WISHLIST"
  | "E_CONFIG"
  | "E_GITLAB"
  | "E_ABORTED"
  | "E_INTERNAL";

/** Base of every error the tool raises on purpose. */
export abstract class ToolError extends Error {
  abstract readonly code: ErrorCode;
  /** Exit code the CLI maps this error to when it ends a command: 2 = bad input or configuration. */
  readonly exitCode: 1 | 2 = 1;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A string that is not a valid image reference. */
export class ImageReferenceError extends ToolError {
  readonly code = "E_REFERENCE";
  override readonly exitCode = 2;
  constructor(
    readonly reference: string,
    reason: string,
  ) {
    super(`invalid image reference "${reference}": ${reason}`);
  }
}

/** An HTTP exchange with a registry failed. The URL is already redacted (no credentials, no query). */
export class RegistryError extends ToolError {
  readonly code: ErrorCode = "E_REGISTRY";
  constructor(
    message: string,
    readonly details: {
      method?: string;
      url?: string;
      status?: number;
      /** `errors[].code` of an OCI error body, e.g. MANIFEST_UNKNOWN. */
      ociCodes?: string[];
    } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Worth another try: server errors, throttling and dropped connections. */
  get retryable(): boolean {
    const s = this.details.status;
    return s === undefined || s === 429 || s >= 500;
  }
}

/** The registry refused our credentials (401/403 after the auth flow), or none were configured. */
export class RegistryAuthError extends RegistryError {
  override readonly code = "E_REGISTRY_AUTH";
  override get retryable(): boolean {
    return false;
  }
}

/** A manifest we cannot use: schema 1, unknown media type, malformed JSON. */
export class ManifestError extends ToolError {
  readonly code = "E_MANIFEST";
}

/** The requested platform is not in the image index. */
export class PlatformError extends ToolError {
  readonly code = "E_PLATFORM";
  constructor(
    readonly wanted: string,
    readonly available: string[],
    reference: string,
  ) {
    super(`${reference} has no image for platform ${wanted} (available: ${available.join(", ") || "none"})`);
  }
}

/** Bytes whose digest is not the one promised. Never accepted silently. */
export class DigestMismatchError extends ToolError {
  readonly code = "E_DIGEST_MISMATCH";
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${what}: digest mismatch, expected ${expected} but got ${actual}`);
  }
}

/** A stream that ended shorter or longer than its descriptor says. */
export class SizeMismatchError extends ToolError {
  readonly code = "E_SIZE_MISMATCH";
  constructor(
    readonly what: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`${what}: size mismatch, expected ${expected} bytes but got ${actual}`);
  }
}

/** A layer that cannot be decoded (bad compression, broken tar, unsupported media type). */
export class LayerError extends ToolError {
  readonly code = "E_LAYER";
}

/** An entry or link that would leave the image root. */
export class UnsafePathError extends ToolError {
  readonly code = "E_UNSAFE_PATH";
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`unsafe path "${path}": ${reason}`);
  }
}

/** A CVMFS repository that is missing, malformed, or cannot be written. */
export class RepositoryError extends ToolError {
  readonly code: ErrorCode = "E_REPOSITORY";
}

/** A catalog that is malformed or inconsistent. */
export class CatalogError extends ToolError {
  readonly code = "E_CATALOG";
}

/** A signature, certificate or whitelist that does not check out. */
export class SignatureError extends ToolError {
  readonly code = "E_SIGNATURE";
}

/** `verify` found problems; `problems` lists each one. */
export class VerifyError extends ToolError {
  readonly code = "E_VERIFY";
  constructor(readonly problems: string[]) {
    super(`repository verification failed with ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  }
}

/** The gateway refused or failed a request. `reason` is the gateway's own text. */
export class GatewayError extends ToolError {
  readonly code: ErrorCode = "E_GATEWAY";
  constructor(
    message: string,
    readonly reason?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The lease path stayed busy past the deadline. */
export class GatewayBusyError extends GatewayError {
  override readonly code = "E_GATEWAY_BUSY";
}

/** One problem in a wishlist, with file and line. */
export interface WishlistProblem {
  file: string;
  line: number;
  message: string;
}

/** A wishlist with one or more malformed entries: all of them are listed at once. */
export class WishlistError extends ToolError {
  readonly code = "E_WISHLIST";
  override readonly exitCode = 2;
  constructor(readonly problems: WishlistProblem[]) {
    super(
      `wishlist has ${problems.length} error(s):\n` +
        problems.map((p) => `  ${p.line > 0 ? `${p.file}:${p.line}` : p.file}: ${p.message}`).join("\n"),
    );
  }
}

/** Bad flags, environment or configuration files. */
export class ConfigError extends ToolError {
  readonly code = "E_CONFIG";
  override readonly exitCode = 2;
}

/** The GitLab API refused or failed a request. */
export class GitLabError extends ToolError {
  readonly code = "E_GITLAB";
}

/** The run was interrupted (SIGINT/SIGTERM) and cleaned up after itself. */
export class AbortedError extends ToolError {
  readonly code = "E_ABORTED";
}

/** Should never happen: a bug in this tool. */
export class InternalError extends ToolError {
  readonly code = "E_INTERNAL";
}

/**
 * `what: cause` as a ConfigError (exit 2, nothing published), for failures that happen before
 * any work starts: a repository or key directory that cannot be opened, a state that cannot be read.
 */
export function asConfigError(what: string, cause: unknown): ToolError {
  if (cause instanceof ToolError && cause.exitCode === 2) return cause;
  return new ConfigError(`${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}

/** The stable code of any error, `E_INTERNAL` for errors not raised on purpose. */
export function errorCode(err: unknown): ErrorCode {
  return err instanceof ToolError ? err.code : "E_INTERNAL";
}
