/* Pre-shared keys, TLS 1.2 and 1.3, through wolfSSL's PSK callbacks (which serve both
 * versions). The callbacks run several times per handshake (a TLS 1.3 client 3 times, a
 * server up to 27 times for an unknown identity: wolfssl-notes.md item 9a), so Lua is
 * asked once per connection (and identity) and the answer is cached in C.
 *
 *   client: on_psk(conn, hint) -> identity, key
 *   server: on_psk(conn, identity) -> key | nil (unknown identity)
 *
 * A TLS 1.3 server without a certificate that gets an unknown identity fails without
 * sending any alert, and the client waits for ever (item 9a); so does any TLS 1.3 server
 * whose client has the wrong key (the binder does not verify). When such a handshake
 * failed and sent nothing, the binding sends the alert itself: at that point no keys are
 * in use (the server has not answered the ClientHello), so it is a plaintext record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwolfssl.h"

#define ALERT_DECRYPT_ERROR 51
#define ALERT_UNKNOWN_PSK_IDENTITY 115

static void psk_forget(ConnExtra *x) {
  free(x->psk_identity);
  x->psk_identity = NULL;
  if (x->psk_key) {
    memset(x->psk_key, 0, (size_t)(x->psk_key_len > 0 ? x->psk_key_len : 0));
    free(x->psk_key);
    x->psk_key = NULL;
  }
  x->psk_key_len = 0;
}

/* Cache identity -> key (key NULL: unknown identity). 0, or -1 out of memory. */
static int psk_remember(ConnExtra *x, const char *identity, const char *key, size_t keylen) {
  psk_forget(x);
  x->psk_identity = lw_strdup(identity);
  if (x->psk_identity == NULL) return -1;
  if (key == NULL) {
    x->psk_key_len = -1;
    return 0;
  }
  x->psk_key = malloc(keylen ? keylen : 1);
  if (x->psk_key == NULL) return -1;
  memcpy(x->psk_key, key, keylen);
  x->psk_key_len = (int)keylen;
  return 0;
}

static unsigned psk_copy_key(ConnExtra *x, unsigned char *key, unsigned max) {
  if (x->psk_key_len <= 0 || (unsigned)x->psk_key_len > max) return 0;
  memcpy(key, x->psk_key, (size_t)x->psk_key_len);
  return (unsigned)x->psk_key_len;
}

static unsigned psk_client_cb(WOLFSSL *ssl, const char *hint, char *identity, unsigned id_max,
                              unsigned char *key, unsigned key_max) {
  Conn *c = conn_from_ssl(ssl);
  ConnExtra *x;
  lua_State *L;
  size_t idlen, keylen;
  const char *id, *k;
  if (c == NULL || (x = session_extra(c)) == NULL || (L = c->L) == NULL) return 0;
  if (x->psk_identity == NULL) {
    if (!bridge_handler(L, c, "on_psk")) return 0;
    conn_push(L, c);
    if (hint && *hint) lua_pushstring(L, hint);
    else lua_pushnil(L);
    if (bridge_pcall(L, 2, 2, &c->cb_error) != 0) return 0;
    /* types first: lua_tolstring would turn a number into a string in place */
    id = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &idlen) : NULL;
    k = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &keylen) : NULL;
    if (id == NULL || k == NULL || idlen == 0 || keylen == 0) {
      if (c->cb_error == NULL) c->cb_error = lw_strdup("on_psk(conn, hint) must return an identity and a key");
    } else if (idlen >= id_max || keylen > key_max) {
      if (c->cb_error == NULL) c->cb_error = lw_strdup("on_psk: identity or key too long");
    } else if (psk_remember(x, id, k, keylen) != 0 && c->cb_error == NULL) {
      c->cb_error = lw_strdup("out of memory");
    }
    lua_pop(L, 2);
    if (x->psk_identity == NULL) return 0;
  }
  if (strlen(x->psk_identity) >= id_max) return 0;
  strcpy(identity, x->psk_identity);
  return psk_copy_key(x, key, key_max);
}

static unsigned psk_server_cb(WOLFSSL *ssl, const char *identity, unsigned char *key, unsigned key_max) {
  Conn *c = conn_from_ssl(ssl);
  ConnExtra *x;
  lua_State *L;
  size_t keylen;
  const char *k;
  if (c == NULL || identity == NULL || (x = session_extra(c)) == NULL || (L = c->L) == NULL) return 0;
  if (x->psk_identity == NULL || strcmp(x->psk_identity, identity) != 0) {
    if (!bridge_handler(L, c, "on_psk")) return 0;
    conn_push(L, c);
    lua_pushstring(L, identity);
    if (bridge_pcall(L, 2, 1, &c->cb_error) != 0) return 0;
    k = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &keylen) : NULL;
    if (lua_isnil(L, -1)) {
      psk_remember(x, identity, NULL, 0);
    } else if (k == NULL || keylen == 0) {
      if (c->cb_error == NULL) c->cb_error = lw_strdup("on_psk(conn, identity) must return the key (a string) or nil");
    } else if (keylen > key_max) {
      if (c->cb_error == NULL) c->cb_error = lw_strdup("on_psk: key too long");
    } else if (psk_remember(x, identity, k, keylen) != 0 && c->cb_error == NULL) {
      c->cb_error = lw_strdup("out of memory");
    }
    lua_pop(L, 1);
    if (x->psk_identity == NULL) return 0;
  }
  if (x->psk_key_len < 0) {
    x->psk_unknown = 1;
    return 0;
  }
  return psk_copy_key(x, key, key_max);
}

/* ctx:use_psk([hint]): PSK callbacks on (server: with an identity hint for TLS 1.2) */
static int psk_ctx_use(lua_State *L) {
  Context *x = context_check(L, 1);
  if (x->role == ROLE_CLIENT) {
    wolfSSL_CTX_set_psk_client_callback(x->ctx, psk_client_cb);
  } else {
    wolfSSL_CTX_set_psk_server_callback(x->ctx, psk_server_cb);
    if (!lua_isnoneornil(L, 2) && wolfSSL_CTX_use_psk_identity_hint(x->ctx, luaL_checkstring(L, 2)) != WOLFSSL_SUCCESS)
      return context_fail(L, "cannot set the PSK identity hint", 0);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* conn:psk_identity() -> the identity the client sent (server) or used (client) */
static int psk_conn_identity(lua_State *L) {
  Conn *c = conn_check(L, 1);
  const char *id = wolfSSL_get_psk_identity(c->ssl);
  if (c->role == ROLE_CLIENT && c->x && c->x->psk_identity) id = c->x->psk_identity;
  if (id && *id) lua_pushstring(L, id);
  else lua_pushnil(L);
  return 1;
}

/* After a failed server handshake: the alert wolfSSL did not send. An unknown identity
 * (certless TLS 1.3 server) and a binder that does not verify (the client's key is
 * wrong, RFC 8446 4.2.11: decrypt_error) both fail without one (item 9a). */
int psk_handshake_failed(lua_State *L, Conn *c) {
  unsigned char alert[] = {21, 3, 3, 0, 2, 2 /* fatal */, 0};
  WOLFSSL_ALERT_HISTORY h;
  const char *why;
  char msg[600];
  int err;
  (void)L;
  if (c->role != ROLE_SERVER || c->cb_error || (c->flags & CONN_PAUSED)) return 0;
  err = wolfSSL_get_error(c->ssl, WOLFSSL_FATAL_ERROR);
  if (err == -423 /* BAD_BINDER */) {
    alert[6] = ALERT_DECRYPT_ERROR;
    why = "the client's PSK does not match (binder does not verify)";
  } else if (c->x && c->x->psk_unknown && err != WOLFSSL_ERROR_WANT_READ && err != WOLFSSL_ERROR_WANT_WRITE) {
    alert[6] = ALERT_UNKNOWN_PSK_IDENTITY;
    c->x->psk_unknown = 0;
    snprintf(msg, sizeof msg, "unknown PSK identity '%s'", c->x->psk_identity ? c->x->psk_identity : "");
    why = msg;
  } else {
    return 0;
  }
  memset(&h, 0, sizeof h);
  h.last_tx.code = -1;
  wolfSSL_get_alert_history(c->ssl, &h);
  session_reject(c, "%s", why);
  if (h.last_tx.code >= 0) return 0; /* wolfSSL did send one: the usual message */
  if (conn_send_raw(c, alert, (int)sizeof alert) != 0) return 0;
  /* session_handshake_failed words its message from wolfSSL's alert history, which
   * does not know about an alert the binding wrote itself */
  snprintf(msg, sizeof msg, "handshake failed: %s (sent alert %s)", c->x->reject_msg, alert_name(alert[6]));
  lw_free_str(&c->failed_msg);
  c->failed_msg = lw_strdup(msg);
  c->failed_code = "handshake_failed";
  return c->failed_msg != NULL;
}

const luaL_Reg psk_conn_methods[] = {
  {"psk_identity", psk_conn_identity},
  {NULL, NULL}
};

const luaL_Reg psk_context_methods[] = {
  {"use_psk", psk_ctx_use},
  {NULL, NULL}
};
