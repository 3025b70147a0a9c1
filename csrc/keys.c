/* Key material of an established connection: the RFC 5705 / RFC 8446 7.5 exporter, the
 * Finished values, the hello randoms, NSS key-log lines, and TLS 1.3 KeyUpdate.
 *
 * Key log: TLS 1.2 lines are built from the client random and the master secret
 * ("CLIENT_RANDOM <random> <master secret>", the line OpenSSL writes; wolfssl-notes.md
 * item 7). TLS 1.3 needs wolfSSL's secret callbacks (HAVE_SECRET_CALLBACK); the
 * distribution's build does not have them (item 7: absent, confirmed with dlsym), so
 * there keylog() says why instead of returning lines. With a wolfSSL that has them,
 * wolfSSL's own key-log callback supplies the lines for both versions. */
#include <stdlib.h>
#include <string.h>

#include "lwolfssl.h"

#define RANDOM_SZ 32
#define MASTER_SZ 48

static Conn *keys_check_done(lua_State *L, const char *what) {
  Conn *c = conn_check(L, 1);
  if (!(c->flags & CONN_DONE)) luaL_error(L, "%s: the handshake is not done", what);
  return c;
}

static void keys_hex(luaL_Buffer *b, const unsigned char *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    luaL_addchar(b, digits[p[i] >> 4]);
    luaL_addchar(b, digits[p[i] & 15]);
  }
}

/* export_keying_material(label, n [, context]) -> n bytes | nil, message, code */
static int keys_export(lua_State *L) {
  Conn *c = keys_check_done(L, "export_keying_material");
  size_t llen, clen = 0;
  const char *label = luaL_checklstring(L, 2, &llen);
  lua_Integer n = luaL_checkinteger(L, 3);
  const char *context = luaL_optlstring(L, 4, NULL, &clen);
  unsigned char *out;
  int rc;
  luaL_argcheck(L, n > 0 && n <= 16384, 3, "must be between 1 and 16384");
  out = malloc((size_t)n);
  if (out == NULL) return luaL_error(L, "out of memory");
  rc = wolfSSL_export_keying_material(c->ssl, out, (size_t)n, label, llen, (const unsigned char *)context, clen,
                                      context != NULL);
  if (rc == WOLFSSL_SUCCESS) lua_pushlstring(L, (const char *)out, (size_t)n);
  memset(out, 0, (size_t)n);
  free(out);
  if (rc != WOLFSSL_SUCCESS)
    return lw_error(L, "bad_input", "cannot export keying material for label '%s' (a reserved label?)", label);
  return 1;
}

static int keys_push_finished(lua_State *L, int peer) {
  Conn *c = keys_check_done(L, peer ? "peer_finished" : "finished");
  unsigned char buf[64];
  size_t n = peer ? wolfSSL_get_peer_finished(c->ssl, buf, sizeof buf) : wolfSSL_get_finished(c->ssl, buf, sizeof buf);
  lua_pushlstring(L, (const char *)buf, n > sizeof buf ? sizeof buf : n);
  return 1;
}

/* finished() / peer_finished(): verify_data of our / the peer's Finished message
 * (12 bytes in TLS 1.2, the hash length in TLS 1.3) */
static int keys_finished(lua_State *L) { return keys_push_finished(L, 0); }
static int keys_peer_finished(lua_State *L) { return keys_push_finished(L, 1); }

static int keys_client_random(lua_State *L) {
  Conn *c = conn_check(L, 1);
  unsigned char buf[RANDOM_SZ];
  size_t n = wolfSSL_get_client_random(c->ssl, buf, sizeof buf);
  lua_pushlstring(L, (const char *)buf, n == sizeof buf ? n : 0);
  return 1;
}

static int keys_server_random(lua_State *L) {
  Conn *c = conn_check(L, 1);
  unsigned char buf[RANDOM_SZ];
  size_t n = wolfSSL_get_server_random(c->ssl, buf, sizeof buf);
  lua_pushlstring(L, (const char *)buf, n == sizeof buf ? n : 0);
  return 1;
}

#ifndef HAVE_SECRET_CALLBACK
static const char keys_no_tls13[] =
    "TLS 1.3 key log lines need wolfSSL's secret callbacks (HAVE_SECRET_CALLBACK), which "
    "this wolfSSL build does not have";
#endif

/* Push the connection's key-log text (lines without the final newline); 0, or -1 with a
 * reason in *why. */
static int keys_push_keylog(lua_State *L, Conn *c, const char **why) {
  if (wolfSSL_version(c->ssl) == TLS1_3_VERSION) {
#ifdef HAVE_SECRET_CALLBACK
    if (c->x && c->x->keylog) {
      lua_pushstring(L, c->x->keylog);
      return 0;
    }
    *why = "no TLS 1.3 secrets were logged for this connection";
#else
    *why = keys_no_tls13;
#endif
    return -1;
  } else {
    unsigned char cr[RANDOM_SZ], ms[MASTER_SZ];
    WOLFSSL_SESSION *s = wolfSSL_get_session(c->ssl);
    luaL_Buffer b;
    if (wolfSSL_get_client_random(c->ssl, cr, sizeof cr) != sizeof cr || s == NULL ||
        wolfSSL_SESSION_get_master_key(s, ms, sizeof ms) != MASTER_SZ) {
      *why = "the master secret is not available";
      return -1;
    }
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "CLIENT_RANDOM ");
    keys_hex(&b, cr, sizeof cr);
    luaL_addchar(&b, ' ');
    keys_hex(&b, ms, sizeof ms);
    memset(ms, 0, sizeof ms);
    luaL_pushresult(&b);
    return 0;
  }
}

/* keylog() -> NSS key-log line(s) | nil, message, "unsupported" */
static int keys_keylog(lua_State *L) {
  Conn *c = keys_check_done(L, "keylog");
  const char *why = NULL;
  if (keys_push_keylog(L, c, &why) == 0) return 1;
  return lw_error(L, "unsupported", "%s", why);
}

/* After each handshake: the context's key log (on_keylog(line, conn)), if any, and a
 * callback error that did not stop wolfSSL (a ticket key, an external cache lookup).
 * 0, or -1 with c->cb_error set. */
int keys_handshake_done(lua_State *L, Conn *c) {
  const char *why = NULL;
  if (c->cb_error) return -1;
  if (!bridge_handler(L, c, "on_keylog")) return 0;
  if (keys_push_keylog(L, c, &why) != 0) { /* TLS 1.3 without secrets: nothing to log */
    lua_pop(L, 1);
    return 0;
  }
  conn_push(L, c);
  return bridge_pcall(L, 2, 0, &c->cb_error) == 0 ? 0 : -1;
}

#ifdef HAVE_SECRET_CALLBACK
/* wolfSSL's key-log callback: the NSS lines of both versions, kept for keylog(). */
static void keys_keylog_cb(const WOLFSSL *ssl, const char *line) {
  Conn *c = conn_from_ssl((WOLFSSL *)ssl);
  ConnExtra *x = c ? session_extra(c) : NULL;
  size_t old, n = strlen(line);
  char *p;
  if (x == NULL) return;
  old = x->keylog ? strlen(x->keylog) : 0;
  p = realloc(x->keylog, old + n + 2);
  if (p == NULL) return;
  if (old) p[old++] = '\n';
  memcpy(p + old, line, n + 1);
  x->keylog = p;
}

void keys_context_init(WOLFSSL_CTX *ctx) { wolfSSL_CTX_set_keylog_callback(ctx, keys_keylog_cb); }
#else
void keys_context_init(WOLFSSL_CTX *ctx) { (void)ctx; }
#endif

/* key_update() -> true | nil, message, code: TLS 1.3 KeyUpdate (RFC 8446 4.6.3). The
 * record is written at once; the peer answers with its own KeyUpdate (item 9c). */
static int keys_key_update(lua_State *L) {
  Conn *c = conn_check_open(L, 1);
  int rc;
  if (c == NULL) return lw_error(L, "closed", "connection is closed");
  if (c->failed_msg) return lw_error(L, c->failed_code, "%s", c->failed_msg);
  if (!(c->flags & CONN_DONE)) return luaL_error(L, "key_update: the handshake is not done");
  if (wolfSSL_version(c->ssl) != TLS1_3_VERSION)
    return lw_error(L, "unsupported", "key_update needs TLS 1.3 (this connection is %s)", wolfSSL_get_version(c->ssl));
  conn_begin(L, c);
  rc = wolfSSL_update_keys(c->ssl);
  conn_end(c);
  if (rc == WOLFSSL_SUCCESS) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return conn_error(L, c, rc, "key_update");
}

const luaL_Reg keys_conn_methods[] = {
  {"export_keying_material", keys_export},
  {"finished", keys_finished},
  {"peer_finished", keys_peer_finished},
  {"client_random", keys_client_random},
  {"server_random", keys_server_random},
  {"keylog", keys_keylog},
  {"key_update", keys_key_update},
  {NULL, NULL}
};
