/* Lua 5.1 / LuaJIT 2.1 / 5.3 / 5.4 differences the binding touches, and nothing else. */
#ifndef LWOLFSSL_COMPAT_H
#define LWOLFSSL_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
/* 5.1 and LuaJIT: uservalues are environment tables. LuaJIT 2.1 already has the
 * 5.2 auxiliary functions (its lauxlib.h defines luaL_newlibtable); PUC 5.1 does not. */
#define lua_rawlen(L, i) lua_objlen(L, (i))
#ifndef luaL_newlibtable
#define LW_NEED_AUX 1
#define luaL_newlibtable(L, l) lua_createtable(L, 0, sizeof(l) / sizeof((l)[0]) - 1)
#define luaL_newlib(L, l) (luaL_newlibtable(L, l), luaL_setfuncs(L, l, 0))
void lw_setfuncs(lua_State *L, const luaL_Reg *l, int nup);
#define luaL_setfuncs lw_setfuncs
void *lw_testudata(lua_State *L, int i, const char *tname);
#define luaL_testudata lw_testudata
#endif
#define lua_getuservalue(L, i) lua_getfenv(L, (i))
#define lua_setuservalue(L, i) lua_setfenv(L, (i))
#define lua_rawgetp(L, t, p) \
  (lua_pushlightuserdata(L, (void *)(p)), lua_rawget(L, ((t) < 0 ? (t) - 1 : (t))))
#define lua_rawsetp(L, t, p) \
  (lua_pushlightuserdata(L, (void *)(p)), lua_insert(L, -2), \
   lua_rawset(L, ((t) < 0 ? (t) - 1 : (t))))
#define LW_GETUV(L, i) lua_getfenv(L, (i))
#else
#define LW_GETUV(L, i) ((void)lua_getuservalue(L, (i)))
#endif

#if LUA_VERSION_NUM >= 504
#define lw_newuserdata(L, sz) lua_newuserdatauv(L, (sz), 1)
#else
#define lw_newuserdata(L, sz) lua_newuserdata(L, (sz))
#endif

#endif
