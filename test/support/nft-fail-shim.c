/*
 * LD_PRELOAD shim for tests: while the file named by $SVCROUTER_NFT_FAIL
 * exists, every transaction the agent sends through libnftables is replaced
 * by one the kernel rejects, so failed commits are real failures.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

struct nft_ctx;

int nft_run_cmd_from_buffer(struct nft_ctx *ctx, const char *buf) {
  static int (*real)(struct nft_ctx *, const char *);
  /* The addon loads libnftables privately (RTLD_LOCAL), so RTLD_NEXT cannot see it: ask the library. */
  if (!real) real = (int (*)(struct nft_ctx *, const char *))dlsym(dlopen("libnftables.so.1", RTLD_LAZY), "nft_run_cmd_from_buffer");
  const char *flag = getenv("SVCROUTER_NFT_FAIL");
  if (flag && access(flag, F_OK) == 0) return real(ctx, "add element ip svcrouter injected-failure { 127.0.0.1 }\n");
  return real(ctx, buf);
}
