/* The ClientHello hook (DESIGN.md "The ClientHello hook"): a server connection holds the
 * client's first bytes before wolfSSL sees any of them, waits until the whole ClientHello
 * is there (it may span several records), and runs on_client_hello(conn, hello) with it
 * decoded, for TLS 1.2 and 1.3 and both transports. wolfSSL has no client-hello callback
 * in this build; the raw bytes are the async-friendly path (wolfssl-notes.md item 5d).
 *
 * The hook may switch the context or certificate, choose ALPN, reject with an alert
 * (which the binding writes itself: wolfSSL has not started), or return wolfssl.PAUSE;
 * the next handshake() then goes on with the same buffered bytes and does not call the
 * hook again. Decoding and the meaning of the hook's return values are Lua policy
 * (trace.lua: _hello_dispatch); this file gathers bytes and acts on the answer. */
#include <string.h>

#include "lwolfssl.h"

#define HELLO_MAX (1 << 17) /* a longer ClientHello is left to wolfSSL to refuse */
#define ALERT_INTERNAL_ERROR 80
#define ALERT_HANDSHAKE_FAILURE 40

enum { SCAN_MORE, SCAN_DONE, SCAN_NOT_HELLO };
enum { HOOK_CONTINUE, HOOK_PAUSE, HOOK_REJECT, HOOK_ERROR };

/* Collect the ClientHello from the records at the start of p[0..n) into msg.
 * SCAN_DONE sets *total (message length) and *end (bytes of records holding it). */
static int hello_scan(const unsigned char *p, size_t n, Buf *msg, size_t *total, size_t *end) {
  size_t off = 0;
  msg->off = msg->len = 0;
  while (off + 5 <= n) {
    size_t len = (size_t)((p[off + 3] << 8) | p[off + 4]), have;
    if (p[off] != 22 || p[off + 1] != 3 || len == 0 || len > 16384 + 2048) return SCAN_NOT_HELLO;
    if (off + 5 + len > n) return SCAN_MORE;
    if (buf_append(msg, p + off + 5, len) != 0) return SCAN_NOT_HELLO;
    off += 5 + len;
    have = buf_size(msg);
    if (msg->p[msg->off] != 1) return SCAN_NOT_HELLO;
    if (have >= 4) {
      const unsigned char *m = msg->p + msg->off;
      *total = 4 + (((size_t)m[1] << 16) | ((size_t)m[2] << 8) | m[3]);
      if (*total > HELLO_MAX) return SCAN_NOT_HELLO;
      if (have >= *total) {
        *end = off;
        return SCAN_DONE;
      }
    }
  }
  return off < n && p[off] != 22 ? SCAN_NOT_HELLO : SCAN_MORE;
}

/* A fatal alert record from the binding itself (wolfSSL has not started). */
static void hello_alert(Conn *c, int code) {
  unsigned char rec[7] = {21, 3, 3, 0, 2, 2, 0};
  rec[6] = (unsigned char)code;
  conn_send_raw(c, rec, (int)sizeof rec); /* best effort: the handshake fails either way */
}

/* nil, message, code, latched like every fatal error (errors.c) */
static int hello_fail(lua_State *L, Conn *c, const char *code) {
  lw_free_str(&c->failed_msg);
  c->failed_msg = lw_strdup(lua_tostring(L, -1));
  c->failed_code = code;
  lua_pushnil(L);
  lua_insert(L, -2);
  lua_pushstring(L, code);
  return 3;
}

static int hello_io_error(lua_State *L, Conn *c, int n) {
  if (n == WOLFSSL_CBIO_ERR_WANT_READ)
    return (c->flags & CONN_TIMEDOUT) ? lw_error(L, "timeout", "timeout") : lw_error(L, "wantread", "wantread");
  if (n == WOLFSSL_CBIO_ERR_CONN_CLOSE || c->io_errno == 0) {
    lua_pushliteral(L, "handshake failed: connection closed by peer");
    return hello_fail(L, c, "closed");
  }
  lua_pushfstring(L, "handshake failed: %s", strerror(c->io_errno));
  return hello_fail(L, c, "io");
}

/* trace._hello_dispatch(conn, handler, bytes) -> true | PAUSE | false, alert */
static int hello_call(lua_State *L, Conn *c, const unsigned char *msg, size_t n, int *alert) {
  int top = lua_gettop(L), rc = HOOK_CONTINUE;
  if (!lua_checkstack(L, 8)) return HOOK_CONTINUE;
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  if (lua_istable(L, -1)) lua_getfield(L, -1, "wolfssl.trace");
  if (lua_istable(L, -1)) lua_getfield(L, -1, "_hello_dispatch");
  if (!lua_isfunction(L, -1) || !conn_push(L, c)) {
    lua_settop(L, top);
    return HOOK_CONTINUE;
  }
  if (!bridge_handler(L, c, "on_client_hello")) { /* removed since the handshake began */
    lua_settop(L, top);
    return HOOK_CONTINUE;
  }
  lua_pushlstring(L, (const char *)msg, n);
  if (bridge_pcall(L, 3, 2, &c->cb_error) != 0) {
    lua_settop(L, top);
    return HOOK_ERROR;
  }
  if (bridge_is_pause(L, -2)) rc = HOOK_PAUSE;
  else if (lua_isboolean(L, -2) && !lua_toboolean(L, -2)) {
    rc = HOOK_REJECT;
    *alert = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : ALERT_HANDSHAKE_FAILURE;
  }
  lua_settop(L, top);
  return rc;
}

/* Before wolfSSL_accept: 0 to go on to wolfSSL, else the number of results pushed. */
int hello_run(lua_State *L, Conn *c) {
  Buf msg;
  size_t total = 0, end = 0;
  int st, alert = ALERT_HANDSHAKE_FAILURE;
  if (!record_hello_pending(c)) return 0;
  memset(&msg, 0, sizeof msg);
  for (;;) {
    st = hello_scan(c->in.p + c->in.off, buf_size(&c->in), &msg, &total, &end);
    if (st != SCAN_MORE) break;
    if (c->fd >= 0) { /* the fd transport: read into c->in, which wolfSSL reads first */
      char tmp[4096];
      int n = conn_recv_fd(c, tmp, (int)sizeof tmp);
      if (n > 0 && buf_append(&c->in, tmp, (size_t)n) == 0) continue;
      buf_free(&msg);
      if (n > 0) return luaL_error(L, "out of memory");
      return hello_io_error(L, c, n);
    }
    buf_free(&msg);
    if (c->flags & CONN_EOF) return hello_io_error(L, c, WOLFSSL_CBIO_ERR_CONN_CLOSE);
    return lw_error(L, "wantread", "wantread");
  }
  if (st == SCAN_NOT_HELLO) { /* not a ClientHello: wolfSSL answers it */
    record_hello_done(c, 0);
    buf_free(&msg);
    return 0;
  }
  /* a resumed pause: the ClientHello was reported already; the hook is asked again,
   * as OpenSSL re-calls a client_hello_cb that answered "retry", so it can now decide
   * from what its asynchronous work found */
  if (!record_hello_paused(c)) record_prefeed(c, c->in.p + c->in.off, end);
  st = c->cb_error ? HOOK_ERROR : hello_call(L, c, msg.p + msg.off, total, &alert);
  buf_free(&msg);
  record_hello_done(c, st == HOOK_PAUSE);
  switch (st) {
  case HOOK_PAUSE:
    c->flags |= CONN_PAUSED;
    return lw_error(L, "paused", "paused");
  case HOOK_ERROR:
    hello_alert(c, ALERT_INTERNAL_ERROR);
    lua_pushfstring(L, "callback error: %s", c->cb_error);
    return hello_fail(L, c, "callback");
  case HOOK_REJECT: {
    const char *name = alert_name(alert);
    hello_alert(c, alert);
    if (name) lua_pushfstring(L, "handshake failed: on_client_hello rejected the ClientHello (sent alert %s)", name);
    else lua_pushfstring(L, "handshake failed: on_client_hello rejected the ClientHello (sent alert %d)", alert);
    return hello_fail(L, c, "handshake_failed");
  }
  }
  return 0;
}
