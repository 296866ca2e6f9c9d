{
  "targets": [
    {
      "target_name": "cvmfs_deflate",
      "sources": ["deflate.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "libraries": ["-ldeflate"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
