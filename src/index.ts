/** The library's public API. */
export * from "./errors.js";
export * from "./logger.js";
export * from "./wishlist/reference.js";
export * from "./registry/image.js";
export * from "./cvmfs/content.js";
export * from "./tree/types.js";
