/*
 * glibc's malloc_trim(0) for Node: gives the C heap's free pages back to the
 * kernel. Buffers of every list page and watch chunk, and the in-process nft
 * parser's allocations, are malloc'd and freed; glibc keeps the freed pages
 * mapped (6-7 MB at 10k Services after a churn), which a node pays as RSS.
 *
 *   addon.trim();  // true when some memory was released
 */
#define ADDON_NAME "malloc"
#include "addon.h"
#include <malloc.h>

static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value released;
  CHECK(env, napi_get_boolean(env, malloc_trim(0) != 0, &released));
  return released;
}

NAPI_MODULE_INIT() {
  const napi_property_descriptor fns[] = {FUNCTION("trim", trim)};
  DEFINE(env, exports, fns);
  return exports;
}
