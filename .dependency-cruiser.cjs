/**
 * The arrows that must never exist (README, "Architecture"). `npm run lint` fails on any of them.
 * Type-only imports count too: a type that two rooms share belongs in the lower one.
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Two modules that need each other are one module, or share a type that belongs in a lower file.",
      from: {},
      to: { circular: true },
    },
    {
      name: "tree-is-pure",
      severity: "error",
      comment:
        "The image tree knows only itself and the content-store port, never a storage format or the network. " +
        "It may throw the project's typed errors and report through the injected logger: both are leaves.",
      from: { path: "^src/tree/" },
      to: { path: "^src/", pathNot: ["^src/tree/", "^src/content/", "^src/errors\\.ts$", "^src/logger\\.ts$"] },
    },
    {
      name: "root-leaves",
      severity: "error",
      comment:
        "The modules at the root of src/ (errors, logger, human formats, retry policy, lock file, debris names) " +
        "sit under every room, so they import no room (only each other). index.ts is the public API, above all.",
      from: { path: "^src/[^/]+\\.ts$", pathNot: "^src/index\\.ts$" },
      to: { path: "^src/[^/]+/" },
    },
    {
      name: "content-is-a-leaf",
      severity: "error",
      comment: "The content-store port is imported by producers and stores alike; it imports none of them.",
      from: { path: "^src/content/" },
      to: { path: "^src/", pathNot: "^src/content/" },
    },
    {
      name: "no-cvmfs-to-tree-producers",
      severity: "error",
      comment: "Layers, tree and sandbox reach storage through src/content/, never through cvmfs/.",
      from: { path: "^src/(tree|layers|sandbox)/" },
      to: { path: "^src/cvmfs/" },
    },
    {
      name: "cvmfs-below-publishing",
      severity: "error",
      comment: "CVMFS formats know nothing of registries, syncing, gateways or the command line.",
      from: { path: "^src/cvmfs/" },
      to: { path: "^src/(registry|sync|gateway|cli)/" },
    },
    {
      name: "export-only-reads",
      severity: "error",
      comment:
        "export lays out what the repository reader reads, hash-checked; it never writes a repository " +
        "(objects, catalogs, stratum 0) nor reaches past the reader into how objects are stored.",
      from: { path: "^src/cvmfs/export/" },
      to: { path: ["^src/cvmfs/(objects|gc)/", "^src/cvmfs/repository/(stratum0|_)", "^src/cvmfs/catalog/(editor|writer|catalog-builder|db)\\.ts$"] },
    },
    {
      name: "published-below-sync",
      severity: "error",
      comment:
        "The published state (layout, index, metadata, owners, schedule) is read from the repository " +
        "and written by sync: it never depends on planning, publishing or the command line.",
      from: { path: "^src/published/" },
      to: { path: "^src/(sync|gateway|cli|events|status|gitlab)/" },
    },
    {
      name: "runtimes-below-sync",
      severity: "error",
      comment:
        "The runtimes' formats (Podman store, per-layer directories) are written from plain data: " +
        "they know no registry, no sync plan, no gateway and no command line.",
      from: { path: "^src/runtimes/" },
      to: { path: "^src/(registry|sync|gateway|cli|events|status|gitlab)/" },
    },
    {
      name: "registry-knows-no-cvmfs",
      severity: "error",
      from: { path: "^src/registry/" },
      to: { path: "^src/cvmfs/" },
    },
    {
      name: "events-below-cli",
      comment:
        "Registry events are read and planned as a library: the commands compose them, never the reverse, " +
        "and sync/ (the full sync) does not depend on them.",
      from: { path: "^src/events/" },
      to: { path: "^src/cli/" },
    },
    {
      name: "sync-knows-no-events",
      from: { path: "^src/sync/" },
      to: { path: "^src/events/" },
    },
    {
      name: "wishlist-offline",
      severity: "error",
      comment: "Wishlists are parsed without the network: plan --offline depends on it.",
      from: { path: "^src/wishlist/" },
      to: { path: "^src/registry/" },
    },
    {
      name: "status-below-cli",
      severity: "error",
      comment: "The status page is made from the published state and run reports; the command line composes it, never the reverse.",
      from: { path: "^src/status/" },
      to: { path: "^src/cli/" },
    },
    {
      name: "platforms-below-sync",
      severity: "error",
      comment:
        "The per-architecture names are a small vocabulary the layout and the plan use; they know no command, " +
        "no plan and no repository format.",
      from: { path: "^src/platforms/" },
      to: { path: "^src/(cli|sync|events|cvmfs|gateway|status)/" },
    },
    {
      name: "runtimes-do-no-io",
      severity: "error",
      comment:
        "Runtime formats (Podman's image store, containerd's layer directories) decide entries; the publisher writes them " +
        "through its ports. They never open a file, start a process or reach the network themselves.",
      from: { path: "^src/runtimes/" },
      to: { dependencyTypes: ["core"], path: "^(node:)?(fs|fs/promises|child_process|net|http|https|dgram|worker_threads)$" },
    },
    {
      name: "no-orphans",
      severity: "error",
      comment: "A source file nothing imports is dead code (knip finds unused exports).",
      from: { orphan: true, path: "^src/", pathNot: ["^src/index\\.ts$", "^src/cli/main\\.ts$", "\\.d\\.ts$"] },
      to: {},
    },
    {
      name: "no-dev-dependency-in-src",
      severity: "error",
      from: { path: "^src/" },
      to: { dependencyTypes: ["npm-dev"], pathNot: ["node_modules/@types/"] },
    },
    {
      name: "no-unlisted-dependency",
      severity: "error",
      from: {},
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown", "unknown", "undetermined"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default", "types"], extensions: [".ts", ".js", ".json"] },
    moduleSystems: ["es6", "cjs"],
  },
};
