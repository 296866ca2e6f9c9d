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
  | "E_CONFLICT"
  | "E_CATALOG"
  | "E_SIGNATURE"
  | "E_VERIFY"
  | "E_GATEWAY"
  | "E_GATEWAY_BUSY"
  | "E_WISHLIST"
  | "E_CONFIG"
  | "E_GITLAB"
  | "E_EVENT"
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

/** Another publisher held the stratum 0's lock past the wait: try again later (not a configuration error). */
export class RepositoryLockedError extends RepositoryError {}

/**
 * Another publisher changed what this one planned from (a name, the owners, the removal schedule,
 * the published root) between its plan and its commit: nothing was published by this step; plan
 * again from the fresh state. `sync` does so by itself a few times before it reports this.
 */
export class ConflictError extends RepositoryError {
  override readonly code = "E_CONFLICT";
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

/**
 * A registry notification (`sync --event FILE`) that cannot be read, is not JSON, or has none of
 * the shapes the tool knows: nothing was published. The message names what was expected.
 */
export class EventError extends ToolError {
  readonly code = "E_EVENT";
  override readonly exitCode = 2;
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
 * Errno codes that say the machine failed, not the configuration: a full disk or quota, an I/O
 * error, exhausted memory or file handles. Retrying later on a healthy machine may succeed.
 */
const SYSTEM_FAILURES = new Set(["ENOSPC", "EDQUOT", "EIO", "ENOMEM", "EMFILE", "ENFILE"]);

/** The first errno code of {@link SYSTEM_FAILURES} in `err` or its causes, if any. */
function systemFailure(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && SYSTEM_FAILURES.has(code)) return code;
  }
  return undefined;
}

/**
 * `what: cause` as a ConfigError (exit 2, nothing published), for failures that happen before
 * any work starts: a repository or key directory that cannot be opened, a state that cannot be
 * read. A machine failure (a full disk, an I/O error; see {@link systemFailure}) or a stratum 0
 * locked by another publisher is no configuration error: it keeps its own code (exit 1), wrapped
 * as a RepositoryError when it was not raised on purpose.
 */
export function asConfigError(what: string, cause: unknown): ToolError {
  if (cause instanceof ToolError && cause.exitCode === 2) return cause;
  if (cause instanceof RepositoryLockedError || systemFailure(cause) !== undefined) {
    return cause instanceof ToolError ? cause : new RepositoryError(`${what}: ${describeError(cause)}`, { cause });
  }
  return new ConfigError(`${what}: ${describeError(cause)}`, { cause });
}

/**
 * An error's message followed by those of its causes that it does not already contain, in the
 * "verb object: cause" shape: `create lock …: ENOSPC: no space left on device, write`. What the
 * CLI prints, so no cause (a full disk, a refused permission) is ever hidden behind its wrapper.
 */
export function describeError(err: unknown): string {
  let text = err instanceof Error ? err.message : String(err);
  let cause = err instanceof Error ? err.cause : undefined;
  for (let depth = 0; cause !== undefined && cause !== null && depth < 8; depth++) {
    const message = cause instanceof Error ? cause.message : String(cause);
    if (message !== "" && !text.includes(message)) text += `: ${message}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return text;
}

/** The stable code of any error, `E_INTERNAL` for errors not raised on purpose. */
export function errorCode(err: unknown): ErrorCode {
  return err instanceof ToolError ? err.code : "E_INTERNAL";
}
