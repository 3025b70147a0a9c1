/* What a Connection can tell about itself: negotiated parameters, the peer's
 * certificates, the verification outcome. Registered into the Connection methods. */
#include <ctype.h>
#include <string.h>

#include "lwolfssl.h"

static void info_set(lua_State *L, const char *k, const char *v) {
  if (v == NULL) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* "SECP256R1" -> "secp256r1": the IANA registry spells groups in lower case. */
static void info_set_lower(lua_State *L, const char *k, const char *v) {
  char buf[64];
  size_t i;
  if (v == NULL) return;
  for (i = 0; v[i] && i + 1 < sizeof buf; i++) buf[i] = (char)tolower((unsigned char)v[i]);
  buf[i] = '\0';
  info_set(L, k, buf);
}

/* Did verification run and pass? (mode on, a certificate seen, nothing failed, nothing
 * overridden by on_verify). The binding's verify callback decides every certificate,
 * so wolfSSL's own verify result is not consulted: it also counts the failures the
 * context's policy relaxed (check_eku, check_name_constraints). */
static int info_verified(Conn *c) {
  return c->verify_seen && c->verify_err == 0 && c->verify_override == 0 && (c->flags & CONN_DONE);
}

/* info() -> {version, cipher, cipher_name, group, alpn, server_name, resumed,
 *            verified, verify_error}; nil fields are not negotiated (yet). */
static int info_info(lua_State *L) {
  Conn *c = conn_check(L, 1);
  WOLFSSL *ssl = c->ssl;
  char *alpn = NULL;
  unsigned short alpn_len = 0;
  int done = c->flags & CONN_DONE;
  lua_createtable(L, 0, 10);
  if (done) {
    int suite = wolfSSL_get_current_cipher_suite(ssl);
    info_set(L, "version", wolfSSL_get_version(ssl));
    info_set(L, "cipher", wolfSSL_get_cipher_name_iana_from_suite((byte)(suite >> 8), (byte)suite));
    info_set(L, "cipher_name", wolfSSL_get_cipher_name(ssl));
    info_set_lower(L, "group", wolfSSL_get_curve_name(ssl));
    if (wolfSSL_ALPN_GetProtocol(ssl, &alpn, &alpn_len) == WOLFSSL_SUCCESS && alpn) {
      lua_pushlstring(L, alpn, alpn_len);
      lua_setfield(L, -2, "alpn");
    }
    lua_pushboolean(L, wolfSSL_session_reused(ssl));
    lua_setfield(L, -2, "resumed");
  }
  if (c->role == ROLE_SERVER) info_set(L, "server_name", wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME));
  else if (c->host) info_set(L, "server_name", c->host);
  lua_pushboolean(L, info_verified(c));
  lua_setfield(L, -2, "verified");
  if (c->verify_err) info_set(L, "verify_error", verify_error_name(c->verify_err));
  else if (c->verify_override) info_set(L, "verify_error", verify_error_name(c->verify_override));
  return 1;
}

/* The peer's chain as sent (leaf first), each a Certificate of its own. */
static int info_push_chain(lua_State *L, Conn *c, int leaf_only) {
  WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(c->ssl);
  int i, n = chain ? wolfSSL_get_chain_count(chain) : 0;
  if (leaf_only) {
    if (n == 0) {
      lua_pushnil(L);
      return 1;
    }
    return x509_push_der(L, wolfSSL_get_chain_cert(chain, 0), wolfSSL_get_chain_length(chain, 0));
  }
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    x509_push_der(L, wolfSSL_get_chain_cert(chain, i), wolfSSL_get_chain_length(chain, i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int info_peer_certificate(lua_State *L) {
  return info_push_chain(L, conn_check(L, 1), 1);
}

static int info_peer_chain(lua_State *L) {
  return info_push_chain(L, conn_check(L, 1), 0);
}

const luaL_Reg conn_info_methods[] = {
  {"info", info_info},
  {"peer_certificate", info_peer_certificate},
  {"peer_chain", info_peer_chain},
  {NULL, NULL}
};
