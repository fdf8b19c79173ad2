#!/usr/bin/env bash
# Installs the Debian packages the kernel tests need (and the libnftables
# headers the agent's kernel writer is built with), when run as root and they
# are missing, so `npm test` works on a fresh machine. Not root: nothing to do
# (kernel tests then skip with a reason, or fail under SVCROUTER_REQUIRE_E2E=1).
set -euo pipefail
[[ $(id -u) -eq 0 ]] || exit 0
need=()
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
command -v conntrack >/dev/null || need+=(conntrack)
command -v nstat >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl) # asks the agent's /trace from inside the node's namespace
[[ -f /usr/include/nftables/libnftables.h ]] || need+=(libnftables-dev) # svcrouter's kernel writer builds against it
command -v iptables-nft-restore >/dev/null || need+=(iptables) # kube-proxy's leftovers, for cleanup --kube-proxy
command -v ipset >/dev/null || need+=(ipset)
# The IPVS suites run in a VM (test/vm/, ../shared/tools/vmrun): what vmrun needs, and ipvsadm to cross-check.
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[[ -x /bin/busybox || -x /usr/bin/busybox ]] || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v depmod >/dev/null || need+=(kmod)
command -v ipvsadm >/dev/null || need+=(ipvsadm)
[[ ${#need[@]} -eq 0 ]] && exit 0
echo "installing ${need[*]} for the kernel tests" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
