/* The C -> Lua bridge. Every call from a wolfSSL callback into Lua goes through
 * bridge_pcall (DESIGN.md "the bridge rules"):
 *  - it runs on the lua_State of the call that is driving wolfSSL (stored on the
 *    Connection by that call), never a saved main state;
 *  - it is protected: an error is recorded (first one wins) and the caller tells wolfSSL
 *    to fail; nothing ever unwinds through wolfSSL's frames;
 *  - a callback cannot yield (it runs under a C frame); lua_pcall turns an attempt into
 *    an ordinary error. Suspending is done by returning wolfssl.PAUSE instead. */
#include <stdlib.h>
#include <string.h>

#include "lwolfssl.h"

/* Calls the function below nargs arguments on L's stack. 0 with nres results pushed,
 * or -1 with nothing pushed and the error message stored in *err (if still empty). */
int bridge_pcall(lua_State *L, int nargs, int nres, char **err) {
  int rc;
  if (!lua_checkstack(L, nres + 2)) {
    lua_pop(L, nargs + 1);
    if (err && *err == NULL) *err = lw_strdup("stack overflow in callback");
    return -1;
  }
  rc = lua_pcall(L, nargs, nres, 0);
  if (rc == 0) return 0;
  if (err && *err == NULL) {
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL) msg = rc == LUA_ERRMEM ? "not enough memory" : "(error object is not a string)";
    *err = lw_strdup(msg);
  }
  lua_pop(L, 1);
  return -1;
}

/* Push the handler `name` of connection c: its own, else its context's. 1 if found. */
int bridge_handler(lua_State *L, Conn *c, const char *name) {
  if (!lua_checkstack(L, 6) || !conn_push(L, c)) return 0;
  LW_GETUV(L, -1);
  lua_getfield(L, -1, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_getfield(L, -1, "context");
    if (lua_isuserdata(L, -1)) {
      LW_GETUV(L, -1);
      lua_getfield(L, -1, name);
      lua_replace(L, -3);
      lua_pop(L, 1);
    }
  }
  lua_replace(L, -3);
  lua_pop(L, 1);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* obj:set_handler(name, fn|nil) and obj:handler(name) for a Context or a Connection
 * (the caller has checked argument 1). Handlers live in the object's uservalue beside
 * the binding's own fields ("context", "verified_chain", ...), so only on_* names are
 * accepted: a handler can never overwrite one of those. */
static void bridge_check_name(lua_State *L) {
  const char *name = luaL_checkstring(L, 2);
  luaL_argcheck(L, strncmp(name, "on_", 3) == 0, 2, "a handler name starts with 'on_'");
}

int bridge_set_handler(lua_State *L) {
  bridge_check_name(L);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TFUNCTION);
  lua_settop(L, 3);
  LW_GETUV(L, 1);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_rawset(L, -3);
  return 0;
}

int bridge_get_handler(lua_State *L) {
  bridge_check_name(L);
  LW_GETUV(L, 1);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

int bridge_is_pause(lua_State *L, int i) {
  int yes;
  lua_getfield(L, LUA_REGISTRYINDEX, "wolfssl.PAUSE");
  yes = lua_rawequal(L, i < 0 ? i - 1 : i, -1);
  lua_pop(L, 1);
  return yes;
}

/* wolfSSL's pem_password_cb, during ctx:use_key(). Returns the password length, or -1. */
int bridge_password_cb(char *buf, int size, int rwflag, void *userdata) {
  PasswordArg *pa = userdata;
  const char *pw;
  size_t n;
  (void)rwflag;
  if (pa == NULL || size <= 0) return -1;
  pa->called = 1;
  if (pa->fn) {
    lua_State *L = pa->L;
    lua_pushvalue(L, pa->fn);
    if (bridge_pcall(L, 0, 1, &pa->err) != 0) return -1;
    pw = lua_tolstring(L, -1, &n);
    if (pw == NULL) {
      lua_pop(L, 1);
      pa->err = lw_strdup("password function must return a string");
      return -1;
    }
    if (n > (size_t)size) n = (size_t)size;
    memcpy(buf, pw, n);
    lua_pop(L, 1);
    return (int)n;
  }
  if (pa->pw == NULL) return -1;
  n = pa->pwlen > (size_t)size ? (size_t)size : pa->pwlen;
  memcpy(buf, pa->pw, n);
  return (int)n;
}
