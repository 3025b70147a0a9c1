/* Server-side resumption state: session-ticket keys and the external session cache.
 *
 * Tickets are encrypted through wolfSSL's OpenSSL-style ticket-key callback, not with
 * wolfSSL_CTX_set_tlsext_ticket_keys, which resumed only about half of the time across
 * contexts (wolfssl-notes.md item 6). The callback's decrypt side can run up to 27 times
 * in one TLS 1.3 handshake (unknown key names), so it stays cheap:
 *  - ticket_keys (wolfssl.ticket_keys(secret, rotation)): keys are derived in C with
 *    HKDF-SHA256 from the shared secret and the rotation period number, and cached for
 *    the previous, current and next period; a lookup is a memcmp of 16-byte names. Every
 *    server given the same secret derives the same keys, so a fleet (or OpenResty's
 *    workers) resume each other's sessions;
 *  - on_ticket_key(conn, name): Lua decides, and its answer is cached per connection.
 * Ticket IVs come from wolfSSL's global RNG through lw_rand_bytes, which reseeds it
 * after fork (item 10).
 *
 * A ticket carries no certificate, so a server resuming one cannot verify its client
 * again. Each key therefore comes as two: tickets of connections whose client was
 * verified are sealed with the second (its own AES and HMAC keys), the others with the
 * first, and the lowest bit of the IV says which was used. A resumed connection knows
 * from the key that opened its ticket whether the client was verified (session.c); a
 * flipped bit selects the other HMAC key, so wolfSSL rejects the ticket. A context that
 * requires a client certificate does not resume tickets of unverified clients.
 *
 * The external cache (on_session_store/lookup/remove) serves TLS 1.2 session ids; TLS 1.3
 * resumption always uses tickets (item 6). wolfSSL's session cache mode is switched to
 * "server, no internal cache" once any of the three is set. */
#include <limits.h>
#include <string.h>
#include <time.h>

#include "lwolfssl.h"
#include <wolfssl/openssl/evp.h>
#include <wolfssl/openssl/hmac.h>
#include <wolfssl/wolfcrypt/hmac.h>

#define TICKETS_MT "wolfssl.TicketKeys" /* the C state, kept in the context's uservalue */
#define NAME_SZ 16
#define KEY_SZ 32

/* keys[0]: tickets of unverified clients, keys[1]: of verified ones */
typedef struct TicketEntry {
  long period;
  unsigned char name[NAME_SZ], keys[2][2 * KEY_SZ]; /* AES key | HMAC key */
} TicketEntry;

typedef struct TicketKeys {
  int lua;                  /* 1: on_ticket_key decides; 0: derived keys below */
  unsigned char prk[32];    /* HKDF-Extract(salt, secret) */
  long rotation;            /* seconds per key; 0: one key forever */
  long cached;              /* period e[1] was derived for */
  TicketEntry e[3];         /* periods cached-1, cached, cached+1 */
} TicketKeys;

static const unsigned char tickets_salt[] = "lua-wolfssl ticket keys v1";

/* name | aes key | hmac key | verified aes key | verified hmac key of one period, from the
 * extracted secret (HKDF output grows by appending: the first three are those of
 * lua-wolfssl before the verified keys existed, so its tickets still resume) */
static int tickets_derive(const unsigned char *prk, long period, TicketEntry *e) {
  unsigned char info[8 + 6] = "period", okm[NAME_SZ + 4 * KEY_SZ];
  int i;
  for (i = 0; i < 8; i++) info[6 + i] = (unsigned char)((unsigned long long)period >> (56 - 8 * i));
  if (wc_HKDF_Expand(WC_SHA256, prk, 32, info, sizeof info, okm, sizeof okm) != 0) return -1;
  e->period = period;
  memcpy(e->name, okm, NAME_SZ);
  memcpy(e->keys, okm + NAME_SZ, 4 * KEY_SZ);
  memset(okm, 0, sizeof okm);
  return 0;
}

static long tickets_period(const TicketKeys *t) {
  return t->rotation > 0 ? lw_now() / t->rotation : 0;
}

/* Make e[] hold the periods around now. 0, or -1 if HKDF failed. */
static int tickets_refresh(TicketKeys *t) {
  long p = tickets_period(t);
  int i;
  if (p == t->cached) return 0;
  for (i = 0; i < 3; i++)
    if (tickets_derive(t->prk, p - 1 + i, &t->e[i]) != 0) return -1;
  t->cached = p;
  return 0;
}

/* A secret of any length -> the AES and HMAC keys, then the verified ones (on_ticket_key) */
static int tickets_keys_from_secret(const unsigned char *secret, size_t n, unsigned char keys[4 * KEY_SZ]) {
  return wc_HKDF(WC_SHA256, secret, (word32)n, tickets_salt, sizeof tickets_salt - 1,
                 (const unsigned char *)"on_ticket_key", 13, keys, 4 * KEY_SZ);
}

static int tickets_init_cipher(WOLFSSL_EVP_CIPHER_CTX *ectx, WOLFSSL_HMAC_CTX *hctx, const unsigned char *aes,
                               const unsigned char *hmac, unsigned char *iv, int enc) {
  int ok = enc ? wolfSSL_EVP_EncryptInit_ex(ectx, wolfSSL_EVP_aes_256_cbc(), NULL, aes, iv)
               : wolfSSL_EVP_DecryptInit_ex(ectx, wolfSSL_EVP_aes_256_cbc(), NULL, aes, iv);
  return ok == WOLFSSL_SUCCESS &&
         wolfSSL_HMAC_Init_ex(hctx, hmac, KEY_SZ, wolfSSL_EVP_sha256(), NULL) == WOLFSSL_SUCCESS;
}

/* on_ticket_key(conn, nil) -> name (16 bytes), secret | on_ticket_key(conn, name) ->
 * secret | nil. Returns 1 with keys filled, 0 for an unknown name, -1 on error. */
static int tickets_ask_lua(Conn *c, unsigned char *name, unsigned char keys[4 * KEY_SZ], int enc) {
  lua_State *L = c->L;
  ConnExtra *x = session_extra(c);
  size_t n, sn;
  const char *s;
  int rc = -1;
  if (x == NULL || L == NULL) return -1;
  if (!enc && x->tk_state && memcmp(x->tk_name, name, NAME_SZ) == 0) {
    if (x->tk_state == 2) return 0;
    memcpy(keys, x->tk_keys, 4 * KEY_SZ);
    return 1;
  }
  if (!bridge_handler(L, c, "on_ticket_key")) return -1;
  conn_push(L, c);
  if (enc) lua_pushnil(L);
  else lua_pushlstring(L, (const char *)name, NAME_SZ);
  if (bridge_pcall(L, 2, 2, &c->cb_error) != 0) return -1;
  if (enc) { /* types first: lua_tolstring would turn a number into a string in place */
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING || (lua_tolstring(L, -2, &n), n != NAME_SZ)) {
      if (c->cb_error == NULL)
        c->cb_error = lw_strdup("on_ticket_key(conn, nil) must return a 16-byte name and a secret");
    } else if ((s = lua_tolstring(L, -1, &sn)), sn < 32) {
      if (c->cb_error == NULL) c->cb_error = lw_strdup("on_ticket_key: the secret must be at least 32 bytes");
    } else if (tickets_keys_from_secret((const unsigned char *)s, sn, keys) == 0) {
      memcpy(name, lua_tostring(L, -2), NAME_SZ);
      rc = 1;
    }
  } else if (lua_isnil(L, -2)) {
    rc = 0;
  } else if (lua_type(L, -2) != LUA_TSTRING || (s = lua_tolstring(L, -2, &sn), sn < 32)) {
    if (c->cb_error == NULL)
      c->cb_error = lw_strdup("on_ticket_key(conn, name) must return the secret (at least 32 bytes) or nil");
  } else if (tickets_keys_from_secret((const unsigned char *)s, sn, keys) == 0) {
    rc = 1;
  }
  lua_pop(L, 2);
  if (!enc && rc >= 0) {
    memcpy(x->tk_name, name, NAME_SZ);
    x->tk_state = rc == 1 ? 1 : 2;
    if (rc == 1) memcpy(x->tk_keys, keys, 4 * KEY_SZ);
  }
  return rc;
}

/* wolfSSL's OpenSSL-style ticket key callback: 1 use these keys, 2 use them and issue a
 * fresh ticket, 0 unknown name (full handshake), -1 fail. */
static int tickets_cb(WOLFSSL *ssl, unsigned char *name, unsigned char *iv, WOLFSSL_EVP_CIPHER_CTX *ectx,
                      WOLFSSL_HMAC_CTX *hctx, int enc) {
  Conn *c = conn_from_ssl(ssl);
  TicketKeys *t = wolfSSL_CTX_get_TicketEncCtx(wolfSSL_get_SSL_CTX(ssl));
  ConnExtra *x;
  unsigned char keys[4 * KEY_SZ];
  int i, rc = 0, family;
  if (t == NULL || c == NULL || (x = session_extra(c)) == NULL) return -1;
  if (enc) {
    if (lw_rand_bytes(iv, WOLFSSL_TICKET_IV_SZ) != 0) return -1;
    family = resumed_peer_verified(c->L, c) ? 1 : 0;
    iv[0] = (unsigned char)((iv[0] & 0xFE) | family);
  } else {
    family = iv[0] & 1;
    if (!family && (wolfSSL_get_verify_mode(ssl) & WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT)) return 0;
  }
  if (t->lua) {
    rc = tickets_ask_lua(c, name, keys, enc);
    if (rc == 1 && !tickets_init_cipher(ectx, hctx, keys + 2 * KEY_SZ * family, keys + 2 * KEY_SZ * family + KEY_SZ,
                                        iv, enc))
      rc = -1;
    memset(keys, 0, sizeof keys);
  } else if (tickets_refresh(t) != 0) {
    return -1;
  } else if (enc) {
    memcpy(name, t->e[1].name, NAME_SZ);
    rc = tickets_init_cipher(ectx, hctx, t->e[1].keys[family], t->e[1].keys[family] + KEY_SZ, iv, 1) ? 1 : -1;
  } else {
    for (i = 0; i < 3; i++) {
      if (memcmp(name, t->e[i].name, NAME_SZ) != 0) continue;
      if (!tickets_init_cipher(ectx, hctx, t->e[i].keys[family], t->e[i].keys[family] + KEY_SZ, iv, 0)) return -1;
      rc = i == 1 ? 1 : 2; /* a neighbour period's key: re-issue under the current one */
      break;
    }
  }
  if (!enc && rc > 0) x->tk_family = family + 1; /* for the connection, if it resumes */
  return rc;
}

static int tickets_gc(lua_State *L) {
  TicketKeys *t = luaL_checkudata(L, 1, TICKETS_MT);
  memset(t, 0, sizeof *t);
  return 0;
}

/* The context's TicketKeys, created and installed on first use. */
static TicketKeys *tickets_state(lua_State *L, Context *x) {
  TicketKeys *t;
  LW_GETUV(L, 1);
  lua_getfield(L, -1, TICKETS_MT);
  t = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (t == NULL) {
    t = lw_newuserdata(L, sizeof *t);
    memset(t, 0, sizeof *t);
    t->cached = LONG_MIN;
    if (luaL_newmetatable(L, TICKETS_MT)) {
      lua_pushcfunction(L, tickets_gc);
      lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, TICKETS_MT); /* the context's uservalue keeps it alive */
    if (wolfSSL_CTX_set_tlsext_ticket_key_cb(x->ctx, tickets_cb) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_TicketEncCtx(x->ctx, t) != WOLFSSL_SUCCESS)
      luaL_error(L, "cannot install the ticket key callback");
  }
  lua_pop(L, 1);
  return t;
}

/* ctx:set_ticket_keys(secret, rotation_seconds): derive ticket keys from a shared secret */
static int tickets_ctx_set_keys(lua_State *L) {
  Context *x = context_check(L, 1);
  size_t n;
  const char *secret = luaL_checklstring(L, 2, &n);
  lua_Integer rotation = luaL_optinteger(L, 3, 0);
  TicketKeys *t;
  luaL_argcheck(L, n >= 16, 2, "the secret must be at least 16 bytes");
  luaL_argcheck(L, rotation >= 0, 3, "must not be negative");
  if (x->role != ROLE_SERVER) return luaL_argerror(L, 1, "not a server context");
  t = tickets_state(L, x);
  t->lua = 0;
  t->rotation = (long)rotation;
  t->cached = LONG_MIN;
  if (wc_HKDF_Extract(WC_SHA256, tickets_salt, sizeof tickets_salt - 1, (const unsigned char *)secret, (word32)n,
                      t->prk) != 0)
    return luaL_error(L, "HKDF failed");
  lua_pushboolean(L, 1);
  return 1;
}

/* ctx:use_ticket_key_handler(): tickets are keyed by on_ticket_key */
static int tickets_ctx_use_handler(lua_State *L) {
  Context *x = context_check(L, 1);
  if (x->role != ROLE_SERVER) return luaL_argerror(L, 1, "not a server context");
  tickets_state(L, x)->lua = 1;
  lua_pushboolean(L, 1);
  return 1;
}

/* core.ticket_key_name(secret, rotation, time) -> the 16-byte name servers sharing this
 * secret give tickets at that time (to check a fleet's configuration, and for tests) */
static int tickets_key_name(lua_State *L) {
  size_t n;
  const char *secret = luaL_checklstring(L, 1, &n);
  lua_Integer rotation = luaL_optinteger(L, 2, 0);
  lua_Integer when = luaL_optinteger(L, 3, lw_now());
  unsigned char prk[32];
  TicketEntry e;
  if (wc_HKDF_Extract(WC_SHA256, tickets_salt, sizeof tickets_salt - 1, (const unsigned char *)secret, (word32)n,
                      prk) != 0 ||
      tickets_derive(prk, rotation > 0 ? (long)(when / rotation) : 0, &e) != 0)
    return luaL_error(L, "HKDF failed");
  lua_pushlstring(L, (const char *)e.name, NAME_SZ);
  memset(&e, 0, sizeof e);
  return 1;
}

/* ---- external session cache (TLS 1.2 session ids) ------------------------------------- */

/* The server's new-session callback (session.c routes it here): on_session_store(conn,
 * id, sess). Returns 0: wolfSSL keeps its session, Lua gets its own copy. */
int tickets_session_new(WOLFSSL *ssl, WOLFSSL_SESSION *s) {
  Conn *c = conn_from_ssl(ssl);
  lua_State *L;
  unsigned int idlen = 0;
  const unsigned char *id;
  WOLFSSL_SESSION *dup;
  if (c == NULL || (L = c->L) == NULL || !bridge_handler(L, c, "on_session_store")) return 0;
  id = wolfSSL_SESSION_get_id(s, &idlen);
  dup = wolfSSL_SESSION_dup(s);
  if (dup == NULL || id == NULL || idlen == 0) {
    if (dup) wolfSSL_SESSION_free(dup);
    lua_pop(L, 1);
    return 0;
  }
  conn_push(L, c);
  lua_pushlstring(L, (const char *)id, idlen);
  session_push(L, dup, c); /* it records whether the client was verified */
  bridge_pcall(L, 3, 0, &c->cb_error);
  return 0;
}

/* on_session_remove(conn, id): the stored session has expired; forget it. */
static void tickets_session_expired(Conn *c, lua_State *L, const unsigned char *id, int len) {
  if (!bridge_handler(L, c, "on_session_remove")) return;
  conn_push(L, c);
  lua_pushlstring(L, (const char *)id, (size_t)len);
  bridge_pcall(L, 2, 0, &c->cb_error);
}

/* on_session_lookup(conn, id) -> Session | exported bytes | nil. A session past its
 * timeout is not handed to wolfSSL: on_session_remove hears about it instead. (wolfSSL's
 * own remove callback is not used: it fires whenever wolfSSL frees a session a lookup
 * returned, resumed or not, which is no reason to drop it from a cache; measured.) */
static WOLFSSL_SESSION *tickets_session_get(WOLFSSL *ssl, const unsigned char *id, int len, int *copy) {
  Conn *c = conn_from_ssl(ssl);
  lua_State *L;
  WOLFSSL_SESSION *s = NULL;
  SessionVerify v;
  ConnExtra *x;
  *copy = 0; /* wolfSSL frees what it gets (item 6) */
  if (c == NULL || (L = c->L) == NULL || !bridge_handler(L, c, "on_session_lookup")) return NULL;
  conn_push(L, c);
  lua_pushlstring(L, (const char *)id, (size_t)len);
  if (bridge_pcall(L, 2, 1, &c->cb_error) != 0) return NULL;
  memset(&v, 0, sizeof v);
  s = session_from_value(L, -1, &c->cb_error, &v); /* a reference of its own for wolfSSL */
  lua_pop(L, 1);
  if (s && wolfSSL_SESSION_get_time(s) + wolfSSL_SESSION_get_timeout(s) < (long)time(NULL)) {
    wolfSSL_SESSION_free(s);
    resumed_free(&v);
    tickets_session_expired(c, L, id, len);
    return NULL;
  }
  /* a server that requires a verified client certificate does not resume a session
   * whose client was not verified (made by on_verify accepting an error, or by another
   * context): the full handshake asks for the certificate */
  if (s && v.known && !v.verified && (wolfSSL_get_verify_mode(ssl) & WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT)) {
    wolfSSL_SESSION_free(s);
    resumed_free(&v);
    return NULL;
  }
  if (s && (x = session_extra(c)) != NULL) {
    resumed_free(&x->looked_up);
    x->looked_up = v; /* the connection reports it if it resumes this session */
  } else {
    resumed_free(&v);
  }
  return s;
}

/* ctx:use_session_store(): the server's TLS 1.2 session-id cache lives in Lua */
static int tickets_ctx_use_store(lua_State *L) {
  Context *x = context_check(L, 1);
  if (x->role != ROLE_SERVER) return luaL_argerror(L, 1, "not a server context");
  wolfSSL_CTX_set_session_cache_mode(x->ctx, WOLFSSL_SESS_CACHE_SERVER | WOLFSSL_SESS_CACHE_NO_INTERNAL);
  wolfSSL_CTX_sess_set_get_cb(x->ctx, tickets_session_get);
  lua_pushboolean(L, 1);
  return 1;
}

const luaL_Reg tickets_context_methods[] = {
  {"set_ticket_keys", tickets_ctx_set_keys},
  {"use_ticket_key_handler", tickets_ctx_use_handler},
  {"use_session_store", tickets_ctx_use_store},
  {NULL, NULL}
};

const luaL_Reg tickets_functions[] = {
  {"ticket_key_name", tickets_key_name},
  {NULL, NULL}
};
