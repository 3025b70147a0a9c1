/* Revocation: CRLs and OCSP stapling, as Context and Connection methods.
 *
 * CRLs: wolfSSL_CTX_LoadCRLBuffer verifies a CRL's signature while loading, so a CRL
 * loads only once its issuer is a trusted certificate (-190 otherwise, wolfssl-notes.md
 * item 11): an intermediate's CRL could not be loaded before the intermediate was seen.
 * Parsed as an X509_CRL and added with X509_STORE_add_crl instead, the CRL is checked
 * when it is used, against the issuer wolfSSL has then (a trusted CA, or an
 * intermediate it has just verified in the peer's chain). Measured on 5.5.4: a CRL from
 * the right issuer revokes; one signed by another key is ignored and the chain then
 * fails as having no CRL (-362), so a forged CRL cannot vouch for anything.
 *
 * OCSP stapling (RFC 6066 8): the client asks for a staple and wolfSSL checks it; the
 * server answers from bytes or a Lua function, through the status callback. */
#include <string.h>

#include "lwolfssl.h"
#include <wolfssl/openssl/pem.h>

/* ctx:enable_crl(): check every certificate of the peer's chain against the CRLs, so
 * each CA needs one (item 11). Only the whole chain can be asked for: once
 * X509_STORE_add_crl has added a CRL, wolfSSL 5.5.4 checks all (CHECKALL) anyway. */
static int revocation_enable_crl(lua_State *L) {
  Context *x = context_check(L, 1);
  if (wolfSSL_CTX_EnableCRL(x->ctx, WOLFSSL_CRL_CHECKALL | WOLFSSL_CRL_CHECK) != WOLFSSL_SUCCESS)
    return context_fail(L, "cannot enable CRL checking", 0);
  lua_pushboolean(L, 1);
  return 1;
}

/* ctx:add_crl(bytes, "pem" | "der") -> number of CRLs added | nil, message.
 * A PEM string may hold several CRLs. */
static int revocation_add_crl(lua_State *L) {
  Context *x = context_check(L, 1);
  size_t n;
  const char *data = luaL_checklstring(L, 2, &n);
  int fmt = context_format(L, 3), count = 0;
  WOLFSSL_X509_STORE *store = wolfSSL_CTX_get_cert_store(x->ctx);
  if (store == NULL) return context_fail(L, "context has no certificate store", 0);
  if (fmt == WOLFSSL_FILETYPE_ASN1) {
    const unsigned char *p = (const unsigned char *)data;
    WOLFSSL_X509_CRL *crl = wolfSSL_d2i_X509_CRL(NULL, p, (int)n);
    int ok = crl && wolfSSL_X509_STORE_add_crl(store, crl) == WOLFSSL_SUCCESS;
    wolfSSL_X509_CRL_free(crl);
    if (!ok) return context_fail(L, "cannot load CRL (not a DER CRL)", 0);
    count = 1;
  } else {
    /* one CRL per block: PEM_read_bio_X509_CRL consumes the whole BIO (5.5.4), so a
     * bundle read that way would load only its first CRL */
    static const char begin[] = "-----BEGIN X509 CRL-----", end[] = "-----END X509 CRL-----";
    const char *p = data, *stop = data + n, *b, *e;
    while ((b = memmem(p, (size_t)(stop - p), begin, sizeof begin - 1)) != NULL &&
           (e = memmem(b, (size_t)(stop - b), end, sizeof end - 1)) != NULL) {
      WOLFSSL_BIO *bio = wolfSSL_BIO_new_mem_buf(b, (int)(e + sizeof end - 1 - b));
      WOLFSSL_X509_CRL *crl = bio ? wolfSSL_PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
      int ok = crl && wolfSSL_X509_STORE_add_crl(store, crl) == WOLFSSL_SUCCESS;
      wolfSSL_X509_CRL_free(crl);
      wolfSSL_BIO_free(bio);
      if (!ok) return context_fail(L, "cannot load CRL (bad PEM CRL)", 0);
      count++;
      p = e + sizeof end - 1;
    }
    if (count == 0) return context_fail(L, "cannot load CRL (no PEM CRL found)", 0);
  }
  lua_pushinteger(L, count);
  return 1;
}

/* ctx:enable_ocsp_stapling(required) (client): ask every server for a stapled OCSP
 * response and check it; `required` fails a handshake without one. */
static int revocation_enable_stapling(lua_State *L) {
  Context *x = context_check(L, 1);
  if (wolfSSL_CTX_EnableOCSPStapling(x->ctx) != WOLFSSL_SUCCESS ||
      (lua_toboolean(L, 2) && wolfSSL_CTX_EnableOCSPMustStaple(x->ctx) != WOLFSSL_SUCCESS))
    return context_fail(L, "cannot enable OCSP stapling", 0);
  lua_pushboolean(L, 1);
  return 1;
}

/* The server's status callback: staple the context's response (bytes, or what the
 * function returns for this connection); no response -> no staple. */
static int revocation_status_cb(WOLFSSL *ssl, void *arg) {
  Conn *c = conn_from_ssl(ssl);
  lua_State *L = c ? c->L : NULL;
  const char *resp;
  size_t n = 0;
  unsigned char *copy;
  (void)arg;
  if (L == NULL || !bridge_handler(L, c, "ocsp_response")) return SSL_TLSEXT_ERR_NOACK;
  if (lua_isfunction(L, -1)) {
    if (!conn_push(L, c)) {
      lua_pop(L, 1);
      return SSL_TLSEXT_ERR_NOACK;
    }
    if (bridge_pcall(L, 1, 1, &c->cb_error) != 0) return SSL_TLSEXT_ERR_ALERT_FATAL;
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
      lua_pop(L, 1);
      if (c->cb_error == NULL) c->cb_error = lw_strdup("ocsp_response function must return a string or nil");
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
  }
  resp = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
  if (resp == NULL || n == 0) {
    lua_pop(L, 1);
    return SSL_TLSEXT_ERR_NOACK;
  }
  /* wolfSSL takes ownership of an XMALLOC'd copy (item 11) */
  copy = XMALLOC(n, NULL, DYNAMIC_TYPE_OPENSSL);
  if (copy) memcpy(copy, resp, n);
  lua_pop(L, 1);
  if (copy == NULL) return SSL_TLSEXT_ERR_NOACK;
  if (wolfSSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)n) != WOLFSSL_SUCCESS) {
    XFREE(copy, NULL, DYNAMIC_TYPE_OPENSSL);
    return SSL_TLSEXT_ERR_NOACK;
  }
  return SSL_TLSEXT_ERR_OK;
}

/* ctx:set_ocsp_response(bytes | function(conn) | nil) (server) */
static int revocation_set_response(lua_State *L) {
  Context *x = context_check(L, 1);
  if (!lua_isnoneornil(L, 2) && !lua_isfunction(L, 2)) luaL_checkstring(L, 2);
  LW_GETUV(L, 1);
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "ocsp_response");
  if (wolfSSL_CTX_set_tlsext_status_cb(x->ctx, lua_isnoneornil(L, 2) ? NULL : revocation_status_cb) !=
      WOLFSSL_SUCCESS)
    return context_fail(L, "cannot set the OCSP status callback", 0);
  lua_pushboolean(L, 1);
  return 1;
}

const luaL_Reg revocation_context_methods[] = {
  {"enable_crl", revocation_enable_crl},
  {"add_crl", revocation_add_crl},
  {"enable_ocsp_stapling", revocation_enable_stapling},
  {"set_ocsp_response", revocation_set_response},
  {NULL, NULL}
};

/* conn:use_ocsp_stapling() (client, before the handshake): send status_request. */
static int revocation_use_stapling(lua_State *L) {
  Conn *c = conn_check(L, 1);
  if (wolfSSL_UseOCSPStapling(c->ssl, WOLFSSL_CSR_OCSP, 0) != WOLFSSL_SUCCESS)
    return luaL_error(L, "cannot request OCSP stapling");
  lua_pushboolean(L, 1);
  return 1;
}

const luaL_Reg revocation_conn_methods[] = {
  {"use_ocsp_stapling", revocation_use_stapling},
  {NULL, NULL}
};
