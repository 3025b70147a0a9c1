/* Verification of resumed connections. A resumed handshake verifies no certificate.
 * wolfSSL's session keeps only wolfSSL's own X509 result (peerVerifyRet, which
 * wolfSSL_get_verify_result returns again on resumption; measured on 5.5.4): it is 0,
 * "ok", after verify = none, and knows nothing of the binding's host-name check, policy
 * and relaxations, nor of the name checked. So, as OpenSSL does with its own result
 * (stored in the session; Python's ssl relies on it), each Session carries the
 * outcome of the handshake that made it (SessionVerify: verified or not, the error, the
 * host name it was checked against, the verified chain), in memory and in its export,
 * and a connection that resumes it reports that outcome in its verify fields:
 *  - client: verified only if the session was verified for the same server_name
 *    (compared as the host check compares: DNS names without case, IP literals as
 *    addresses); else session_not_verified / session_for_other_host / the error
 *    on_verify accepted. wolfSSL restores the peer's chain from the session
 *    (SESSION_CERTS), so peer_certificate() works; verified_chain() comes from the
 *    record.
 *  - server: tickets carry no certificate. tickets.c seals the tickets of verified
 *    clients with other keys, and tells which opened a ticket (ConnExtra.tk_family); the
 *    binding's session cache (session.lua) keeps the record with the exported session
 *    (ConnExtra.looked_up); wolfSSL's own process-wide cache keeps none
 *    (session_verification_unknown).
 * The export format is the binding's own: "LWS" 1 | flags | error (i32) | host length
 * (u16) | host | chain length (u32) | chain | i2d length (u32) | wolfSSL's i2d bytes.
 * Bare wolfSSL i2d bytes (lua-wolfssl exports before this format) still import, with
 * the outcome unknown. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lwolfssl.h"

#define EXPORT_MAGIC "LWS\x01" /* "LWS", format version 1 */
#define EXPORT_HDR 4
#define SV_KNOWN 1
#define SV_VERIFIED 2

void resumed_free(SessionVerify *v) {
  free(v->host);
  free(v->chain);
  memset(v, 0, sizeof *v);
}

int resumed_copy(SessionVerify *to, const SessionVerify *from) {
  resumed_free(to);
  *to = *from;
  to->host = NULL;
  to->chain = NULL;
  if (from->host && (to->host = lw_strdup(from->host)) == NULL) return -1;
  if (from->chain_len) {
    if ((to->chain = malloc(from->chain_len)) == NULL) return -1;
    memcpy(to->chain, from->chain, from->chain_len);
  }
  return 0;
}

/* The list of DER strings at the top of L's stack -> v->chain (3-byte length + DER each) */
static void resumed_chain_from_list(lua_State *L, SessionVerify *v) {
  size_t total = 0, off = 0, n;
  int i, k = (int)lua_rawlen(L, -1);
  for (i = 1; i <= k; i++) {
    lua_rawgeti(L, -1, i);
    if (lua_type(L, -1) == LUA_TSTRING && (lua_tolstring(L, -1, &n), n < (1u << 24))) total += 3 + n;
    lua_pop(L, 1);
  }
  if (total == 0 || (v->chain = malloc(total)) == NULL) return;
  for (i = 1; i <= k; i++) {
    const char *d;
    lua_rawgeti(L, -1, i);
    if (lua_type(L, -1) == LUA_TSTRING && (d = lua_tolstring(L, -1, &n), n < (1u << 24))) {
      v->chain[off] = (unsigned char)(n >> 16);
      v->chain[off + 1] = (unsigned char)(n >> 8);
      v->chain[off + 2] = (unsigned char)n;
      memcpy(v->chain + off + 3, d, n);
      off += 3 + n;
    }
    lua_pop(L, 1);
  }
  v->chain_len = off;
}

/* v->chain -> a list of DER strings pushed on L (a malformed chain stops early) */
static void resumed_chain_push(lua_State *L, const SessionVerify *v) {
  size_t off = 0;
  int k = 0;
  lua_newtable(L);
  while (off + 3 <= v->chain_len) {
    size_t n = (size_t)v->chain[off] << 16 | (size_t)v->chain[off + 1] << 8 | v->chain[off + 2];
    if (off + 3 + n > v->chain_len) break;
    lua_pushlstring(L, (const char *)v->chain + off + 3, n);
    lua_rawseti(L, -2, ++k);
    off += 3 + n;
  }
}

/* Same name as the connection checks, by the host check's rules: IP literals as parsed
 * addresses, DNS names without case (a trailing dot is already gone from both). */
static int resumed_same_host(const Conn *c, const char *host) {
  unsigned char ip[16];
  int len = 0;
  if (host == NULL) return 0;
  if (inet_pton(AF_INET, host, ip) == 1) len = 4;
  else if (inet_pton(AF_INET6, host, ip) == 1) len = 16;
  if (len || c->host_is_ip) return len == c->host_is_ip && memcmp(ip, c->host_ip, (size_t)len) == 0;
  return strcasecmp(host, c->host) == 0;
}

static void resumed_set_verified_chain(lua_State *L, Conn *c, const SessionVerify *v) {
  if (!lua_checkstack(L, 4) || !conn_push(L, c)) return;
  LW_GETUV(L, -1);
  if (v && v->chain_len) resumed_chain_push(L, v);
  else lua_pushnil(L);
  lua_setfield(L, -2, "verified_chain");
  lua_pop(L, 2);
}

/* A resumed connection verified no certificate: give it the outcome its session
 * records (see the top of this file). Once, when the handshake is done, or earlier
 * when a new session is made from it during the handshake (a renewed TLS 1.2 ticket). */
void resumed_apply(lua_State *L, Conn *c) {
  ConnExtra *x = session_extra(c);
  const SessionVerify *v = NULL;
  SessionVerify t;
  int why = 0;
  if (x == NULL || x->resume_applied || c->ssl == NULL || !wolfSSL_session_reused(c->ssl)) return;
  x->resume_applied = 1;
  memset(&t, 0, sizeof t);
  if (c->role == ROLE_CLIENT) {
    v = x->offered.known ? &x->offered : NULL;
    if (v && v->verified && c->host && !resumed_same_host(c, v->host)) why = VERIFY_ERR_SESSION_OTHER_HOST;
  } else {
    if (wolfSSL_get_verify_mode(c->ssl) == WOLFSSL_VERIFY_NONE) return; /* as a full handshake */
    if (x->tk_family) { /* a ticket tickets.c opened: its keys say (no certificate in it) */
      t.known = 1;
      t.verified = x->tk_family == 2;
      v = &t;
    } else if (x->looked_up.known) {
      v = &x->looked_up;
    }
  }
  if (v == NULL) why = VERIFY_ERR_SESSION_UNKNOWN;
  else if (!v->verified) why = v->error ? v->error : VERIFY_ERR_SESSION_NOT_VERIFIED;
  c->verify_seen = 1;
  c->verify_override = why;
  resumed_set_verified_chain(L, c, why ? NULL : v);
}

/* Did connection c verify its peer, as a session or ticket made now should record it?
 * (A resumed connection answers with its session's outcome.) */
int resumed_peer_verified(lua_State *L, Conn *c) {
  if (L) resumed_apply(L, c);
  return c->verify_seen && c->verify_err == 0 && c->verify_override == 0;
}

/* The outcome connection c gives the sessions made from it. */
void resumed_record(lua_State *L, Conn *c, SessionVerify *v) {
  memset(v, 0, sizeof *v);
  v->known = 1;
  v->verified = resumed_peer_verified(L, c);
  v->error = c->verify_err ? c->verify_err : c->verify_override;
  if (c->role == ROLE_CLIENT && c->host) v->host = lw_strdup(c->host);
  if (v->verified && lua_checkstack(L, 4)) verify_chain_complete(L, c);
  if (v->verified && lua_checkstack(L, 4) && conn_push(L, c)) {
    LW_GETUV(L, -1);
    lua_getfield(L, -1, "verified_chain");
    if (lua_istable(L, -1)) resumed_chain_from_list(L, v);
    lua_pop(L, 3);
  }
}

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* wolfSSL 5.5.4's d2i_SSL_SESSION copies length-prefixed fields into fixed arrays, and
 * its error path after a bad chain length frees garbage: a corrupted export crashed it
 * (SEGV in wolfSSL_X509_free, found by mutating exports under ASan). So every input is
 * first walked here, field by field, with the bounds wolfSSL's own sessions keep to
 * (measured: at most 9 certificates of at most 2048 bytes; a larger certificate is not
 * kept at all), and only bytes d2i parses without an error reach it. The layout (this
 * build: HAVE_EXT_CACHE, SESSION_CERTS, TLS 1.3, tickets, OPENSSL_EXTRA):
 *   side | bornOn u32 | timeout u32 | id len ≤ 32 | id | master secret (48) | haveEMS |
 *   alt id len (0 | 32) | alt id | chain count ≤ 9 | (cert len u16 ≤ 2048 | cert)* |
 *   version (3.x; 0.0 unset) | suite (2) | server id len u16 ≤ 20 | server id | id context len ≤ 32 |
 *   id context | peerVerifyRet | named group u16 | ticketSeen (8) | ticketAdd u32 |
 *   nonce len ≤ 8 | nonce | ticket len u16 | ticket
 * A wolfSSL whose own empty session does not fit it (another version or build) gets the
 * bytes unchecked, as before. */
static int layout_walk(const unsigned char *p, size_t n) {
  size_t off = 0, k;
  int count, i;
#define NEED(x) do { if (off > n || n - off < (size_t)(x)) return 0; } while (0)
  NEED(10);
  if (p[0] > 1 || p[9] > 32) return 0;
  off = 10 + p[9];
  NEED(48 + 2);
  off += 48;
  if (p[off] > 1 || (p[off + 1] != 0 && p[off + 1] != 32)) return 0;
  off += 2 + p[off + 1];
  NEED(1);
  if ((count = p[off++]) > 9) return 0;
  for (i = 0; i < count; i++) {
    NEED(2);
    k = (size_t)p[off] << 8 | p[off + 1];
    if (k > 2048) return 0;
    off += 2;
    NEED(k);
    off += k;
  }
  NEED(2 + 2 + 2);
  if (p[off] != 3 && p[off] != 0) return 0; /* version major (0: a session never set up) */
  off += 4;
  k = (size_t)p[off] << 8 | p[off + 1];
  if (k > 20) return 0;
  off += 2;
  NEED(k + 1);
  off += k;
  if (p[off] > 32) return 0;
  off += 1 + p[off];
  NEED(1 + 2 + 8 + 4 + 1);
  off += 1 + 2 + 8 + 4;
  if (p[off] > 8) return 0;
  off += 1 + p[off];
  NEED(2);
  k = (size_t)p[off] << 8 | p[off + 1];
  off += 2;
  return n - off == k;
#undef NEED
}

/* Does this wolfSSL serialise sessions as layout_walk expects? (its empty session) */
static int layout_known(void) {
  static int known = -1;
  if (known < 0) {
    WOLFSSL_SESSION *s = wolfSSL_SESSION_new();
    unsigned char *der = NULL;
    int n = s ? wolfSSL_i2d_SSL_SESSION(s, &der) : 0;
    known = n > 0 && der && layout_walk(der, (size_t)n);
    if (der) XFREE(der, NULL, DYNAMIC_TYPE_OPENSSL);
    if (s) wolfSSL_SESSION_free(s);
  }
  return known;
}

static WOLFSSL_SESSION *resumed_d2i(const unsigned char *p, size_t n) {
  if (n == 0 || n > 65536 || (layout_known() && !layout_walk(p, n))) return NULL;
  return wolfSSL_d2i_SSL_SESSION(NULL, &p, (long)n);
}

/* Exported bytes -> a session and its record (v may be NULL). NULL if malformed. */
WOLFSSL_SESSION *resumed_decode(const unsigned char *p, size_t n, SessionVerify *v) {
  SessionVerify t;
  size_t off, hl, cl, dl;
  WOLFSSL_SESSION *s;
  memset(&t, 0, sizeof t);
  if (n < EXPORT_HDR || memcmp(p, EXPORT_MAGIC, EXPORT_HDR) != 0) { /* bare wolfSSL bytes */
    s = resumed_d2i(p, n);
    if (s && v) resumed_free(v);
    return s;
  }
  off = EXPORT_HDR;
  if (n < off + 1 + 4 + 2) return NULL;
  t.known = (p[off] & SV_KNOWN) != 0;
  t.verified = (p[off] & SV_VERIFIED) != 0;
  t.error = (int)(int32_t)get32(p + off + 1);
  hl = (size_t)p[off + 5] << 8 | p[off + 6];
  off += 7;
  if (n < off + hl + 4) return NULL;
  if (hl && memchr(p + off, '\0', hl) == NULL) {
    if ((t.host = malloc(hl + 1)) == NULL) return NULL;
    memcpy(t.host, p + off, hl);
    t.host[hl] = '\0';
  } else if (hl) {
    return NULL;
  }
  off += hl;
  cl = get32(p + off);
  off += 4;
  if (n < off + cl + 4 || cl > 1u << 20) goto bad;
  if (cl) {
    if ((t.chain = malloc(cl)) == NULL) goto bad;
    memcpy(t.chain, p + off, cl);
    t.chain_len = cl;
  }
  off += cl;
  dl = get32(p + off);
  off += 4;
  if (dl == 0 || dl > 65536 || n != off + dl) goto bad;
  s = resumed_d2i(p + off, dl);
  if (s == NULL) goto bad;
  if (v) {
    resumed_free(v);
    *v = t;
  } else {
    resumed_free(&t);
  }
  return s;
bad:
  resumed_free(&t);
  return NULL;
}


/* Append the export of a session to b: the record, then wolfSSL's i2d bytes (der, n). */
void resumed_encode(luaL_Buffer *b, const SessionVerify *v, const unsigned char *der, size_t n) {
  unsigned char hdr[EXPORT_HDR + 7], len[4];
  size_t hl = v->host ? strlen(v->host) : 0;
  if (hl > 65535) hl = 0;
  memcpy(hdr, EXPORT_MAGIC, EXPORT_HDR);
  hdr[EXPORT_HDR] = (unsigned char)((v->known ? SV_KNOWN : 0) | (v->verified ? SV_VERIFIED : 0));
  put32(hdr + EXPORT_HDR + 1, (uint32_t)v->error);
  hdr[EXPORT_HDR + 5] = (unsigned char)(hl >> 8);
  hdr[EXPORT_HDR + 6] = (unsigned char)hl;
  luaL_addlstring(b, (const char *)hdr, sizeof hdr);
  if (hl) luaL_addlstring(b, v->host, hl);
  put32(len, (uint32_t)v->chain_len);
  luaL_addlstring(b, (const char *)len, 4);
  if (v->chain_len) luaL_addlstring(b, (const char *)v->chain, v->chain_len);
  put32(len, (uint32_t)n);
  luaL_addlstring(b, (const char *)len, 4);
  luaL_addlstring(b, (const char *)der, n);
}

/* {verified = bool, verify_error = name|nil, server_name = name|nil}, or nil when nothing
 * is known (a session imported from bare wolfSSL bytes): sess:verification() */
int resumed_push_table(lua_State *L, const SessionVerify *v) {
  if (!v->known) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 3);
  lua_pushboolean(L, v->verified);
  lua_setfield(L, -2, "verified");
  if (!v->verified) {
    lua_pushstring(L, verify_error_name(v->error ? v->error : VERIFY_ERR_SESSION_NOT_VERIFIED));
    lua_setfield(L, -2, "verify_error");
  }
  if (v->host) {
    lua_pushstring(L, v->host);
    lua_setfield(L, -2, "server_name");
  }
  return 1;
}
