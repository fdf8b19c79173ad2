#!/usr/bin/env bash
# Builds the N-API addons into dist/kernel/ (what they share: src/kernel/addon.h):
#   netlink.node      a netlink socket for the IPVS and link clients
#                     (netlink-addon.c); needs a C compiler and Node's headers
#   malloc.node       malloc_trim for the agent's settled RSS (malloc-addon.c)
#   list-scanner.node the byte scan of the API's lists
#                     (src/k8s/list-scanner-addon.c)
#   element-encoder.node  set elements as netlink bytes, for the nft writer
#                     (src/kernel/nftables/element-encoder-addon.c)
#   libnftables.node  the in-process nft writer (libnftables-addon.c); needs
#                     Debian's libnftables-dev as well
# With --if-possible a missing prerequisite is a notice, not a failure:
# `svcrouter dump` needs no kernel, so `npm ci` must not fail for it.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing() {
  [[ "${1:-}" == "--if-possible" ]] && { echo "note: $2" >&2; exit 0; }
  echo "error: $2" >&2
  exit 1
}

inc=$(node -p "require('node:path').resolve(process.execPath, '../../include/node')")
if ! command -v cc >/dev/null || [[ ! -f "$inc/node_api.h" ]]; then
  missing "${1:-}" "a C compiler and Node's headers ($inc) are needed for svcrouter's kernel addons (apt-get install gcc libc6-dev, then npm run build)"
fi
mkdir -p dist/kernel
cflags=(-O2 -Wall -Wextra -Werror -shared -fPIC -I"$inc")
cc "${cflags[@]}" src/kernel/netlink-addon.c -o dist/kernel/netlink.node
cc "${cflags[@]}" src/kernel/malloc-addon.c -o dist/kernel/malloc.node
cc "${cflags[@]}" src/k8s/list-scanner-addon.c -o dist/kernel/list-scanner.node
cc "${cflags[@]}" src/kernel/nftables/element-encoder-addon.c -o dist/kernel/element-encoder.node

if [[ ! -f /usr/include/nftables/libnftables.h ]]; then
  missing "${1:-}" "libnftables-dev is not installed: svcrouter run/apply/cleanup need it (apt-get install libnftables-dev, then npm run build)"
fi
cc "${cflags[@]}" src/kernel/libnftables-addon.c -lnftables -o dist/kernel/libnftables.node
