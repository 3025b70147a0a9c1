/* Session userdata over WOLFSSL_SESSION, and the client side of resumption.
 *
 *  - conn:session() is the latest resumable session. In TLS 1.3 the server's
 *    NewSessionTicket arrives after the handshake, and a session taken before a read
 *    consumed it is not resumable (wolfssl-notes.md item 6), so session() first lets
 *    wolfSSL process whatever records are already waiting (wolfSSL_peek: it handles
 *    post-handshake messages without consuming application data), without blocking.
 *  - on_session(conn, sess) runs for every new session (each TLS 1.3 ticket).
 *  - wolfSSL's TLS 1.2 client treats any ServerHello as a resumption once it offered a
 *    ticket, so a server that ignores the ticket makes it fail with -373 OUT_OF_ORDER_E
 *    (item 6; against openssl s_server too). The binding looks at the server's first
 *    flight before wolfSSL does (session_ticket_lookahead): a full handshake is
 *    recognisable there (the message after ServerHello is a Certificate, not a
 *    ChangeCipherSpec), and dropping the ticket at that point makes wolfSSL run the full
 *    handshake, so the script gets a working, non-resumed connection.

 *
 * Each Session also carries how the peer of the handshake that made it was verified,
 * in memory and in its export (resumed.c), so that a connection resuming it can say. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwolfssl.h"

typedef struct Session {
  WOLFSSL_SESSION *s;
  SessionVerify v;
} Session;

/* ---- the object ----------------------------------------------------------------------- */

/* Push a Session owning `s` (a reference the caller gives away); c, if not NULL, is the
 * connection it comes from, whose verification outcome it records. */
int session_push(lua_State *L, WOLFSSL_SESSION *s, Conn *c) {
  Session *u = lw_newuserdata(L, sizeof *u);
  memset(u, 0, sizeof *u);
  u->s = s;
  luaL_getmetatable(L, LW_SESSION);
  lua_setmetatable(L, -2);
  if (c) resumed_record(L, c, &u->v);
  return 1;
}

static Session *session_check(lua_State *L, int i) {
  Session *u = luaL_checkudata(L, i, LW_SESSION);
  if (u->s == NULL) luaL_argerror(L, i, "session is freed");
  return u;
}

/* A new WOLFSSL_SESSION reference from the value at i: a Session (copied), exported
 * bytes, or nil (-> NULL), and its record in *v (if v). Anything else: NULL and a
 * message in *err. Never raises. */
WOLFSSL_SESSION *session_from_value(lua_State *L, int i, char **err, SessionVerify *v) {
  Session *u;
  if (lua_isnil(L, i)) return NULL;
  if ((u = luaL_testudata(L, i, LW_SESSION)) != NULL && u->s) {
    if (v && resumed_copy(v, &u->v) != 0) return NULL;
    return wolfSSL_SESSION_dup(u->s);
  }
  if (lua_type(L, i) == LUA_TSTRING) {
    size_t n;
    const unsigned char *p = (const unsigned char *)lua_tolstring(L, i, &n);
    WOLFSSL_SESSION *s = resumed_decode(p, n, v);
    if (s == NULL && err && *err == NULL) *err = lw_strdup("on_session_lookup returned bytes that are not a session");
    return s;
  }
  if (err && *err == NULL) *err = lw_strdup("on_session_lookup must return a Session, exported bytes or nil");
  return NULL;
}
static int session_free(lua_State *L) {
  Session *u = luaL_checkudata(L, 1, LW_SESSION);
  if (u->s) {
    wolfSSL_SESSION_free(u->s);
    u->s = NULL;
  }
  resumed_free(&u->v);
  return 0;
}

/* sess:export() -> bytes: the binding's format (resumed.c); holds the session's
 * secrets. wolfssl.session(bytes) reads it back. */
static int session_export(lua_State *L) {
  Session *u = session_check(L, 1);
  unsigned char *der = NULL;
  int n = wolfSSL_i2d_SSL_SESSION(u->s, &der);
  luaL_Buffer b;
  if (n <= 0 || der == NULL) return lw_error(L, "bad_input", "cannot serialise the session");
  luaL_buffinit(L, &b);
  resumed_encode(&b, &u->v, der, (size_t)n);
  XFREE(der, NULL, DYNAMIC_TYPE_OPENSSL);
  luaL_pushresult(&b);
  return 1;
}

/* wolfssl.session(bytes) -> Session | nil, message */
static int session_import(lua_State *L) {
  size_t n;
  const unsigned char *p = (const unsigned char *)luaL_checklstring(L, 1, &n);
  SessionVerify v;
  WOLFSSL_SESSION *s;
  Session *u;
  memset(&v, 0, sizeof v);
  if (n > 4 * 65536 || (s = resumed_decode(p, n, &v)) == NULL)
    return lw_error(L, "bad_input", "not a serialised session");
  session_push(L, s, NULL);
  u = lua_touserdata(L, -1);
  u->v = v;
  return 1;
}

/* sess:verification() -> {verified, verify_error, server_name} | nil (resumed.c) */
static int session_verification(lua_State *L) {
  return resumed_push_table(L, &session_check(L, 1)->v);
}

/* sess:id() -> the session id bytes (TLS 1.3: wolfSSL's own 32-byte id) */
static int session_id(lua_State *L) {
  Session *u = session_check(L, 1);
  unsigned int n = 0;
  const unsigned char *id = wolfSSL_SESSION_get_id(u->s, &n);
  lua_pushlstring(L, id ? (const char *)id : "", id ? n : 0);
  return 1;
}

static int session_resumable(lua_State *L) {
  lua_pushboolean(L, wolfSSL_SESSION_is_resumable(session_check(L, 1)->s) == 1);
  return 1;
}

static int session_has_ticket(lua_State *L) {
  lua_pushboolean(L, wolfSSL_SESSION_has_ticket(session_check(L, 1)->s) == 1);
  return 1;
}

/* sess:lifetime() -> seconds the session may be resumed for: the ticket's lifetime hint
 * when the server sent one, else the session timeout. */
static int session_lifetime(lua_State *L) {
  Session *u = session_check(L, 1);
  unsigned long hint = wolfSSL_SESSION_has_ticket(u->s) ? wolfSSL_SESSION_get_ticket_lifetime_hint(u->s) : 0;
  lua_pushinteger(L, hint ? (lua_Integer)hint : (lua_Integer)wolfSSL_SESSION_get_timeout(u->s));
  return 1;
}

/* sess:time() -> when the session was made, in epoch seconds */
static int session_time(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)wolfSSL_SESSION_get_time(session_check(L, 1)->s));
  return 1;
}

static int session_cipher(lua_State *L) {
  const char *name = wolfSSL_SESSION_CIPHER_get_name(session_check(L, 1)->s);
  if (name) lua_pushstring(L, name);
  else lua_pushnil(L);
  return 1;
}

static int session_tostring(lua_State *L) {
  Session *u = luaL_checkudata(L, 1, LW_SESSION);
  if (u->s == NULL) {
    lua_pushliteral(L, "wolfssl.Session (freed)");
    return 1;
  }
  lua_pushfstring(L, "wolfssl.Session (%s%s): %p",
                  wolfSSL_SESSION_is_resumable(u->s) == 1 ? "resumable" : "not resumable",
                  wolfSSL_SESSION_has_ticket(u->s) == 1 ? ", ticket" : "", (void *)u);
  return 1;
}

static const luaL_Reg session_methods[] = {
  {"export", session_export},
  {"id", session_id},
  {"resumable", session_resumable},
  {"has_ticket", session_has_ticket},
  {"lifetime", session_lifetime},
  {"time", session_time},
  {"cipher", session_cipher},
  {"verification", session_verification},
  {"free", session_free},
  {NULL, NULL}
};

static const luaL_Reg session_meta[] = {
  {"__gc", session_free},
  {"__close", session_free},
  {"__tostring", session_tostring},
  {NULL, NULL}
};

/* Leaves the methods table on the stack (core.Session). */
void session_open(lua_State *L) { lw_class(L, LW_SESSION, session_meta, session_methods); }

/* ---- per-connection state ------------------------------------------------------------- */

ConnExtra *session_extra(Conn *c) {
  if (c->x == NULL) c->x = calloc(1, sizeof *c->x);
  return c->x;
}

void session_conn_free(Conn *c) {
  if (c->x == NULL) return;
  free(c->x->psk_identity);
  free(c->x->reject_msg);
  free(c->x->keylog);
  resumed_free(&c->x->offered);
  resumed_free(&c->x->looked_up);
  if (c->x->psk_key) {
    memset(c->x->psk_key, 0, (size_t)(c->x->psk_key_len > 0 ? c->x->psk_key_len : 0));
    free(c->x->psk_key);
  }
  memset(c->x, 0, sizeof *c->x); /* ticket keys */
  free(c->x);
  c->x = NULL;
}

/* ---- client sessions ------------------------------------------------------------------- */

/* Let wolfSSL handle records that already arrived (a TLS 1.3 NewSessionTicket) without
 * consuming application data and without waiting for more. */
static void session_process_pending(lua_State *L, Conn *c) {
  char b;
  int saved = c->timeout_ms;
  conn_begin(L, c);
  c->timeout_ms = 0; /* fd transport: look at what is there, never block */
  wolfSSL_peek(c->ssl, &b, 1);
  c->timeout_ms = saved;
  conn_end(c);
}

static int session_resumable_now(Conn *c) {
  WOLFSSL_SESSION *s = wolfSSL_get_session(c->ssl);
  return s && wolfSSL_SESSION_is_resumable(s) == 1;
}

/* conn:session([wait]) -> Session | nil, message, code. A TLS 1.3 client first handles
 * what already arrived; with the fd transport it may also wait up to `wait` seconds for
 * the ticket (it comes one round trip after the handshake). Waiting polls the socket and
 * lets wolfSSL read only what is there, so it never blocks in wolfSSL. */
static int session_conn_session(lua_State *L) {
  Conn *c = conn_check(L, 1);
  double wait = luaL_optnumber(L, 2, 0);
  WOLFSSL_SESSION *s;
  if (!(c->flags & CONN_DONE))
    return lw_error(L, "wantread", "no session before the handshake is done");
  if (c->role == ROLE_CLIENT && !c->failed_msg && wolfSSL_version(c->ssl) == TLS1_3_VERSION) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
      double left;
      struct pollfd p;
      int r;
      session_process_pending(L, c);
      if (c->cb_error) return conn_error(L, c, WOLFSSL_FATAL_ERROR, "session");
      if (session_resumable_now(c) || c->fd < 0 || wait <= 0) break;
      clock_gettime(CLOCK_MONOTONIC, &t);
      left = wait - ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9);
      if (left <= 0) break;
      p.fd = c->fd;
      p.events = POLLIN;
      p.revents = 0;
      r = poll(&p, 1, (int)(left * 1000) + 1);
      if (r == 0 || (r < 0 && errno != EINTR)) break;
    }
  }
  s = wolfSSL_get1_session(c->ssl);
  if (s == NULL) return lw_error(L, "wantread", "no session");
  if (c->role == ROLE_CLIENT && wolfSSL_SESSION_is_resumable(s) != 1) {
    wolfSSL_SESSION_free(s);
    if (wolfSSL_version(c->ssl) != TLS1_3_VERSION)
      return lw_error(L, "wantread", "no resumable session: the server sent neither a session id nor a ticket");
    return lw_error(L, c->fd >= 0 && wait > 0 ? "timeout" : "wantread",
                    "no resumable session yet: the server has not sent a session ticket");
  }
  return session_push(L, s, c);
}

/* wolfSSL has no getter for a session's version; its cipher tells: TLS 1.3 suites are
 * the IANA names without "_WITH_" (TLS_AES_128_GCM_SHA256). */
static int session_is_tls13(WOLFSSL_SESSION *s) {
  const char *name = wolfSSL_SESSION_CIPHER_get_name(s);
  return name && strncmp(name, "TLS_", 4) == 0 && strstr(name, "_WITH_") == NULL;
}

/* conn:set_session(sess) -> true | false, reason. Client, before the handshake. A
 * session wolfSSL will not offer (expired, not resumable) is not an error: the
 * handshake is then a full one. */
static int session_conn_set_session(lua_State *L) {
  Conn *c = conn_check(L, 1);
  Session *u = session_check(L, 2);
  if (c->role != ROLE_CLIENT) return luaL_argerror(L, 1, "only a client offers a session");
  if (c->flags & CONN_DONE) return luaL_error(L, "set_session after the handshake");
  if (wolfSSL_SESSION_is_resumable(u->s) != 1) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "session is not resumable");
    return 2;
  }
  if (session_is_tls13(u->s) && wolfSSL_version(c->ssl) < TLS1_3_VERSION) {
    /* wolfSSL would send it anyway and the server fails the ClientHello (decode_error,
     * measured); before the handshake wolfSSL_version() is the client's highest */
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "a TLS 1.3 session cannot be offered by a TLS 1.2 client");
    return 2;
  }
  if (!session_is_tls13(u->s) && wolfSSL_CTX_get_min_proto_version(wolfSSL_get_SSL_CTX(c->ssl)) >= TLS1_3_VERSION) {
    /* wolfSSL would make a TLS 1.2 ClientHello of it, which a TLS 1.3-only client then
     * refuses itself (protocol_version, measured) */
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "a TLS 1.2 session cannot be offered by a TLS 1.3-only client");
    return 2;
  }
  if (wolfSSL_set_session(c->ssl, u->s) != WOLFSSL_SUCCESS) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "session expired or does not fit this connection");
    return 2;
  }
  if (wolfSSL_SESSION_has_ticket(u->s) == 1) c->flags |= CONN_TICKET_CHECK;
  { /* what the session says about its peer, for the connection if it resumes */
    ConnExtra *x = session_extra(c);
    if (x == NULL || resumed_copy(&x->offered, &u->v) != 0) return luaL_error(L, "out of memory");
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* wolfSSL's new-session callback. On a client: on_session(conn, sess) for each session
 * (TLS 1.3: each NewSessionTicket). On a server it feeds the external cache
 * (tickets.c). Returns 0: wolfSSL keeps ownership of `s`; Lua gets a copy. */

static int session_new_cb(WOLFSSL *ssl, WOLFSSL_SESSION *s) {
  Conn *c = conn_from_ssl(ssl);
  lua_State *L;
  WOLFSSL_SESSION *dup;
  if (c == NULL || c->L == NULL) return 0;
  if (c->role == ROLE_SERVER) return tickets_session_new(ssl, s);
  L = c->L;
  if (!bridge_handler(L, c, "on_session")) return 0;
  dup = wolfSSL_SESSION_dup(s);
  if (dup == NULL) {
    lua_pop(L, 1);
    return 0;
  }
  conn_push(L, c);
  session_push(L, dup, c);
  bridge_pcall(L, 2, 0, &c->cb_error);
  return 0;
}

/* ---- the TLS 1.2 ticket look-ahead (item 6) ------------------------------------------- */

/* Does this ServerHello body select TLS 1.3 (supported_versions = 0x0304)? */
static int session_sh_is_tls13(const unsigned char *p, size_t n) {
  size_t off = 2 + 32, end;
  if (n < off + 1) return 0;
  off += 1 + p[off];       /* legacy_session_id_echo */
  off += 2 + 1;            /* cipher_suite, legacy_compression_method */
  if (n < off + 2) return 0;
  end = off + 2 + ((size_t)p[off] << 8 | p[off + 1]);
  if (end > n) end = n;
  for (off += 2; off + 4 <= end;) {
    unsigned type = (unsigned)p[off] << 8 | p[off + 1];
    size_t len = (size_t)p[off + 2] << 8 | p[off + 3];
    if (type == 43 /* supported_versions */ && len == 2 && off + 6 <= end)
      return p[off + 4] == 0x03 && p[off + 5] == 0x04;
    off += 4 + len;
  }
  return 0;
}

/* From the server's first bytes: 1 it resumes (the message after ServerHello is a
 * NewSessionTicket, or a ChangeCipherSpec record follows), 0 full handshake (anything
 * else: Certificate, ServerKeyExchange, …), 2 not ours to judge (TLS 1.3, an alert,
 * something odd: wolfSSL handles it), -1 need more bytes. RFC 5077 3.4 and RFC 5246 7.3. */
static int session_ticket_verdict(const unsigned char *p, size_t n) {
  unsigned char hs[2048];
  size_t hl = 0, off = 0, shlen = 0;
  for (;;) {
    size_t rlen, take;
    if (shlen && hl > shlen) return hs[shlen] == 4 /* new_session_ticket */ ? 1 : 0;
    if (n - off < 5) return -1;
    if (shlen && hl == shlen && p[off] == 20 /* change_cipher_spec */) return 1;
    if (p[off] != 22 /* handshake */) return 2;
    rlen = (size_t)p[off + 3] << 8 | p[off + 4];
    if (n - off - 5 < rlen) return -1;
    take = rlen < sizeof hs - hl ? rlen : sizeof hs - hl;
    if (take == 0 && rlen > 0) return 2;
    memcpy(hs + hl, p + off + 5, take);
    hl += take;
    off += 5 + rlen;
    if (shlen == 0 && hl >= 4) {
      if (hs[0] != 2 /* server_hello */) return 2;
      shlen = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]);
      if (shlen >= sizeof hs) return 2;
    }
    if (shlen && hl >= shlen && session_sh_is_tls13(hs + 4, shlen - 4)) return 2;
  }
}

/* Called by the recv callback while CONN_TICKET_CHECK is set: make c->in hold enough of
 * the server's flight to judge, then drop the ticket if the server ignored it. 0 lets
 * the recv callback go on; <0 is its CBIO result (want read, or a transport error). */
int session_ticket_lookahead(Conn *c) {
  for (;;) {
    int v = session_ticket_verdict(c->in.p + c->in.off, buf_size(&c->in)), n;
    char tmp[4096];
    if (v >= 0) {
      c->flags &= ~CONN_TICKET_CHECK;
      if (v == 0) {
        /* with no ticket, wolfSSL compares session ids instead, and runs the full
         * handshake the server chose */
        wolfSSL_set_SessionTicket(c->ssl, NULL, 0);
        c->flags |= CONN_TICKET_DROPPED;
      }
      return 0;
    }
    if (c->fd < 0) {
      if (!(c->flags & CONN_EOF)) return WOLFSSL_CBIO_ERR_WANT_READ;
      c->flags &= ~CONN_TICKET_CHECK; /* truncated: wolfSSL reports it */
      return 0;
    }
    n = conn_recv_fd(c, tmp, (int)sizeof tmp);
    if (n <= 0) {
      if (n == WOLFSSL_CBIO_ERR_WANT_READ) return n;
      c->flags &= ~CONN_TICKET_CHECK;
      return buf_size(&c->in) > 0 ? 0 : n;
    }
    if (buf_append(&c->in, tmp, (size_t)n) != 0) return WOLFSSL_CBIO_ERR_GENERAL;
  }
}

/* ---- contexts: cache, tickets ----------------------------------------------------------- */

/* Every context gets the binding's callbacks; each does nothing until Lua asks for it. */
void session_context_init(WOLFSSL_CTX *ctx, int role) {
  wolfSSL_CTX_sess_set_new_cb(ctx, session_new_cb);
  if (role == ROLE_SERVER) server_context_init(ctx);
}

/* set_tickets(on), once, when the context is made: TLS 1.2 tickets (a client offers
 * them, as OpenSSL clients do: the look-ahead above makes a rejected ticket harmless;
 * a server issues them) and TLS 1.3 tickets (a server sends NewSessionTicket). */
static int session_ctx_set_tickets(lua_State *L) {
  Context *x = context_check(L, 1);
  int on = lua_toboolean(L, 2);
  if (x->role == ROLE_CLIENT) {
    if (on) wolfSSL_CTX_UseSessionTicket(x->ctx);
  } else if (!on) {
    wolfSSL_CTX_NoTicketTLSv12(x->ctx);
    wolfSSL_CTX_no_ticket_TLSv13(x->ctx);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* set_num_tickets(n): NewSessionTickets a TLS 1.3 server sends after a handshake. */
static int session_ctx_set_num_tickets(lua_State *L) {
  Context *x = context_check(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n >= 0 && n <= 16, 2, "must be between 0 and 16");
  if (n == 0) wolfSSL_CTX_no_ticket_TLSv13(x->ctx);
  else if (wolfSSL_CTX_set_num_tickets(x->ctx, (size_t)n) != WOLFSSL_SUCCESS)
    return context_fail(L, "cannot set the number of tickets", 0);
  lua_pushboolean(L, 1);
  return 1;
}

/* set_session_cache(on): the server's TLS 1.2 session-id cache. */
static int session_ctx_set_session_cache(lua_State *L) {
  Context *x = context_check(L, 1);
  if (!lua_toboolean(L, 2)) wolfSSL_CTX_set_session_cache_mode(x->ctx, WOLFSSL_SESS_CACHE_OFF);
  lua_pushboolean(L, 1);
  return 1;
}

/* set_session_timeout(seconds): how long a session (and a ticket) stays resumable. */
static int session_ctx_set_session_timeout(lua_State *L) {
  Context *x = context_check(L, 1);
  lua_Integer t = luaL_checkinteger(L, 2);
  luaL_argcheck(L, t > 0 && t <= 7 * 24 * 3600, 2, "must be between 1 and 604800 seconds");
  /* returns the previous timeout in this (OpenSSL-compatible) build: not checked */
  wolfSSL_CTX_set_timeout(x->ctx, (unsigned)t);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- hooks the driving calls run ------------------------------------------------------ */

int session_handshake_done(lua_State *L, Conn *c) {
  ConnExtra *x;
  if (c->x && c->x->done_hooks) return 0;
  x = session_extra(c);
  if (x) x->done_hooks = 1;
  resumed_apply(L, c);
  return keys_handshake_done(L, c);
}

void session_reject(Conn *c, const char *fmt, ...) {
  ConnExtra *x = session_extra(c);
  char buf[512];
  va_list ap;
  if (x == NULL || x->reject_msg) return; /* the first reason is the one that counts */
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  x->reject_msg = lw_strdup(buf);
}

/* A handshake failed: if one of this callbacks refused it, say so (and latch it
 * as conn_error would); 1 when c->failed_msg/failed_code are set. */
int session_handshake_failed(lua_State *L, Conn *c) {
  int err;
  WOLFSSL_ALERT_HISTORY h;
  char msg[640];
  if (psk_handshake_failed(L, c)) return 1;
  if (c->x == NULL || c->x->reject_msg == NULL || c->cb_error || (c->flags & CONN_PAUSED)) return 0;
  err = wolfSSL_get_error(c->ssl, WOLFSSL_FATAL_ERROR);
  if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) return 0;
  memset(&h, 0, sizeof h);
  h.last_tx.code = -1;
  wolfSSL_get_alert_history(c->ssl, &h);
  if (h.last_tx.code >= 0 && alert_name(h.last_tx.code))
    snprintf(msg, sizeof msg, "handshake failed: %s (sent alert %s)", c->x->reject_msg,
             alert_name(h.last_tx.code));
  else
    snprintf(msg, sizeof msg, "handshake failed: %s", c->x->reject_msg);
  lw_free_str(&c->failed_msg);
  c->failed_msg = lw_strdup(msg);
  c->failed_code = "handshake_failed";
  return c->failed_msg != NULL;
}

int alert_code(const char *name) {
  int i;
  for (i = 0; i < 256; i++) {
    const char *n = alert_name(i);
    if (n && strcmp(n, name) == 0) return i;
  }
  return -1;
}

const luaL_Reg session_conn_methods[] = {
  {"session", session_conn_session},
  {"set_session", session_conn_set_session},
  {NULL, NULL}
};

const luaL_Reg session_context_methods[] = {
  {"set_tickets", session_ctx_set_tickets},
  {"set_num_tickets", session_ctx_set_num_tickets},
  {"set_session_cache", session_ctx_set_session_cache},
  {"set_session_timeout", session_ctx_set_session_timeout},
  {NULL, NULL}
};

static int session_is_session(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, LW_SESSION) != NULL);
  return 1;
}

const luaL_Reg session_functions[] = {
  {"session", session_import},
  {"is_session", session_is_session},
  {NULL, NULL}
};
