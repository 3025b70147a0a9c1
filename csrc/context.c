/* Context userdata over WOLFSSL_CTX. The Lua layer (init.lua) decides defaults and
 * reads files; these functions load bytes and set switches, returning nil, message
 * on a value wolfSSL refuses. */
#include <string.h>

#include "lwolfssl.h"
#include <wolfssl/openssl/ecdsa.h>
#include <wolfssl/openssl/evp.h>

int context_fail(lua_State *L, const char *fmt, int code) {
  char buf[128];
  lua_pushnil(L);
  if (code < 0) {
    wolfSSL_ERR_error_string_n((unsigned long)-code, buf, sizeof buf);
    lua_pushfstring(L, fmt, buf);
  } else {
    lua_pushstring(L, fmt);
  }
  return 2;
}

Context *context_check(lua_State *L, int i) {
  Context *x = luaL_checkudata(L, i, LW_CONTEXT);
  if (x->ctx == NULL) luaL_argerror(L, i, "context is freed");
  return x;
}

int context_format(lua_State *L, int i) {
  static const char *const names[] = {"pem", "der", NULL};
  return luaL_checkoption(L, i, "pem", names) == 0 ? WOLFSSL_FILETYPE_PEM : WOLFSSL_FILETYPE_ASN1;
}

int context_new(lua_State *L) {
  static const char *const roles[] = {"client", "server", NULL};
  int role = luaL_checkoption(L, 1, NULL, roles);
  Context *x = lw_newuserdata(L, sizeof *x);
  memset(x, 0, sizeof *x);
  x->role = role;
  luaL_getmetatable(L, LW_CONTEXT);
  lua_setmetatable(L, -2);
  lua_newtable(L); /* handlers and Lua-side settings live in the uservalue */
  lua_setuservalue(L, -2);
  /* The version-flexible methods; the range is narrowed by set_versions. */
  x->ctx = wolfSSL_CTX_new(role == ROLE_CLIENT ? wolfSSLv23_client_method()
                                               : wolfSSLv23_server_method());
  if (x->ctx == NULL) return luaL_error(L, "wolfSSL_CTX_new failed (out of memory?)");
  /* The binding owns the verify decision; start from "none" and let set_verify say. */
  wolfSSL_CTX_set_verify(x->ctx, WOLFSSL_VERIFY_NONE, NULL);
  session_context_init(x->ctx, role); /* sessions, SNI, ALPN, certificate callbacks */
  return 1;
}

static int context_free(lua_State *L) {
  Context *x = luaL_checkudata(L, 1, LW_CONTEXT);
  if (x->ctx) {
    /* Connections hold their own reference (wolfSSL_new up-refs the CTX), so this only
     * drops ours; the CTX goes when its last WOLFSSL does (wolfssl-notes.md item 10). */
    wolfSSL_CTX_free(x->ctx);
    x->ctx = NULL;
  }
  return 0;
}

static int context_tostring(lua_State *L) {
  Context *x = luaL_checkudata(L, 1, LW_CONTEXT);
  lua_pushfstring(L, "wolfssl.Context (%s): %p", x->role == ROLE_CLIENT ? "client" : "server",
                  (void *)x);
  return 1;
}

static int context_role(lua_State *L) {
  Context *x = context_check(L, 1);
  lua_pushstring(L, x->role == ROLE_CLIENT ? "client" : "server");
  return 1;
}

/* set_versions(min, max) with protocol numbers (0x0303, 0x0304). */
static int context_set_versions(lua_State *L) {
  Context *x = context_check(L, 1);
  int min = (int)luaL_checkinteger(L, 2), max = (int)luaL_checkinteger(L, 3);
  if (wolfSSL_CTX_set_min_proto_version(x->ctx, min) != WOLFSSL_SUCCESS ||
      wolfSSL_CTX_set_max_proto_version(x->ctx, max) != WOLFSSL_SUCCESS)
    return context_fail(L, "unsupported protocol version range", 0);
  lua_pushboolean(L, 1);
  return 1;
}

/* use_certificate(bytes, "pem"|"der"): a PEM chain (leaf first) or DER certificates
 * concatenated, leaf first. */
static int context_use_certificate(lua_State *L) {
  Context *x = context_check(L, 1);
  size_t n;
  const char *data = luaL_checklstring(L, 2, &n);
  int fmt = context_format(L, 3);
  int rc = wolfSSL_CTX_use_certificate_chain_buffer_format(x->ctx, (const unsigned char *)data,
                                                          (long)n, fmt);
  if (rc != WOLFSSL_SUCCESS) return context_fail(L, "cannot load certificate: %s", rc);
  x->has_cert = 1;
  lua_pushboolean(L, 1);
  return 1;
}

/* wolfSSL_CTX_check_private_key catches an RSA mismatch and a wrong key type, but
 * accepts any EC key of the certificate's curve (measured on 5.5.4). For EC keys prove
 * possession instead: sign with the loaded key, verify with the certificate's key. */
static int key_possessed(WOLFSSL_EVP_PKEY *priv, WOLFSSL_X509 *cert) {
  WOLFSSL_EVP_PKEY *pub;
  WOLFSSL_EC_KEY *pe = NULL, *ue = NULL;
  WOLFSSL_ECDSA_SIG *sig = NULL;
  static const unsigned char digest[32] = "lua-wolfssl key possession test";
  int ok;
  if (priv == NULL || wolfSSL_EVP_PKEY_id(priv) != EVP_PKEY_EC) return 1;
  pub = cert ? wolfSSL_X509_get_pubkey(cert) : NULL;
  ok = pub && (pe = wolfSSL_EVP_PKEY_get1_EC_KEY(priv)) && (ue = wolfSSL_EVP_PKEY_get1_EC_KEY(pub)) &&
       (sig = wolfSSL_ECDSA_do_sign(digest, sizeof digest, pe)) &&
       wolfSSL_ECDSA_do_verify(digest, sizeof digest, sig, ue) == 1;
  wolfSSL_ECDSA_SIG_free(sig);
  wolfSSL_EC_KEY_free(pe);
  wolfSSL_EC_KEY_free(ue);
  wolfSSL_EVP_PKEY_free(pub);
  return ok;
}

static int key_matches(WOLFSSL_CTX *ctx) {
  return wolfSSL_CTX_check_private_key(ctx) == WOLFSSL_SUCCESS &&
         key_possessed(wolfSSL_CTX_get0_privatekey(ctx), wolfSSL_CTX_get0_certificate(ctx));
}

/* Load the key at stack index `data` (format `fmt`, password string or function at `pw`,
 * 0 for none) into ctx, and check it against the certificate already loaded there (if
 * `check`). wolfSSL loads a traditional encrypted
 * PEM key "successfully" with a wrong password and accepts a key that does not match
 * the certificate (wolfssl-notes.md item 11), so the pair is always checked here, at
 * load time, not in the first handshake. 0 on success, else nil, message pushed (2). */
int key_load(lua_State *L, WOLFSSL_CTX *ctx, int data, int fmt, int pw, int check) {
  size_t n;
  const char *bytes = luaL_checklstring(L, data, &n);
  PasswordArg pa;
  int rc;
  memset(&pa, 0, sizeof pa);
  pa.L = L;
  if (pw && lua_isfunction(L, pw)) pa.fn = pw;
  else if (pw && !lua_isnoneornil(L, pw)) pa.pw = luaL_checklstring(L, pw, &pa.pwlen);
  wolfSSL_CTX_set_default_passwd_cb(ctx, bridge_password_cb);
  wolfSSL_CTX_set_default_passwd_cb_userdata(ctx, &pa);
  rc = wolfSSL_CTX_use_PrivateKey_buffer(ctx, (const unsigned char *)bytes, (long)n, fmt);
  wolfSSL_CTX_set_default_passwd_cb(ctx, NULL);
  wolfSSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
  if (pa.err) {
    lua_pushnil(L);
    lua_pushfstring(L, "password callback failed: %s", pa.err);
    lw_free_str(&pa.err);
    return 2;
  }
  if (rc != WOLFSSL_SUCCESS) {
    if (pa.called) return context_fail(L, "cannot decrypt private key: wrong password?", 0);
    if (memmem(bytes, n, "ENCRYPTED", 9))
      return context_fail(L, "private key is encrypted and no password was given", 0);
    return context_fail(L, "cannot load private key: %s", rc);
  }
  if (check && !key_matches(ctx))
    return context_fail(L, pa.called ? "private key does not match the certificate "
                                       "(or the password is wrong)"
                                     : "private key does not match the certificate",
                        0);
  return 0;
}

/* use_key(bytes, "pem"|"der", [password string | function]) */
static int context_use_key(lua_State *L) {
  Context *x = context_check(L, 1);
  int r = key_load(L, x->ctx, 2, context_format(L, 3), 4, x->has_cert);
  if (r) return r;
  lua_pushboolean(L, 1);
  return 1;
}

/* load_ca(bytes, "pem"|"der"): trust anchors from memory. */
static int context_load_ca(lua_State *L) {
  Context *x = context_check(L, 1);
  size_t n;
  const char *data = luaL_checklstring(L, 2, &n);
  int rc = wolfSSL_CTX_load_verify_buffer(x->ctx, (const unsigned char *)data, (long)n,
                                          context_format(L, 3));
  if (rc != WOLFSSL_SUCCESS) return context_fail(L, "cannot load CA certificates: %s", rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* load_ca_dir(path): every certificate file in a directory. */
static int context_load_ca_dir(lua_State *L) {
  Context *x = context_check(L, 1);
  const char *dir = luaL_checkstring(L, 2);
  int rc = wolfSSL_CTX_load_verify_locations(x->ctx, NULL, dir);
  if (rc != WOLFSSL_SUCCESS) return context_fail(L, "cannot load CA directory: %s", rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int context_load_system_ca(lua_State *L) {
  Context *x = context_check(L, 1);
  int rc = wolfSSL_CTX_load_system_CA_certs(x->ctx);
  if (rc != WOLFSSL_SUCCESS) return context_fail(L, "cannot load the system CA store: %s", rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* set_verify("none"|"peer"|"required", depth). The mode is applied per connection,
 * together with the binding's verify callback (verify.c). */
static int context_set_verify(lua_State *L) {
  static const char *const modes[] = {"none", "peer", "required", NULL};
  Context *x = context_check(L, 1);
  x->verify = luaL_checkoption(L, 2, NULL, modes);
  if (!lua_isnoneornil(L, 3)) wolfSSL_CTX_set_verify_depth(x->ctx, (int)luaL_checkinteger(L, 3));
  lua_pushboolean(L, 1);
  return 1;
}

static int context_set_ciphers(lua_State *L) {
  Context *x = context_check(L, 1);
  const char *list = luaL_checkstring(L, 2);
  if (wolfSSL_CTX_set_cipher_list(x->ctx, list) != WOLFSSL_SUCCESS)
    return context_fail(L, "no usable cipher suite in the list", 0);
  lua_pushboolean(L, 1);
  return 1;
}

/* set_groups({ids...}): IANA group numbers, in preference order; the first one is the
 * group of the TLS 1.3 key share a client sends. */
static int context_set_groups(lua_State *L) {
  Context *x = context_check(L, 1);
  int ids[16], n = 0, i, rc;
  luaL_checktype(L, 2, LUA_TTABLE);
  for (i = 1; n < 16; i++) {
    lua_rawgeti(L, 2, i);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      break;
    }
    ids[n++] = (int)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
  }
  if (n == 0) return luaL_argerror(L, 2, "empty group list");
  /* set_groups orders the TLS 1.3 key shares but refuses a 1.2-only CTX (-173);
   * UseSupportedCurve fills supported_groups for TLS 1.2 (wolfssl-notes.md item 8). */
  rc = wolfSSL_CTX_set_groups(x->ctx, ids, n);
  if (rc != WOLFSSL_SUCCESS) {
    for (i = 0; i < n; i++)
      if (wolfSSL_CTX_UseSupportedCurve(x->ctx, (word16)ids[i]) != WOLFSSL_SUCCESS)
        return context_fail(L, "unsupported group", 0);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* set_handler(name, fn|nil) / handler(name): Lua values stored with the context. */
static int context_set_handler(lua_State *L) {
  context_check(L, 1);
  return bridge_set_handler(L);
}

static int context_handler(lua_State *L) {
  context_check(L, 1);
  return bridge_get_handler(L);
}

static const luaL_Reg context_methods[] = {
  {"role", context_role},
  {"set_versions", context_set_versions},
  {"use_certificate", context_use_certificate},
  {"use_key", context_use_key},
  {"load_ca", context_load_ca},
  {"load_ca_dir", context_load_ca_dir},
  {"load_system_ca", context_load_system_ca},
  {"set_verify", context_set_verify},
  {"set_ciphers", context_set_ciphers},
  {"set_groups", context_set_groups},
  {"set_handler", context_set_handler},
  {"handler", context_handler},
  {"new_connection", conn_new},
  {NULL, NULL}
};

static const luaL_Reg context_meta[] = {
  {"__gc", context_free},
  {"__tostring", context_tostring},
  {NULL, NULL}
};

/* Leaves the methods table on the stack (core.c adds the feature files' methods). */
void context_open(lua_State *L) { lw_class(L, LW_CONTEXT, context_meta, context_methods); }
