/*
 * glibc's malloc_trim(0) for Node: gives the C heap's free pages back to the
 * kernel. Buffers of every list page and watch chunk, and the in-process nft
 * parser's allocations, are malloc'd and freed; glibc keeps the freed pages
 * mapped (6-7 MB at 10k Services after a churn), which a node pays as RSS.
 *
 *   addon.trim();  // true when some memory was released
 */
#include <node_api.h>
#include <malloc.h>

static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value released;
  if (napi_get_boolean(env, malloc_trim(0) != 0, &released) != napi_ok) return NULL;
  return released;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "trim", fn) != napi_ok) {
    napi_throw_error(env, NULL, "malloc addon: N-API call failed");
    return NULL;
  }
  return exports;
}

NAPI_MODULE(svcrouter_malloc, init)
