#!/usr/bin/env bash
# Builds dist/kernel/libnftables.node, the in-process nft writer (see
# libnftables-addon.c). Needs a C compiler, Node's headers and Debian's
# libnftables-dev. With --if-possible a missing header is a notice, not a
# failure: `svcrouter dump` needs no kernel, so `npm ci` must not fail for it.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ ! -f /usr/include/nftables/libnftables.h ]]; then
  msg="libnftables-dev is not installed: svcrouter run/apply/cleanup need it (apt-get install libnftables-dev, then npm run build)"
  [[ "${1:-}" == "--if-possible" ]] && { echo "note: $msg" >&2; exit 0; }
  echo "error: $msg" >&2
  exit 1
fi
inc=$(node -p "require('node:path').resolve(process.execPath, '../../include/node')")
mkdir -p dist/kernel
cc -O2 -Wall -Wextra -Werror -shared -fPIC -I"$inc" src/kernel/libnftables-addon.c -lnftables -o dist/kernel/libnftables.node
