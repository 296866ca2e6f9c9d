import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import type { CommandContext } from "./context.js";

/**
 * The command-line surface, exactly as DESIGN.md's CLI contract: plan, convert, sync, serve,
 * verify, export, gc, status. Every flag also reads `CVMFS_IMAGE_SYNC_<FLAG>` from the environment, so the GitLab
 * template passes settings as CI/CD variables. Commands are loaded lazily: `plan --offline` does
 * not pay for SQLite or the registry client.
 */

/** The version in package.json (two levels up from both src/cli and dist/cli). */
function toolVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** `--keep-removed` → `CVMFS_IMAGE_SYNC_KEEP_REMOVED`. */
export function envName(flag: string): string {
  return `CVMFS_IMAGE_SYNC_${flag.replace(/^--/, "").replace(/-/g, "_").toUpperCase()}`;
}

function opt(flags: string, description: string, defaultValue?: string): Option {
  const option = new Option(flags, description);
  const long = option.long ?? flags;
  option.env(envName(long));
  if (defaultValue !== undefined) option.default(defaultValue);
  return option;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function listOpt(flags: string, description: string): Option {
  return opt(flags, description).argParser(collect);
}

function addCommon(cmd: Command): Command {
  return cmd
    .addOption(opt("--repo <name>", "repository fqrn", "images.local"))
    .addOption(opt("--keys-dir <dir>", "where <repo>.masterkey/.pub/.key/.crt live (created on first publish)", "./keys"))
    .addOption(opt("--log-format <format>", "text or json (one JSON object per event, on stderr)", "text"))
    .addOption(opt("--concurrency <n>", "images worked on at once", "4"))
    .addOption(opt("--platform <os/arch[/variant]>", "platform to pick from multi-platform images", "linux/amd64"))
    .addOption(opt("--platforms <list>", "platforms to publish, default first (e.g. linux/amd64,linux/arm64); overrides --platform"))
    .addOption(opt("--registry-auth <file>", "docker config.json with registry credentials"))
    .addOption(listOpt("--insecure-registry <host:port>", "speak plain HTTP to this registry (repeatable)"))
    .addOption(opt("--cache-dir <dir>", "layer cache (default ~/.cache/cvmfs-image-sync)"))
    .addOption(new Option("--quiet", "no progress display").env(envName("--quiet")));
}

/** What `plan` and `sync` share: which wishlists, which layout, how long removed images stay. */
function addPlanning(cmd: Command): Command {
  return cmd
    .addOption(listOpt("--wishlist <file>", "wishlist file (repeatable; default ./images.txt)"))
    .addOption(opt("--keep-removed <days>", "days an image stays after its last tag left the list", "7"))
    .addOption(opt("--layout <layout>", "osg, osg-registry or ducc", "osg"))
    .addOption(opt("--formats <list>", "what to publish for each image: sandbox (always), podman (the Podman image store), layers (containerd's per-layer directories)", "sandbox"))
    .addOption(opt("--owner <id>", "who this wishlist is: a sync removes only its own names (default: the GitLab project path, else the wishlist's path in its git repository)"))
    .addOption(opt("--event <file>", "a registry's push notification (GitLab: \"$TRIGGER_PAYLOAD\"): only the wishlist names it concerns, nothing removed"));
}

function addTarget(cmd: Command, withGateway: boolean): Command {
  cmd.addOption(opt("--stratum0 <dir>", "local stratum 0 directory (default ./stratum0/<repo>)"));
  if (withGateway) {
    cmd
      .addOption(opt("--gateway <url>", "CVMFS repository gateway API URL, e.g. https://gw.example.org:4929/api/v1"))
      .addOption(opt("--gateway-key <file>", "gateway key file: plain_text KEY_ID SECRET"));
  }
  return cmd.addOption(opt("--repo-url <url>", "stratum 0/1 URL to read the published state from"));
}

/** Builds the program; `run` receives the command name and its merged options. */
export function buildProgram(ctx: CommandContext, run: (name: string, args: string[], options: Record<string, unknown>) => Promise<number>): Command {
  const program = new Command("cvmfs-image-sync")
    .description("Container images → Apptainer sandboxes in a CernVM-FS repository, without root.")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void ctx.stdout.write(s),
      writeErr: (s) => void ctx.stderr.write(s),
    })
    .showHelpAfterError()
    .version(toolVersion(), "-V, --version", "print the version");

  const action = (name: string) =>
    async function (this: Command, ...args: unknown[]) {
      const positional = args.slice(0, -2).filter((a): a is string => typeof a === "string");
      ctx.exitCode = await run(name, positional, this.opts());
    };

  addCommon(
    addTarget(
      addPlanning(
        program
          .command("plan")
          .description("show what sync would do: add, update, keep or remove, per image")
          .addOption(opt("--base <git-rev>", "only what the wishlist change since this git revision brings"))
          .addOption(opt("--format <format>", "table or json", "table"))
          .addOption(new Option("--offline", "check and normalise the wishlist without network").env(envName("--offline"))),
      ),
      false,
    ),
  ).action(action("plan"));

  addCommon(
    program
      .command("convert")
      .description("pull one image and write it as an Apptainer sandbox directory")
      .argument("<image>", "image reference, e.g. almalinux:9")
      .requiredOption("--sandbox <dir>", "sandbox directory to create")
      .addOption(
        new Option("--layer-cache", "keep the layers' files in the cache directory so converts of images sharing layers skip them (disk: the images' uncompressed size)").env(
          envName("--layer-cache"),
        ),
      ),
  ).action(action("convert"));

  addCommon(
    addTarget(
      addPlanning(
        program
          .command("sync")
          .description("make the repository match the wishlist: convert, publish, re-tag, remove")
          .addOption(opt("--shard <i/n>", "run only shard i of n (1-based), so n runners split the wishlist"))
          .addOption(opt("--report <file>", "also write a JSON run report here (rows, errors, timings, shard), as status --report reads it")),
      ),
      true,
    ),
  ).action(action("sync"));

  addCommon(
    program
      .command("serve")
      .description("serve the local stratum 0 over HTTP, with a gateway API in front")
      .addOption(opt("--stratum0 <dir>", "local stratum 0 directory (default ./stratum0/<repo>)"))
      .addOption(opt("--host <address>", "address to listen on", "127.0.0.1"))
      .addOption(opt("--port <n>", "port (0 picks a free one)", "4929"))
      .addOption(opt("--gateway-key <file>", "gateway key file accepted by the dev gateway (created if missing)"))
      .addOption(opt("--max-lease-time <seconds>", "lease lifetime", "7200")),
  ).action(action("serve"));

  addCommon(
    program
      .command("verify")
      .description("check a repository: signatures, catalogs, every object")
      .addOption(opt("--stratum0 <dir>", "local stratum 0 directory (default ./stratum0/<repo>)"))
      .addOption(opt("--repo-url <url>", "stratum 0/1 URL to verify instead of a directory"))
      .addOption(opt("--pubkey <file>", "master public key to check the whitelist with (default <keys-dir>/<repo>.pub)")),
  ).action(action("verify"));

  addCommon(
    program
      .command("export")
      .description("write a repository subtree to local disk (files, links, devices, xattrs, owners as root), e.g. to test an image with a runtime")
      .argument("<repo-path>", "path inside the repository, e.g. /.images/ab/cdef… or a tag's name")
      .argument("<dest>", "directory to create (absent or empty)")
      .addOption(opt("--stratum0 <dir>", "local stratum 0 directory (default ./stratum0/<repo>)"))
      .addOption(opt("--repo-url <url>", "stratum 0/1 URL to read instead of a directory"))
      .addOption(opt("--pubkey <file>", "master public key to check the repository with (default <keys-dir>/<repo>.pub)")),
  ).action(action("export"));

  addCommon(
    program
      .command("gc")
      .description("delete the objects of a local stratum 0 that the kept revisions no longer reference")
      .addOption(opt("--stratum0 <dir>", "local stratum 0 directory (default ./stratum0/<repo>)"))
      .addOption(opt("--keep-revisions <n>", "keep the n newest revisions, the current one included (default 1)"))
      .addOption(opt("--keep-days <days>", "also keep every revision published in the last days (default 3 when neither is given, else 0)"))
      .addOption(new Option("--dry-run", "report what would be deleted, change nothing").env(envName("--dry-run"))),
  ).action(action("gc"));

  addCommon(
    program
      .command("status")
      .description("write the status site: what is published, where, since when, and why an image failed")
      .addOption(opt("--out <dir>", "directory the site is written to (index.html, status.json, i/*.html)", "public"))
      .addOption(listOpt("--report <file>", "run report written by sync --report (repeatable: one per shard)"))
      .addOption(opt("--previous <file-or-url>", "the previous page's status.json, for how long failures last"))
      .addOption(opt("--stratum0 <dir>", "local stratum 0 directory (default ./stratum0/<repo>)"))
      .addOption(opt("--repo-url <url>", "stratum 0/1 URL to read instead of a directory"))
      .addOption(opt("--pubkey <file>", "master public key to check the repository with (default <keys-dir>/<repo>.pub)"))
      .addOption(opt("--layout <layout>", "the repository's layout: osg, osg-registry or ducc", "osg"))
      .addOption(new Option("--skip-storage", "do not read every catalog to measure stored bytes and dedup").env(envName("--skip-storage"))),
  ).action(action("status"));

  addCommon(
    program
      .command("mr-note")
      .description("post the plan (plan --format json output) as a merge-request note, updating the earlier one")
      .argument("<plan-json>", "file written by plan --format json")
      .addOption(new Option("--gitlab-url <url>", "GitLab base URL").env("CI_SERVER_URL"))
      .addOption(new Option("--project <id>", "project id or path").env("CI_PROJECT_ID"))
      .addOption(new Option("--merge-request <iid>", "merge request iid").env("CI_MERGE_REQUEST_IID"))
      .addOption(opt("--gitlab-token-file <file>", "file holding a token allowed to write notes (or GITLAB_TOKEN)"))
      .addOption(opt("--status-url <url>", "the status page, linked from the note (the template passes CI_PAGES_URL when its Pages job is on)")),
  ).action(action("mr-note"));

  return program;
}
