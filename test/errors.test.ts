import { describe, expect, it } from "vitest";
import { asConfigError, ConfigError, describeError, RepositoryError, RepositoryLockedError, WishlistError } from "../src/errors.js";

const errno = (code: string, message: string) => Object.assign(new Error(`${code}: ${message}`), { code });

describe("describeError", () => {
  it("follows the causes a message does not already name", () => {
    const disk = errno("ENOSPC", "no space left on device, write");
    expect(describeError(new RepositoryError("create lock /s0/.cvmfs_publish.lock", { cause: disk }))).toBe(
      "create lock /s0/.cvmfs_publish.lock: ENOSPC: no space left on device, write",
    );
    expect(describeError(new RepositoryError(`add tag t to history: ${disk.message}`, { cause: disk }))).toBe(`add tag t to history: ${disk.message}`);
    const deep = new RepositoryError("publish to /s0", { cause: new Error("write history", { cause: errno("EIO", "i/o error") }) });
    expect(describeError(deep)).toBe("publish to /s0: write history: EIO: i/o error");
    expect(describeError("plain")).toBe("plain");
  });
});

describe("asConfigError", () => {
  it("makes configuration errors (exit 2) of what is one, and keeps machine failures and contention at exit 1", () => {
    const refused = asConfigError("open repository /s0", errno("EACCES", "permission denied, mkdir '/s0'"));
    expect(refused).toBeInstanceOf(ConfigError);
    expect(refused.exitCode).toBe(2);
    expect(refused.message).toBe("open repository /s0: EACCES: permission denied, mkdir '/s0'");

    const full = asConfigError("open repository /s0", errno("ENOSPC", "no space left on device, write"));
    expect(full.code).toBe("E_REPOSITORY");
    expect(full.exitCode).toBe(1);
    expect(full.message).toMatch(/ENOSPC/);

    const wrapped = new RepositoryError("create lock /s0/.cvmfs_publish.lock: ENOSPC", { cause: errno("ENOSPC", "no space") });
    expect(asConfigError("open repository /s0", wrapped)).toBe(wrapped);
    const locked = new RepositoryLockedError("stratum 0 is locked by another publisher (1 host 2024-01-01T00:00:00Z)");
    expect(asConfigError("open repository /s0", locked)).toBe(locked);
    const wishlist = new WishlistError([{ file: "a", line: 1, message: "bad" }]);
    expect(asConfigError("x", wishlist)).toBe(wishlist);
    const mismatch = asConfigError("open repository /s0", new RepositoryError('/s0 holds repository "a", not "b"'));
    expect(mismatch.exitCode).toBe(2);
  });
});
