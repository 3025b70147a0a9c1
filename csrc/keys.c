/* Key material of an established connection: the RFC 5705 / RFC 8446 7.5 exporter, the
 * Finished values, the hello randoms, NSS key-log lines, and TLS 1.3 KeyUpdate.
 *
 * Key log (the NSS SSLKEYLOGFILE format Wireshark reads):
 *  - TLS 1.2: "CLIENT_RANDOM <client random> <master secret>", built after the handshake
 *    from the client random and the session's master secret: the line OpenSSL writes
 *    (wolfssl-notes.md item 7).
 *  - TLS 1.3: one line per secret, "<LABEL> <client random> <secret>", for the handshake
 *    and application traffic secrets of both sides and the exporter secret. wolfSSL
 *    5.5.4 has no secret callbacks (item 7: absent, confirmed with dlsym), but every
 *    secret of the key schedule is an HKDF-Expand-Label output, and record.c's
 *    HKDF-Expand-Label hook hands each one here as it is derived (keys_tls13_secret), on
 *    connections that keep a key log. The lines are therefore available even when the
 *    handshake fails later, as OpenSSL's key-log callback gives them.
 * Whether a connection keeps a key log is decided by its first driving call
 * (keys_wanted): a keylog handler (the context's or the connection's), or the
 * CONN_KEYLOG flag (ctx:connection{keylog = true}). Other connections pay nothing. */
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
  if (c->flags & CONN_RELEASED) /* wolfSSL_FreeArrays took the exporter secret (conn.c) */
    return lw_error(L, "unsupported", "export_keying_material: the key material was released by release_handshake_data()");
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

/* A hello random, or nil while there is none: wolfSSL hands back 32 zero bytes before the
 * ClientHello is made (client) or received (server), and after release_handshake_data. */
static int keys_push_random(lua_State *L, const unsigned char *buf, size_t n) {
  size_t i;
  for (i = 0; n == RANDOM_SZ && i < n; i++)
    if (buf[i] != 0) {
      lua_pushlstring(L, (const char *)buf, n);
      return 1;
    }
  lua_pushnil(L);
  return 1;
}

static int keys_client_random(lua_State *L) {
  Conn *c = conn_check(L, 1);
  unsigned char buf[RANDOM_SZ];
  return keys_push_random(L, buf, wolfSSL_get_client_random(c->ssl, buf, sizeof buf));
}

static int keys_server_random(lua_State *L) {
  Conn *c = conn_check(L, 1);
  unsigned char buf[RANDOM_SZ];
  return keys_push_random(L, buf, wolfSSL_get_server_random(c->ssl, buf, sizeof buf));
}

/* Push the connection's key-log text (lines without the final newline); 0, or -1 with a
 * reason in *why. */
static int keys_push_keylog(lua_State *L, Conn *c, const char **why) {
  if (wolfSSL_version(c->ssl) == TLS1_3_VERSION) {
    if (c->x && c->x->keylog) {
      lua_pushstring(L, c->x->keylog);
      return 0;
    }
    *why = "TLS 1.3 secrets are kept only by connections that asked for a key log before the "
           "handshake (the keylog context option, or ctx:connection{keylog = true})";
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
  if (c->flags & CONN_RELEASED)
    return lw_error(L, "unsupported", "keylog: the key material was released by release_handshake_data()");
  if (keys_push_keylog(L, c, &why) == 0) return 1;
  return lw_error(L, "unsupported", "%s", why);
}

/* on_keylog(line, conn) through the bridge, if there is one. 0, or -1 (c->cb_error). */
static int keys_emit(lua_State *L, Conn *c) {
  if (!bridge_handler(L, c, "on_keylog")) {
    lua_pop(L, 1); /* the line */
    return 0;
  }
  lua_insert(L, -2); /* handler, line */
  if (!conn_push(L, c)) {
    lua_pop(L, 2);
    return 0;
  }
  return bridge_pcall(L, 2, 0, &c->cb_error) == 0 ? 0 : -1;
}

/* After each handshake: the TLS 1.2 key-log line (TLS 1.3 lines went out as their
 * secrets were derived), and a callback error that did not stop wolfSSL (a ticket key,
 * an external cache lookup, a key-log line). 0, or -1 with c->cb_error set. */
int keys_handshake_done(lua_State *L, Conn *c) {
  const char *why = NULL;
  if (c->cb_error) return -1;
  if (wolfSSL_version(c->ssl) == TLS1_3_VERSION || !lua_checkstack(L, 6)) return 0;
  if (!bridge_handler(L, c, "on_keylog")) return 0;
  lua_pop(L, 1);
  if (keys_push_keylog(L, c, &why) != 0) return 0; /* no master secret: nothing to log */
  return keys_emit(L, c);
}

/* Does connection c keep a key log? Asked once, by its first driving call (record.c). */
int keys_wanted(lua_State *L, Conn *c) {
  if (c->flags & CONN_KEYLOG) return 1;
  if (!bridge_handler(L, c, "on_keylog")) return 0;
  lua_pop(L, 1);
  return 1;
}

/* NSS key-log labels of the TLS 1.3 secrets, by HKDF label (RFC 8446 7.1). */
static const struct {
  const char *hkdf, *nss;
} keys_labels[] = {
  {"c hs traffic", "CLIENT_HANDSHAKE_TRAFFIC_SECRET"},
  {"s hs traffic", "SERVER_HANDSHAKE_TRAFFIC_SECRET"},
  {"c ap traffic", "CLIENT_TRAFFIC_SECRET_0"},
  {"s ap traffic", "SERVER_TRAFFIC_SECRET_0"},
  {"exp master", "EXPORTER_SECRET"},
  {NULL, NULL}
};

/* A TLS 1.3 secret of connection c was just derived (record.c's HKDF hook, inside
 * wolfSSL, during c's driving call): keep its line for keylog() and hand it to the
 * key-log callback. Each secret is logged once per connection. 0, or -1 when the
 * callback failed. */
int keys_tls13_secret(Conn *c, const unsigned char *label, size_t label_len, const unsigned char *secret,
                      size_t n) {
  lua_State *L = c->L;
  ConnExtra *x = session_extra(c);
  unsigned char cr[RANDOM_SZ];
  luaL_Buffer b;
  const char *line;
  size_t len, old;
  char *p;
  int i;
  for (i = 0; keys_labels[i].hkdf; i++)
    if (strlen(keys_labels[i].hkdf) == label_len && memcmp(keys_labels[i].hkdf, label, label_len) == 0) break;
  if (keys_labels[i].hkdf == NULL || x == NULL || L == NULL || (x->keylog_seen & (1 << i))) return 0;
  if (wolfSSL_get_client_random(c->ssl, cr, sizeof cr) != sizeof cr || !lua_checkstack(L, 8)) return 0;
  x->keylog_seen |= 1 << i;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, keys_labels[i].nss);
  luaL_addchar(&b, ' ');
  keys_hex(&b, cr, sizeof cr);
  luaL_addchar(&b, ' ');
  keys_hex(&b, secret, n);
  luaL_pushresult(&b);
  line = lua_tolstring(L, -1, &len);
  old = x->keylog ? strlen(x->keylog) : 0;
  if ((p = realloc(x->keylog, old + len + 2)) != NULL) {
    if (old) p[old++] = '\n';
    memcpy(p + old, line, len + 1);
    x->keylog = p;
  }
  return keys_emit(L, c);
}

/* set_keylog(on): keep this connection's TLS 1.3 key-log lines for keylog() even without
 * a key-log callback. Before the first handshake()/read()/write() only. */
static int keys_set_keylog(lua_State *L) {
  Conn *c = conn_check(L, 1);
  if (c->flags & CONN_OBSERVED) return luaL_error(L, "set_keylog: the connection has already started");
  if (lua_toboolean(L, 2)) c->flags |= CONN_KEYLOG;
  else c->flags &= ~CONN_KEYLOG;
  lua_pushboolean(L, 1);
  return 1;
}

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
  {"set_keylog", keys_set_keylog},
  {"key_update", keys_key_update},
  {NULL, NULL}
};
