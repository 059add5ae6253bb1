/* lembed.h - the Lua runtime embedded in the binary (lua/ and policies/),
 * generated at build time by tools/embed-lua.cmake. Module names are
 * "portico.engine" for lua/portico/engine.lua and "policies.set-header" for
 * policies/set-header.lua. */
#ifndef PT_LEMBED_H
#define PT_LEMBED_H

#include <stddef.h>

typedef struct pt_lua_module_s {
  const char *name;   /* require() name */
  const char *path;   /* source path, for error messages */
  const char *source;
  size_t len;
} pt_lua_module_t;

extern const pt_lua_module_t pt_lua_modules[]; /* ends with a zeroed entry */

#endif
