/*
 * A long-lived libnftables context for Node: nft scripts run in-process, on
 * the libuv thread pool, over one netlink socket that stays open. Why not
 * spawn nft: closing an nftables netlink socket waits for the kernel to
 * finish releasing what the last transaction deleted (an RCU grace period,
 * 10-20 ms here), so every short-lived `nft -f` that deletes an element costs
 * that much; a socket that stays open commits the same change in well under
 * a millisecond. One context runs one script at a time (the JS side queues).
 *
 *   const ctx = addon.create();            // throws if libnftables cannot start
 *   addon.run(ctx, script, (err) => ...);  // err: null, or Error(nft's message)
 */
#define ADDON_NAME "libnftables"
#include "addon.h"
#include <nftables/libnftables.h>
#include <stdlib.h>
#include <string.h>


struct job {
  napi_async_work work;
  napi_ref callback;
  struct nft_ctx *ctx;
  char *script;
  int rc;
  char *error;
};

static void free_ctx(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  nft_ctx_free((struct nft_ctx *)data);
}

static napi_value create(napi_env env, napi_callback_info info) {
  (void)info;
  struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) {
    napi_throw_error(env, NULL, "libnftables: cannot create a context");
    return NULL;
  }
  /* Keep nft's output and errors out of the agent's stdout/stderr: errors are returned. */
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  napi_value external;
  CHECK(env, napi_create_external(env, ctx, free_ctx, NULL, &external));
  return external;
}

static void execute(napi_env env, void *data) {
  (void)env;
  struct job *j = data;
  j->rc = nft_run_cmd_from_buffer(j->ctx, j->script);
  const char *err = nft_ctx_get_error_buffer(j->ctx);
  j->error = strdup(err ? err : "");
  nft_ctx_get_output_buffer(j->ctx); /* discard, so the buffer does not grow */
}

static void complete(napi_env env, napi_status status, void *data) {
  struct job *j = data;
  napi_value cb, global, arg;
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_global(env, &global);
  if (status != napi_ok || j->rc != 0) {
    napi_value msg;
    const char *text = status != napi_ok ? "libnftables: the job was cancelled"
                       : j->error[0] ? j->error : "nft failed without a message";
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &arg);
  } else {
    napi_get_null(env, &arg);
  }
  napi_call_function(env, global, cb, 1, &arg, NULL);
  napi_delete_reference(env, j->callback);
  napi_delete_async_work(env, j->work);
  free(j->script);
  free(j->error);
  free(j);
}

static napi_value run(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 3) {
    napi_throw_type_error(env, NULL, "run(ctx, script, callback)");
    return NULL;
  }
  struct nft_ctx *ctx;
  CHECK(env, napi_get_value_external(env, argv[0], (void **)&ctx));
  size_t len;
  CHECK(env, napi_get_value_string_utf8(env, argv[1], NULL, 0, &len));
  struct job *j = calloc(1, sizeof *j);
  char *script = malloc(len + 1);
  if (!j || !script) {
    free(j);
    free(script);
    napi_throw_error(env, NULL, "libnftables addon: out of memory");
    return NULL;
  }
  CHECK(env, napi_get_value_string_utf8(env, argv[1], script, len + 1, &len));
  j->ctx = ctx;
  j->script = script;
  CHECK(env, napi_create_reference(env, argv[2], 1, &j->callback));
  napi_value name;
  CHECK(env, napi_create_string_utf8(env, "nft_run_cmd_from_buffer", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_async_work(env, NULL, name, execute, complete, j, &j->work));
  CHECK(env, napi_queue_async_work(env, j->work));
  return NULL;
}

NAPI_MODULE_INIT() {
  const napi_property_descriptor fns[] = {FUNCTION("create", create), FUNCTION("run", run)};
  DEFINE(env, exports, fns);
  return exports;
}
