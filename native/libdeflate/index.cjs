"use strict";
// The built addon; loading throws when the build failed or libdeflate is missing, and the
// caller (cvmfs-image-sync's compress pool) then falls back to node:zlib.
module.exports = require("./build/Release/cvmfs_deflate.node");
