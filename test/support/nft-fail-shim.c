/*
 * LD_PRELOAD shim for tests: while the file named by $SVCROUTER_NFT_FAIL
 * exists, every transaction the agent sends is one the kernel rejects, so
 * failed commits are real failures. Through libnftables, the script is
 * replaced by one naming a set that does not exist ("injected-failure");
 * over netlink (set elements: element-writer.ts), the table each nf_tables
 * request names is renamed ("svcrouter" -> "xvcrouter"), which the kernel
 * refuses with ENOENT.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct nft_ctx;

static int failing(void) {
  const char *flag = getenv("SVCROUTER_NFT_FAIL");
  return flag && access(flag, F_OK) == 0;
}

int nft_run_cmd_from_buffer(struct nft_ctx *ctx, const char *buf) {
  static int (*real)(struct nft_ctx *, const char *);
  /* The addon loads libnftables privately (RTLD_LOCAL), so RTLD_NEXT cannot see it: ask the library. */
  if (!real) real = (int (*)(struct nft_ctx *, const char *))dlsym(dlopen("libnftables.so.1", RTLD_LAZY), "nft_run_cmd_from_buffer");
  if (failing()) return real(ctx, "add element ip svcrouter injected-failure { 127.0.0.1 }\n");
  return real(ctx, buf);
}

/* In a transaction (a batch: reads are left alone), renames the table in the first attribute (the table's name in every nf_tables request) of each message. */
static void rename_tables(char *buf, size_t len) {
  if (len < NLMSG_HDRLEN || ((struct nlmsghdr *)buf)->nlmsg_type != NFNL_MSG_BATCH_BEGIN) return;
  for (size_t off = 0; off + NLMSG_HDRLEN <= len;) {
    struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);
    if (h->nlmsg_len < NLMSG_HDRLEN || off + h->nlmsg_len > len) return;
    size_t attr = off + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
    if ((h->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES && attr + NLA_HDRLEN < off + h->nlmsg_len && buf[attr + NLA_HDRLEN] == 's') {
      buf[attr + NLA_HDRLEN] = 'x';
    }
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
}

ssize_t sendto(int fd, const void *data, size_t len, int flags, const struct sockaddr *to, socklen_t tolen) {
  static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
  if (!real) real = (ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "sendto");
  int protocol = -1;
  socklen_t size = sizeof protocol;
  if (to && to->sa_family == AF_NETLINK && failing() && getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &size) == 0 && protocol == NETLINK_NETFILTER) {
    char *copy = malloc(len);
    if (copy) {
      memcpy(copy, data, len);
      rename_tables(copy, len);
      ssize_t n = real(fd, copy, len, flags, to, tolen);
      free(copy);
      return n;
    }
  }
  return real(fd, data, len, flags, to, tolen);
}
