#!/usr/bin/env bash
# Packs pkg/ with npm pack and installs the tarball into tests/js, so the
# JavaScript tiers import `ratewise` by name from a real package install.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
tarball=$(cd pkg && npm pack --silent --pack-destination ../.cache 2>/dev/null | tail -1)
(cd tests/js && npm install --no-save --no-audit --no-fund --no-package-lock "../../.cache/$tarball" >/dev/null)
echo "installed .cache/$tarball into tests/js/node_modules"
