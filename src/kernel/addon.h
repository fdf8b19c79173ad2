/*
 * What svcrouter's N-API addons share; each is its own .node (build-addon.sh).
 * Define ADDON_NAME before including: CHECK turns a failed N-API call into a
 * thrown error that names the addon, and returns NULL to JavaScript.
 * FUNCTION and DEFINE give the module's exports, as its init defines them.
 */
#ifndef SVCROUTER_ADDON_H
#define SVCROUTER_ADDON_H

#include <node_api.h>

#define CHECK(env, call)                                                        \
  do {                                                                          \
    if ((call) != napi_ok) {                                                    \
      napi_throw_error((env), NULL, ADDON_NAME " addon: N-API call failed");    \
      return NULL;                                                              \
    }                                                                           \
  } while (0)

/* A function of the exports, as a property descriptor. */
#define FUNCTION(name, fn) {(name), NULL, (fn), NULL, NULL, NULL, napi_default, NULL}

/* Defines `descriptors` (an array) on `exports`. */
#define DEFINE(env, exports, descriptors) \
  CHECK((env), napi_define_properties((env), (exports), sizeof(descriptors) / sizeof((descriptors)[0]), (descriptors)))

#endif
