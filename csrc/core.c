/* The wolfssl.core module table: library init, constants, version, and the classes. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* Registers the class tname: its metatable gets the meta functions (__gc, __tostring,
 * ...) and, as __index, a new methods table filled from methods. Leaves the methods
 * table on the stack: luaopen_wolfssl_core adds the methods other files define, and
 * stores it as core.<Class>, where the Lua layer adds its own. */
void lw_class(lua_State *L, const char *tname, const luaL_Reg *meta, const luaL_Reg *methods) {
  luaL_newmetatable(L, tname);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__index");
  lua_remove(L, -2);
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

/* ---- fork safety (wolfssl-notes.md item 10) ----------------------------------------
 * wolfSSL's global RNG (behind wolfSSL_RAND_bytes, which the ticket-key callback draws
 * its IVs from) is not reseeded by fork(): two workers forked from a master that used
 * it draw identical bytes. The first use in a new process drops it, so wolfSSL seeds a
 * fresh one. A pthread_atfork flag keeps the check free on every driving call; the
 * random draws themselves also compare getpid(), which sees a raw clone() too. (glibc
 * unregisters the handler if this module is unloaded.) */
static pid_t lw_pid = 0;
static volatile int lw_forked = 0;

static void lw_atfork_child(void) { lw_forked = 1; }

static void lw_reseed_if(pid_t pid) {
  lw_forked = 0;
  if (pid == lw_pid) return;
  if (lw_pid != 0) wolfSSL_RAND_Cleanup();
  lw_pid = pid;
}

void lw_fork_check(void) {
  if (lw_forked || lw_pid == 0) lw_reseed_if(getpid());
}

int lw_rand_bytes(unsigned char *buf, int n) {
  lw_reseed_if(getpid());
  return wolfSSL_RAND_bytes(buf, n) == WOLFSSL_SUCCESS ? 0 : -1;
}

/* wolfssl.random(n) -> n random bytes from wolfSSL's RNG */
static int core_random(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  unsigned char *buf;
  int rc;
  luaL_argcheck(L, n >= 0 && n <= 65536, 1, "must be between 0 and 65536");
  buf = malloc((size_t)n + 1);
  if (buf == NULL) return luaL_error(L, "out of memory");
  rc = n > 0 ? lw_rand_bytes(buf, (int)n) : 0;
  if (rc == 0) lua_pushlstring(L, (const char *)buf, (size_t)n);
  free(buf);
  if (rc != 0) return luaL_error(L, "wolfSSL's random number generator failed");
  return 1;
}

/* Clock for ticket-key rotation; the offset exists only so specs can move time. */
static long lw_time_offset = 0;

long lw_now(void) { return (long)time(NULL) + lw_time_offset; }

static int core_test_time_offset(lua_State *L) {
  lw_time_offset = (long)luaL_checkinteger(L, 1);
  return 0;
}

/* Test-only: fork() and wait for a child, so a spec can reproduce the fork hazard
 * (state used before the fork, then used in two children). Not part of the API. */
static int core_test_fork(lua_State *L) {
  pid_t pid;
  fflush(NULL);
  pid = fork();
  if (pid < 0) return luaL_error(L, "fork: %s", strerror(errno));
  lua_pushinteger(L, (lua_Integer)pid);
  return 1;
}

static int core_test_wait(lua_State *L) {
  int status = 0;
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  if (waitpid(pid, &status, 0) < 0) return luaL_error(L, "waitpid: %s", strerror(errno));
  lua_pushinteger(L, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return 1;
}

static int core_test_exit(lua_State *L) {
  fflush(NULL);
  _exit((int)luaL_optinteger(L, 1, 0));
  return 0;
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
  {"random", core_random},
  {"_test_time_offset", core_test_time_offset},
  {"_test_fork", core_test_fork},
  {"_test_wait", core_test_wait},
  {"_test_exit", core_test_exit},
  {NULL, NULL}
};

__attribute__((visibility("default"))) int luaopen_wolfssl_core(lua_State *L) {
  /* Init is reference counted and never undone: wolfSSL_Cleanup with live contexts breaks
   * later handshakes (wolfssl-notes.md item 10), so no module __gc calls it. */
  static int initialised = 0;
  if (!initialised) {
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) return luaL_error(L, "wolfSSL_Init failed");
    pthread_atfork(NULL, NULL, lw_atfork_child);
    initialised = 1;
  }
  lw_fork_check();
  lua_newtable(L);
  luaL_setfuncs(L, core_functions, 0);
  luaL_setfuncs(L, x509_functions, 0);
  luaL_setfuncs(L, errors_functions, 0);
  luaL_setfuncs(L, session_functions, 0);
  luaL_setfuncs(L, tickets_functions, 0);
  /* Each class's methods come from the files of its concerns: the object's own file
   * first, then one luaL_Reg table per feature file. */
  context_open(L);
  luaL_setfuncs(L, verify_context_methods, 0);
  luaL_setfuncs(L, revocation_context_methods, 0);
  luaL_setfuncs(L, session_context_methods, 0);
  luaL_setfuncs(L, server_context_methods, 0);
  luaL_setfuncs(L, tickets_context_methods, 0);
  luaL_setfuncs(L, psk_context_methods, 0);
  lua_setfield(L, -2, "Context");
  conn_open(L);
  luaL_setfuncs(L, conn_info_methods, 0);
  luaL_setfuncs(L, verify_conn_methods, 0);
  luaL_setfuncs(L, revocation_conn_methods, 0);
  luaL_setfuncs(L, session_conn_methods, 0);
  luaL_setfuncs(L, server_conn_methods, 0);
  luaL_setfuncs(L, psk_conn_methods, 0);
  luaL_setfuncs(L, keys_conn_methods, 0);
  lua_setfield(L, -2, "Connection");
  session_open(L);
  lua_setfield(L, -2, "Session");
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
