/**
 * What to do when the image already has something at a path. Apptainer's build has five rules:
 * - `replace`: what Apptainer writes wins, whatever was there (the `.singularity.d` files);
 * - `keep`: created only when nothing is there (Apptainer's "mkdir unless lstat finds something":
 *   an image's `/tmp`, or a `/var/tmp` symlink, stays as it is);
 * - `keep-unless-symlink`: for the top-level links: an existing symlink is re-pointed, anything
 *   else (an image's own `/environment` file, say) is left alone;
 * - `write-through`: the path is opened as a file, following symlinks inside the image, and its
 *   content and mode replaced (Apptainer truncates `/etc/hosts` and `/etc/resolv.conf`, the
 *   runtime's bind mount points, to empty); a directory there is left alone;
 * - `move-to-history`: an existing definition file is moved to
 *   `/.singularity.d/bootstrap_history/Apptainer<N>` (N = entries already there) first.
 */
export type ExistingPolicy = "replace" | "keep" | "keep-unless-symlink" | "write-through" | "move-to-history";

/** One directory, file or symlink Apptainer's build adds to an image root. Owner root:root. */
export interface ApptainerFile {
  /** Absolute inside the image, e.g. `/.singularity.d/env/10-docker2singularity.sh`. */
  path: string;
  type: "dir" | "file" | "symlink";
  /** Permission bits (0o755, 0o644; 0o777 for symlinks). */
  mode: number;
  /** File content (files only); strings are UTF-8. */
  content?: string | Buffer;
  /** Symlink target, exactly as written (relative to `/` for the top-level links). */
  target?: string;
  onExisting: ExistingPolicy;
}
