/* The wolfssl.core module table: library init, constants, version, and the classes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lwolfssl.h"

#ifdef LW_NEED_AUX
void lw_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

void *lw_testudata(lua_State *L, int i, const char *tname) {
  void *p = lua_touserdata(L, i);
  if (p == NULL || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2)) p = NULL;
  lua_pop(L, 2);
  return p;
}
#endif

char *lw_strdup(const char *s) {
  size_t n;
  char *d;
  if (s == NULL) return NULL;
  n = strlen(s) + 1;
  d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

void lw_free_str(char **s) {
  free(*s);
  *s = NULL;
}

/* Push registry[name], creating it as a table with the given __mode ("k", "v" or NULL). */
void lw_registry_table(lua_State *L, const char *name, const char *mode) {
  lua_getfield(L, LUA_REGISTRYINDEX, name);
  if (lua_istable(L, -1)) return;
  lua_pop(L, 1);
  lua_newtable(L);
  if (mode) {
    lua_createtable(L, 0, 1);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, name);
}

/* What a path names, so the Lua layer can tell a CA directory from a file (policy stays there). */
static int core_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
  }
  lua_pushstring(L, S_ISDIR(st.st_mode) ? "directory" : S_ISREG(st.st_mode) ? "file" : "other");
  return 1;
}

/* Every cipher suite the linked wolfSSL knows, in its own naming. */
static int core_ciphers(lua_State *L) {
  char buf[8192];
  if (wolfSSL_get_ciphers(buf, (int)sizeof buf) != WOLFSSL_SUCCESS) buf[0] = '\0';
  lua_pushstring(L, buf);
  return 1;
}

static int core_pause_tostring(lua_State *L) {
  lua_pushliteral(L, "wolfssl.PAUSE");
  return 1;
}

/* wolfssl.PAUSE: a unique value a callback returns to suspend the handshake. */
static void core_push_pause(lua_State *L) {
  lua_newtable(L);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, core_pause_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "locked");
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, "wolfssl.PAUSE");
}

static const luaL_Reg core_functions[] = {
  {"stat", core_stat},
  {"ciphers", core_ciphers},
  {"new_context", context_new},
  {NULL, NULL}
};

__attribute__((visibility("default"))) int luaopen_wolfssl_core(lua_State *L) {
  /* Init is reference counted and never undone: wolfSSL_Cleanup with live contexts breaks
   * later handshakes (wolfssl-notes.md item 10), so no module __gc calls it. */
  static int initialised = 0;
  if (!initialised) {
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) return luaL_error(L, "wolfSSL_Init failed");
    initialised = 1;
  }
  lua_newtable(L);
  luaL_setfuncs(L, core_functions, 0);
  luaL_setfuncs(L, x509_functions, 0);
  luaL_setfuncs(L, errors_functions, 0);
  context_open(L);
  lua_setfield(L, -2, "Context");
  conn_open(L);
  lua_setfield(L, -2, "Connection");
  x509_open(L);
  lua_setfield(L, -2, "Certificate");
  pki_open(L);
  lua_setfield(L, -2, "pki");
  core_push_pause(L);
  lua_setfield(L, -2, "PAUSE");
  lua_pushstring(L, wolfSSL_lib_version());
  lua_setfield(L, -2, "wolfssl_version");
  lua_pushliteral(L, LIBWOLFSSL_VERSION_STRING);
  lua_setfield(L, -2, "wolfssl_headers");
  return 1;
}
