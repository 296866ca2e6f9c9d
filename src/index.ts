/**
 * The library's public API: what the CLI composes, for sites that script their own service.
 * Everything here is stable across patch releases; modules not listed are internal.
 */
export * from "./errors.js";
export * from "./logger.js";

// Image references and wishlists
export * from "./wishlist/reference.js";
export { loadWishlists, checkWishlists, parseWishlist } from "./wishlist/load-wishlists.js";
export { expandWishlist } from "./wishlist/expand-wishlist.js";
export type { WishlistEntry } from "./wishlist/entry.js";
export { getWishlistChanges, diffWishlists } from "./wishlist/git-base.js";

// Registry and the image model
export * from "./registry/image.js";
export { createRegistryClient, type RegistryClient } from "./registry/registry-client.js";
export type { RegistryClientOptions } from "./registry/options.js";

// Image tree, conversion, Apptainer sandbox
export * from "./tree/types.js";
export { convertImage, type ConvertOptions, type ConvertStats } from "./sandbox/convert-image.js";
export { materialiseTree, type MaterialiseOptions } from "./sandbox/materialise.js";
export { assembleApptainerFiles } from "./sandbox/apptainer-files.js";
export type { ApptainerFile, ExistingPolicy } from "./sandbox/apptainer-file.js";
export { applyApptainerFiles } from "./sandbox/apply-apptainer-files.js";
export { buildLayerTree, OPAQUE_XATTR, type LayerTree } from "./tree/layer-tree.js";
export { readLayerEntries, type ReadLayerEntriesOptions } from "./layers/read-layer-entries.js";

// CVMFS repository
export * from "./content/content-store.js";
export { LocalContentStore } from "./cvmfs/objects/local-content-store.js";
export { writeImageCatalogs, type NestedCatalogRef } from "./cvmfs/catalog/writer.js";
export { CatalogEditor } from "./cvmfs/catalog/editor.js";
export { openCatalog } from "./cvmfs/catalog/reader.js";
export { Stratum0 } from "./cvmfs/repository/stratum0.js";
export { RepositoryReader } from "./cvmfs/repository/repository-reader.js";
export { verifyRepository } from "./cvmfs/repository/verify.js";
export { exportRepository, type ExportOptions, type ExportStats } from "./cvmfs/export/export-repository.js";
export { garbageCollect, type GcOptions, type GcResult } from "./cvmfs/gc/garbage-collect.js";
export { resolveRetention, type RetentionPolicy } from "./cvmfs/gc/retention.js";
export { createRepositoryServer } from "./cvmfs/repository/serve.js";
export { loadOrCreateKeys } from "./cvmfs/repository/keys.js";

// Gateway
export { GatewayClient } from "./gateway/gateway-client.js";
export { publishThroughGateway } from "./gateway/gateway-publisher.js";
export { createGatewayHandler } from "./gateway/dev-gateway.js";
export { readGatewayKey, GatewayKey } from "./gateway/key-file.js";

// Sync
export { createLayout, linkTarget, type RepositoryLayout, type LayoutOptions } from "./published/layout.js";
export { assemblePlan, type Plan } from "./sync/plan.js";
export { formatPlanTable, planToJson } from "./sync/plan-format.js";
export { getSyncPlan } from "./sync/get-sync-plan.js";
export { executePlan, shardOf, type SyncResult } from "./sync/sync-repository.js";
export { openPublishTarget } from "./sync/publish-target.js";

// Status page: the run report, status.json (both versioned zod schemas) and the site
export { RunReport, RUN_REPORT_VERSION } from "./status/run-report.js";
export { StatusJson, STATUS_JSON_VERSION } from "./status/status-json.js";
export { assembleStatus, type StatusInput } from "./status/assemble-status.js";
export { assembleSite, type Site } from "./status/assemble-site.js";

// The CLI, for embedding
export { main } from "./cli/main.js";
