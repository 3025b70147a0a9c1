/* Server-side decisions during the handshake, in wolfSSL's order (item 5b):
 * SNI (on_sni) -> ALPN (alpn list / on_alpn) -> certificate (on_certificate).
 *
 * Each C callback below is installed on every server context and does nothing until a
 * Lua handler (or the server's alpn list) is set; each calls Lua through the bridge, on
 * the state of the call driving the handshake, and never lets an error through wolfSSL.
 *
 * Two wolfSSL behaviours are worked around here:
 *  - SNI: a fatal return sends the alert in *ret, whose default is close_notify (item
 *    5a), so the binding always fills it in (unrecognized_name unless told otherwise);
 *  - ALPN: the select callback's fatal return is ignored (the handshake goes on without
 *    ALPN, item 5c). A refusal is made to stick by giving the connection, from inside the
 *    callback, a native ALPN list nobody offers with WOLFSSL_ALPN_FAILED_ON_MISMATCH and
 *    answering "no ack": wolfSSL's own matching then fails the handshake with alert
 *    no_application_protocol (measured on 5.5.4, TLS 1.2 and 1.3). */
#include <string.h>

#include "lwolfssl.h"

#define ALERT_INTERNAL_ERROR 80
#define ALERT_UNRECOGNIZED_NAME 112

/* OpenSSL's SSL_TLSEXT_ERR_* values, which wolfSSL's SNI and ALPN callbacks use */
#define TLSEXT_OK 0
#define TLSEXT_ALERT_FATAL 2
#define TLSEXT_NOACK 3

/* A protocol name no client offers: the native list that makes an ALPN refusal stick. */
static const char alpn_refuse[] = "\x7f" "lua-wolfssl refused";

static const char *server_typename(lua_State *L, int i) {
  if (luaL_testudata(L, i, LW_CONTEXT)) return "a Context";
  return luaL_typename(L, i);
}

/* ---- SNI ------------------------------------------------------------------------------ */

/* on_sni(conn, name) -> nil (go on) | Context (switch to it) | false [, alert name].
 * Called for every ClientHello; name is nil when the client sent no SNI. */
static int server_sni_cb(WOLFSSL *ssl, int *alert, void *arg) {
  Conn *c = conn_from_ssl(ssl);
  lua_State *L;
  const char *name;
  int rc = TLSEXT_OK;
  (void)arg;
  if (c == NULL || (L = c->L) == NULL || !bridge_handler(L, c, "on_sni")) return TLSEXT_OK;
  name = wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME);
  conn_push(L, c);
  if (name) lua_pushstring(L, name);
  else lua_pushnil(L);
  if (bridge_pcall(L, 2, 2, &c->cb_error) != 0) {
    *alert = ALERT_INTERNAL_ERROR;
    return TLSEXT_ALERT_FATAL;
  }
  if (lua_isnil(L, -2)) {
    rc = TLSEXT_OK;
  } else if (luaL_testudata(L, -2, LW_CONTEXT)) {
    /* conn:use_context(ctx): the same switch a script can make itself */
    conn_push(L, c);
    lua_getfield(L, -1, "use_context");
    lua_insert(L, -2);
    lua_pushvalue(L, -4);
    if (bridge_pcall(L, 2, 2, &c->cb_error) != 0) {
      rc = TLSEXT_ALERT_FATAL;
    } else {
      if (!lua_toboolean(L, -2)) {
        if (c->cb_error == NULL)
          c->cb_error = lw_strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) : "on_sni: cannot switch context");
        rc = TLSEXT_ALERT_FATAL;
      }
      lua_pop(L, 2);
    }
    if (rc != TLSEXT_OK) *alert = ALERT_INTERNAL_ERROR;
  } else if (lua_isboolean(L, -2) && !lua_toboolean(L, -2)) {
    /* the alert as on_client_hello takes it: a name or a number (default
     * unrecognized_name, RFC 6066 3) */
    int code = ALERT_UNRECOGNIZED_NAME;
    if (lua_type(L, -1) == LUA_TNUMBER) {
      lua_Integer n = lua_tointeger(L, -1);
      code = n >= 0 && n <= 255 ? (int)n : -1;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
      code = alert_code(lua_tostring(L, -1));
    } else if (!lua_isnil(L, -1)) {
      c->cb_error = lw_strdup("on_sni: the alert must be a name such as \"unrecognized_name\" or a number");
      code = ALERT_INTERNAL_ERROR;
    }
    if (code < 0) {
      lua_pushfstring(L, "on_sni returned an unknown alert '%s'", lua_tostring(L, -1));
      c->cb_error = lw_strdup(lua_tostring(L, -1));
      lua_pop(L, 1);
      code = ALERT_INTERNAL_ERROR;
    }
    if (c->cb_error == NULL)
      session_reject(c, name ? "on_sni refused the server name '%s'" : "on_sni refused a client without server name",
                     name ? name : "");
    *alert = code;
    rc = TLSEXT_ALERT_FATAL;
  } else {
    if (c->cb_error == NULL) {
      lua_pushfstring(L, "on_sni must return nil, a Context or false (got %s)", server_typename(L, -2));
      c->cb_error = lw_strdup(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    *alert = ALERT_INTERNAL_ERROR;
    rc = TLSEXT_ALERT_FATAL;
  }
  lua_pop(L, 2);
  return rc;
}

/* conn:server_name() -> the SNI name (server: what the client sent; client: what it
 * sends or checks), or nil */
static int server_conn_server_name(lua_State *L) {
  Conn *c = conn_check(L, 1);
  const char *name = c->role == ROLE_SERVER ? wolfSSL_get_servername(c->ssl, WOLFSSL_SNI_HOST_NAME) : c->host;
  if (name && *name) lua_pushstring(L, name);
  else lua_pushnil(L);
  return 1;
}

/* ---- ALPN ----------------------------------------------------------------------------- */

/* Find protocol p (n bytes) in the wire-format list `in`; a pointer to its name or NULL. */
static const unsigned char *server_alpn_find(const unsigned char *in, unsigned inlen, const char *p, size_t n) {
  unsigned off = 0;
  while (off < inlen) {
    unsigned len = in[off];
    if (off + 1 + len > inlen) return NULL;
    if (len == n && memcmp(in + off + 1, p, n) == 0) return in + off + 1;
    off += 1 + len;
  }
  return NULL;
}

/* "h2, http/1.1" for messages */
static void server_alpn_describe(lua_State *L, const unsigned char *in, unsigned inlen) {
  luaL_Buffer b;
  unsigned off = 0;
  luaL_buffinit(L, &b);
  while (off < inlen && off + 1 + in[off] <= inlen) {
    if (off > 0) luaL_addstring(&b, ", ");
    luaL_addlstring(&b, (const char *)in + off + 1, in[off]);
    off += 1 + in[off];
  }
  luaL_pushresult(&b);
}

static int server_alpn_refuse(Conn *c, lua_State *L, const unsigned char *in, unsigned inlen, const char *why) {
  char list[sizeof alpn_refuse];
  memcpy(list, alpn_refuse, sizeof list);
  if (wolfSSL_UseALPN(c->ssl, list, (unsigned)strlen(list), WOLFSSL_ALPN_FAILED_ON_MISMATCH) != WOLFSSL_SUCCESS &&
      c->cb_error == NULL)
    c->cb_error = lw_strdup("cannot refuse ALPN");
  if (why && c->cb_error == NULL) {
    server_alpn_describe(L, in, inlen);
    session_reject(c, "%s (client offered: %s)", why, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return TLSEXT_NOACK;
}

/* The server's own list, comma-separated, in its order of preference (RFC 7301 3.2:
 * no overlap -> alert no_application_protocol). */
static int server_alpn_by_list(Conn *c, lua_State *L, const unsigned char **out, unsigned char *outlen,
                               const unsigned char *in, unsigned inlen) {
  size_t n;
  const char *list = lua_tolstring(L, -1, &n), *p = list, *end = list + n;
  while (p < end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    size_t len = (size_t)((comma ? comma : end) - p);
    const unsigned char *hit = server_alpn_find(in, inlen, p, len);
    if (hit) {
      *out = hit;
      *outlen = (unsigned char)len;
      return TLSEXT_OK;
    }
    if (comma == NULL) break;
    p = comma + 1;
  }
  return server_alpn_refuse(c, L, in, inlen, "no application protocol in common");
}

/* on_alpn(conn, {offered...}) -> chosen | nil (no ALPN) | false (refuse) */
static int server_alpn_by_handler(Conn *c, lua_State *L, const unsigned char **out, unsigned char *outlen,
                                  const unsigned char *in, unsigned inlen) {
  unsigned off = 0;
  int i = 0, rc;
  conn_push(L, c);
  lua_newtable(L);
  while (off < inlen && off + 1 + in[off] <= inlen) {
    lua_pushlstring(L, (const char *)in + off + 1, in[off]);
    lua_rawseti(L, -2, ++i);
    off += 1 + in[off];
  }
  if (bridge_pcall(L, 2, 1, &c->cb_error) != 0) return server_alpn_refuse(c, L, in, inlen, NULL);
  if (lua_isnil(L, -1)) {
    rc = TLSEXT_NOACK;
  } else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
    rc = server_alpn_refuse(c, L, in, inlen, "on_alpn refused every protocol");
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    size_t n;
    const char *p = lua_tolstring(L, -1, &n);
    const unsigned char *hit = server_alpn_find(in, inlen, p, n);
    if (hit) {
      *out = hit;
      *outlen = (unsigned char)n;
      rc = TLSEXT_OK;
    } else {
      lua_pushfstring(L, "on_alpn returned '%s', which the client did not offer", p);
      c->cb_error = lw_strdup(lua_tostring(L, -1));
      lua_pop(L, 1);
      rc = server_alpn_refuse(c, L, in, inlen, NULL);
    }
  } else {
    lua_pushfstring(L, "on_alpn must return a protocol name, nil or false (got %s)", luaL_typename(L, -1));
    if (c->cb_error == NULL) c->cb_error = lw_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    rc = server_alpn_refuse(c, L, in, inlen, NULL);
  }
  lua_pop(L, 1);
  return rc;
}

static int server_alpn_cb(WOLFSSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg) {
  Conn *c = conn_from_ssl(ssl);
  lua_State *L;
  int rc;
  (void)arg;
  if (c == NULL || (L = c->L) == NULL) return TLSEXT_NOACK;
  if (bridge_handler(L, c, "on_alpn")) return server_alpn_by_handler(c, L, out, outlen, in, inlen);
  if (!bridge_handler(L, c, "server_alpn")) return TLSEXT_NOACK;
  rc = server_alpn_by_list(c, L, out, outlen, in, inlen);
  lua_pop(L, 1);
  return rc;
}

/* ctx:set_server_alpn("h2,http/1.1" | nil): the server's protocols, preferred first */
static int server_ctx_set_alpn(lua_State *L) {
  Context *x = context_check(L, 1);
  if (!lua_isnil(L, 2)) luaL_checkstring(L, 2);
  if (x->role != ROLE_SERVER) return luaL_argerror(L, 1, "not a server context");
  LW_GETUV(L, 1);
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "server_alpn");
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- the certificate callback ------------------------------------------------------- */

/* on_certificate(conn) -> nil/true (go on) | false (refuse) | wolfssl.PAUSE (TLS 1.3).
 * wolfSSL can suspend this callback only in TLS 1.3 (-1 -> WANT_X509_LOOKUP, and the next
 * accept calls it again); in TLS 1.2 the same return breaks the handshake (item 5b), so
 * PAUSE there is a callback error that says to use the ClientHello hook instead. */
static int server_cert_cb(WOLFSSL *ssl, void *arg) {
  Conn *c = conn_from_ssl(ssl);
  lua_State *L;
  int rc = 1;
  (void)arg;
  if (c == NULL || (L = c->L) == NULL || !bridge_handler(L, c, "on_certificate")) return 1;
  conn_push(L, c);
  if (bridge_pcall(L, 1, 1, &c->cb_error) != 0) return 0;
  if (bridge_is_pause(L, -1)) {
    if (wolfSSL_version(ssl) == TLS1_3_VERSION) {
      c->flags |= CONN_PAUSED;
      rc = -1;
    } else {
      if (c->cb_error == NULL)
        c->cb_error = lw_strdup("on_certificate cannot pause a TLS 1.2 handshake (wolfSSL "
                                "supports that only in TLS 1.3); pause in on_client_hello instead");
      rc = 0;
    }
  } else if (lua_isnil(L, -1) || (lua_isboolean(L, -1) && lua_toboolean(L, -1))) {
    rc = 1;
  } else if (lua_isboolean(L, -1)) {
    session_reject(c, "on_certificate refused the handshake");
    rc = 0;
  } else {
    lua_pushfstring(L, "on_certificate must return nil, true, false or wolfssl.PAUSE (got %s)",
                    luaL_typename(L, -1));
    if (c->cb_error == NULL) c->cb_error = lw_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    rc = 0;
  }
  lua_pop(L, 1);
  return rc;
}

void server_context_init(WOLFSSL_CTX *ctx) {
  wolfSSL_CTX_set_servername_callback(ctx, server_sni_cb);
  wolfSSL_CTX_set_alpn_select_cb(ctx, server_alpn_cb, NULL);
  wolfSSL_CTX_set_cert_cb(ctx, server_cert_cb, NULL);
}

const luaL_Reg server_conn_methods[] = {
  {"server_name", server_conn_server_name},
  {NULL, NULL}
};

const luaL_Reg server_context_methods[] = {
  {"set_server_alpn", server_ctx_set_alpn},
  {NULL, NULL}
};
