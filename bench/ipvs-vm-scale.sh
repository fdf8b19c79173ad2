#!/usr/bin/env bash
# Run inside the VM: ../shared/tools/vmrun --mem 4096 -- bash bench/ipvs-vm-scale.sh
# (after npm run build and tsc -p bench/tsconfig.json, which builds dist-bench/). Each mode in its own namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
modprobe ip_vs
for m in ipvs nftables; do
  ip netns add "scale-$m"
  ip -n "scale-$m" link set lo up
  ip -n "scale-$m" link add eth0 type dummy
  ip -n "scale-$m" addr add 192.168.50.1/24 dev eth0
  ip -n "scale-$m" addr add fd00:50::1/64 dev eth0 nodad
  ip -n "scale-$m" link set eth0 up
  ip netns exec "scale-$m" node --max-old-space-size=1500 bench/ipvs-vm-scale.mjs "$m"
done
