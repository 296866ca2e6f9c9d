#!/usr/bin/env bash
# Installs the Debian packages the test suite and the benchmarks use. Idempotent, no prompts.
# docker-registry: the real OCI registry tests push to and pull from.
# umoci: the reference unpacker for the differential layer tests and the benchmark baseline.
# apache2-utils: htpasswd (bcrypt) for the registry's basic-auth variant.
# zstd, pigz: command-line baselines; rsync, git: gitlab-ci-local's needs; openssl: signature cross-checks.
# chromium: the browser the status page's tests and benchmark drive (through puppeteer-core).
# libdeflate-dev, build-essential, python3: what `npm ci` needs to build the libdeflate addon
#   (native/libdeflate, an optional dependency: without them objects are deflated by node:zlib).
# podman, runc: the real Podman (run as root, runc because crun refuses hybrid cgroups) that reads
#   the published additional image store in the runtime-format tests.
# attr: setfattr, with which `export` writes extended attributes (trusted.overlay.opaque, capabilities).
set -euo pipefail
packages=(libdeflate-dev build-essential python3 docker-registry umoci skopeo apache2-utils zstd pigz rsync git openssl ca-certificates chromium podman runc attr)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies present: ${packages[*]}"
  exit 0
fi
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
