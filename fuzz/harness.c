/* libFuzzer harness for lua-wolfssl (`make fuzz`, CI: `make fuzz-smoke`).
 *
 * The core's C files are compiled into this binary with -fsanitize=fuzzer,address,
 * undefined, and driven through the real Lua API: one lua_State for the whole run, the
 * core preloaded as "wolfssl.core", the Lua layer from lua/, and one Lua function per
 * target from fuzz/targets.lua, called with each input as a string. Which target:
 * FUZZ_TARGET=server | client | cert | record (environment; default server).
 *
 * A target returns normally for every input: bad bytes must come back as
 * nil, message, code. A Lua error escaping a target is a finding like a crash: the
 * harness prints it and aborts, so libFuzzer saves the input.
 *
 * Coverage feedback comes from the binding's C (instrumented here); the system
 * libwolfssl is not instrumented, so its parsers are exercised without guidance. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#ifndef LW_ROOT
#define LW_ROOT "."
#endif

int luaopen_wolfssl_core(lua_State *L);

static lua_State *L;
static int target_ref = LUA_NOREF;

static int harness_traceback(lua_State *S) {
  luaL_traceback(S, S, lua_tostring(S, 1), 1);
  return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *target = getenv("FUZZ_TARGET");
  (void)argc;
  (void)argv;
  if (target == NULL) target = "server";
  L = luaL_newstate();
  luaL_openlibs(L);
  /* the core linked into this binary, the Lua layer from the source tree */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_wolfssl_core);
  lua_setfield(L, -2, "wolfssl.core");
  lua_pop(L, 1);
  lua_pushstring(L, LW_ROOT "/lua/?.lua;" LW_ROOT "/lua/?/init.lua;" LW_ROOT "/?.lua");
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  lua_pushcfunction(L, harness_traceback);
  if (luaL_loadfile(L, LW_ROOT "/fuzz/targets.lua") != LUA_OK || lua_pcall(L, 0, 1, -2) != LUA_OK) {
    fprintf(stderr, "fuzz: cannot load fuzz/targets.lua: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_getfield(L, -1, target);
  if (!lua_isfunction(L, -1)) {
    fprintf(stderr, "fuzz: unknown FUZZ_TARGET '%s'\n", target);
    abort();
  }
  target_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_settop(L, 0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_pushcfunction(L, harness_traceback);
  lua_rawgeti(L, LUA_REGISTRYINDEX, target_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 1) != LUA_OK) {
    fprintf(stderr, "fuzz: a Lua error escaped the target:\n%s\n", lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, 0);
  return 0;
}
