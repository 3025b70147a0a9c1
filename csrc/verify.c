/* Peer verification: the binding's verify callback, its policy checks, its host-name
 * check, and the Lua on_verify(conn, v) hook.
 *
 * wolfSSL calls verify_callback for every certificate of the peer's chain (intermediates
 * first, then the leaf; never the trust anchor). The verdict is taken from the real
 * error (X509_STORE_CTX_get_error), not just the preverify flag, because wolfSSL reports
 * some failures with preverify=1 (wolfssl-notes.md item 4). The host check is done here,
 * against the subjectAltNames, rather than with wolfSSL_check_domain_name, so that IP
 * literals compare as parsed addresses and wildcards follow RFC 6125.
 *
 * On top of wolfSSL's own checks the binding applies the policy of the connection's
 * context (key sizes, weak signature digests, CN-only certificates), and lets the
 * context relax two checks wolfSSL makes itself (extended key usage, name constraints).
 * Then on_verify, if set, sees the verdict and may overturn it. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lwolfssl.h"
#include <wolfssl/openssl/evp.h>
#include <wolfssl/wolfcrypt/asn_public.h>

/* GeneralName choices (RFC 5280 4.2.1.6) */
#define SAN_DNS 2
#define SAN_IP 7

#define X509_V_ERR_UNSPECIFIED 1
#define X509_V_ERR_INVALID_PURPOSE 26
#define X509_V_ERR_APPLICATION_VERIFICATION 50
#define X509_V_ERR_HOSTNAME_MISMATCH 62
#define X509_V_ERR_IP_ADDRESS_MISMATCH 64
#define X509_V_ERR_EE_KEY_TOO_SMALL 66
#define X509_V_ERR_CA_KEY_TOO_SMALL 67

/* wolfSSL's own codes the policy may relax */
#define WOLF_EXTKEYUSE_AUTH_E -386
#define WOLF_ASN_NAME_INVALID_E -198

#define REASON_LEN 200

void verify_reset(Conn *c) {
  c->verify_err = 0;
  c->verify_depth = 0;
  c->verify_seen = 0;
  c->verify_override = 0;
  c->verify_deferred = 0;
  lw_free_str(&c->verify_subject);
  lw_free_str(&c->verify_reason);
}

/* The name a client checks the peer certificate against; an IP literal (v4 or v6) is
 * kept as its parsed bytes. */
int verify_set_host(Conn *c, const char *name, size_t len) {
  unsigned char addr[16];
  char *h = malloc(len + 1);
  if (h == NULL) return -1;
  memcpy(h, name, len);
  h[len] = '\0';
  if (len > 0 && h[len - 1] == '.') h[len - 1] = '\0'; /* "example.com." is example.com */
  free(c->host);
  c->host = h;
  c->host_is_ip = 0;
  if (inet_pton(AF_INET, h, addr) == 1) c->host_is_ip = 4;
  else if (inet_pton(AF_INET6, h, addr) == 1) c->host_is_ip = 16;
  if (c->host_is_ip) memcpy(c->host_ip, addr, (size_t)c->host_is_ip);
  return 0;
}

/* RFC 6125 6.4: case-insensitive; a wildcard only as the whole left-most label,
 * matching exactly one label, and never directly under a single-label name. */
int verify_dns_match(const char *pattern, size_t plen, const char *host) {
  size_t hlen = strlen(host);
  const char *pdot, *hdot;
  if (hlen > 0 && host[hlen - 1] == '.') hlen--;
  if (plen > 0 && pattern[plen - 1] == '.') plen--;
  if (plen == 0 || hlen == 0 || memchr(pattern, '\0', plen)) return 0; /* embedded NUL: forged */
  if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {
    pdot = pattern + 1;
    if (memchr(pdot + 1, '.', plen - 2) == NULL) return 0; /* "*.com" */
    hdot = memchr(host, '.', hlen);
    if (hdot == NULL || hdot == host) return 0;
    return (size_t)(host + hlen - hdot) == plen - 1 && strncasecmp(hdot, pdot, plen - 1) == 0;
  }
  if (memchr(pattern, '*', plen)) return 0; /* partial wildcards are not honoured */
  return plen == hlen && strncasecmp(pattern, host, plen) == 0;
}

/* Match a DNS name or a parsed IP address (ip_len 4 / 16) against cert's
 * subjectAltNames. *has_dns is set when the certificate has any dNSName. */
int verify_san_match(WOLFSSL_X509 *cert, const char *host, const unsigned char *ip, int ip_len,
                     int *has_dns) {
  WOLFSSL_STACK *names = wolfSSL_X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  int i, n, match = 0;
  n = names ? wolfSSL_sk_GENERAL_NAME_num(names) : 0;
  if (has_dns) *has_dns = 0;
  for (i = 0; i < n && !match; i++) {
    WOLFSSL_GENERAL_NAME *g = wolfSSL_sk_GENERAL_NAME_value(names, i);
    WOLFSSL_ASN1_STRING *s;
    if (g == NULL) continue;
    if (g->type == SAN_DNS && has_dns) *has_dns = 1;
    if (ip_len && g->type == SAN_IP && (s = g->d.iPAddress) != NULL) {
      match = wolfSSL_ASN1_STRING_length(s) == ip_len &&
              memcmp(wolfSSL_ASN1_STRING_data(s), ip, (size_t)ip_len) == 0;
    } else if (!ip_len && g->type == SAN_DNS && (s = g->d.dNSName) != NULL) {
      match = verify_dns_match((const char *)wolfSSL_ASN1_STRING_data(s),
                               (size_t)wolfSSL_ASN1_STRING_length(s), host);
    }
  }
  if (names) wolfSSL_sk_GENERAL_NAME_pop_free(names, wolfSSL_GENERAL_NAME_free);
  return match;
}

/* The certificate's CN, when it has no dNSName (RFC 6125 6.4.4), matched only if the
 * context allows it (allow_cn_match). */
static int verify_cn_match(WOLFSSL_X509 *cert, const char *host) {
  WOLFSSL_X509_NAME *nm = wolfSSL_X509_get_subject_name(cert);
  int i = nm ? wolfSSL_X509_NAME_get_index_by_NID(nm, NID_commonName, -1) : -1;
  WOLFSSL_X509_NAME_ENTRY *e = i >= 0 ? wolfSSL_X509_NAME_get_entry(nm, i) : NULL;
  WOLFSSL_ASN1_STRING *d = e ? wolfSSL_X509_NAME_ENTRY_get_data(e) : NULL;
  return d && verify_dns_match((const char *)wolfSSL_ASN1_STRING_data(d),
                               (size_t)wolfSSL_ASN1_STRING_length(d), host);
}

/* Does cert match c->host? Returns the X509_V_ERR code, with the reason in `why`. */
static int verify_host(Conn *c, WOLFSSL_X509 *cert, const VerifyPolicy *p, char *why, size_t len) {
  int has_dns = 0;
  if (verify_san_match(cert, c->host, c->host_ip, c->host_is_ip, &has_dns)) return 0;
  if (c->host_is_ip) return X509_V_ERR_IP_ADDRESS_MISMATCH;
  if (!has_dns) {
    if (p->allow_cn_match && verify_cn_match(cert, c->host)) return 0;
    if (!p->allow_cn_match && verify_cn_match(cert, c->host))
      snprintf(why, len, "hostname mismatch: no subjectAltName, and the CN is not matched "
                         "(allow_cn_match = false)");
  }
  return X509_V_ERR_HOSTNAME_MISMATCH;
}

/* Digests too weak for a certificate signature. wolfSSL reports the algorithm as its
 * internal OID sum (wolfssl-notes.md item 8). */
static const char *verify_weak_digest(WOLFSSL_X509 *cert, const VerifyPolicy *p) {
  switch (wolfSSL_X509_get_signature_type(cert)) {
  case CTC_SHAwRSA: return p->allow_sha1 ? NULL : "sha1WithRSAEncryption";
  case CTC_SHAwECDSA: return p->allow_sha1 ? NULL : "ecdsa-with-SHA1";
  case CTC_SHAwDSA: return p->allow_sha1 ? NULL : "dsaWithSHA1";
  case CTC_MD5wRSA: return p->allow_md5 ? NULL : "md5WithRSAEncryption";
  case CTC_MD2wRSA: return p->allow_md5 ? NULL : "md2WithRSAEncryption";
  }
  return NULL;
}

/* The checks wolfSSL does not make by default. 0, or the error with `why` filled. */
static int verify_policy_check(WOLFSSL_X509 *cert, int depth, const VerifyPolicy *p, char *why,
                               size_t len) {
  WOLFSSL_EVP_PKEY *pk = wolfSSL_X509_get_pubkey(cert);
  int bits = pk ? wolfSSL_EVP_PKEY_bits(pk) : 0, id = pk ? wolfSSL_EVP_PKEY_id(pk) : 0;
  const char *weak;
  wolfSSL_EVP_PKEY_free(pk);
  if (id == EVP_PKEY_RSA && bits < p->min_rsa_bits) {
    snprintf(why, len, "%s key too weak: RSA %d bits < min_rsa_bits %d",
             depth ? "CA certificate" : "certificate", bits, p->min_rsa_bits);
    return depth ? X509_V_ERR_CA_KEY_TOO_SMALL : X509_V_ERR_EE_KEY_TOO_SMALL;
  }
  if (id == EVP_PKEY_EC && bits < p->min_ec_bits) {
    snprintf(why, len, "%s key too weak: EC %d bits < min_ec_bits %d",
             depth ? "CA certificate" : "certificate", bits, p->min_ec_bits);
    return depth ? X509_V_ERR_CA_KEY_TOO_SMALL : X509_V_ERR_EE_KEY_TOO_SMALL;
  }
  /* A self-issued certificate reaching here is a trust anchor the user loaded (else
   * wolfSSL failed it as self-signed), and an anchor's own signature means nothing. */
  weak = verify_weak_digest(cert, p);
  if (weak && wolfSSL_X509_check_issued(cert, cert) != 0) {
    snprintf(why, len, "signature digest too weak: %s (%s = false)", weak,
             strstr(weak, "md") == weak ? "allow_md5" : "allow_sha1");
    return VERIFY_ERR_WEAK_DIGEST;
  }
  return 0;
}

/* wolfSSL reports one error per certificate and stops checking at it: an EKU failure
 * overwrites whatever came before (even "no signer"), and a name-constraints failure
 * returns before the validity dates are looked at. Relaxing one of them must not
 * wave the others through, so the certificate is checked again without it:
 * 0 if nothing else is wrong, else the error found. */
static int verify_recheck(WOLFSSL *ssl, WOLFSSL_X509 *cert, int relaxed, const VerifyPolicy *p) {
  WOLFSSL_CERT_MANAGER *cm = wolfSSL_CTX_GetCertManager(wolfSSL_get_SSL_CTX(ssl));
  int n = 0, rc;
  const unsigned char *der = wolfSSL_X509_get_der(cert, &n);
  if (cm == NULL || der == NULL) return relaxed;
  if (relaxed == WOLF_EXTKEYUSE_AUTH_E) {
    /* the chain as wolfSSL verifies any certificate: signature up to a trusted or
     * already verified CA, dates, name constraints, CRL */
    rc = wolfSSL_CertManagerVerifyBuffer(cm, der, n, WOLFSSL_FILETYPE_ASN1);
    if (rc == WOLFSSL_SUCCESS) return 0;
    if (rc != WOLF_ASN_NAME_INVALID_E || !p->relax_name_constraints) return rc;
  }
  /* name constraints: wolfSSL checked them after confirming the signature, so what is
   * left is the dates and revocation */
  if (wolfSSL_X509_cmp_current_time(wolfSSL_X509_get_notBefore(cert)) > 0) return -150;
  if (wolfSSL_X509_cmp_current_time(wolfSSL_X509_get_notAfter(cert)) < 0) return -151;
  rc = wolfSSL_CertManagerCheckCRL(cm, (unsigned char *)der, n);
  return rc == WOLFSSL_SUCCESS ? 0 : rc;
}

static void verify_record(Conn *c, int err, int depth, WOLFSSL_X509 *cert, const char *why) {
  char line[256];
  if (c->verify_err != 0) return; /* the first failure is the one worth naming */
  c->verify_err = err;
  c->verify_depth = depth;
  lw_free_str(&c->verify_subject);
  lw_free_str(&c->verify_reason);
  if (cert) {
    x509_subject_line(cert, line, sizeof line);
    c->verify_subject = lw_strdup(line);
  }
  if (why && *why) c->verify_reason = lw_strdup(why);
}

/* The context's policy, found through the connection's uservalue (so use_context()
 * switches it too); a connection without one gets no extra checks. */
static const VerifyPolicy *verify_policy_of(Conn *c) {
  static const VerifyPolicy none;
  lua_State *L = c->L;
  const VerifyPolicy *p = &none;
  Context *x;
  if (L == NULL || !lua_checkstack(L, 4) || !conn_push(L, c)) return p;
  LW_GETUV(L, -1);
  lua_getfield(L, -1, "context");
  x = luaL_testudata(L, -1, LW_CONTEXT);
  if (x) p = &x->policy; /* the uservalue keeps the Context alive */
  lua_pop(L, 3);
  return p;
}

/* Push the chain being verified, leaf first: the certificates the peer sent, then the
 * trust anchor that issued the last of them, if the store has it (wolfSSL never passes
 * the anchor to the callback, item 4). Built from the store's certificate buffers:
 * X509_STORE_CTX_get_chain would give the same in reverse, but leaks an X509 on each
 * call in 5.5.4 (found with valgrind: wolfSSL_get_chain_X509 inside it). */
/* The trust anchor that issued `top`, looked up in `st`: a new reference, or NULL. */
static WOLFSSL_X509 *verify_anchor_of(WOLFSSL_X509_STORE_CTX *st, WOLFSSL_X509 *top) {
  WOLFSSL_X509 *anchor = NULL;
  if (top && wolfSSL_X509_check_issued(top, top) != 0 &&
      wolfSSL_X509_STORE_CTX_get1_issuer(&anchor, st, top) == WOLFSSL_SUCCESS)
    return anchor;
  wolfSSL_X509_free(anchor);
  return NULL;
}

/* as_der: 0 Certificates with the anchor, 1 DER with the anchor, 2 DER without it and
 * `anchor_pending` set (verify_chain_complete finds it later, if anyone asks). */
static void verify_push_chain(lua_State *L, WOLFSSL_X509_STORE_CTX *store, int as_der) {
  int i, n = store->certs ? store->totalCerts : 0, k = 0;
  WOLFSSL_X509 *top = NULL, *anchor = NULL;
  lua_createtable(L, n + 1, 0);
  for (i = 0; i < n; i++) {
    const unsigned char *d = store->certs[i].buffer;
    int dn = (int)store->certs[i].length;
    if (d == NULL || dn <= 0) continue;
    if (as_der) lua_pushlstring(L, (const char *)d, (size_t)dn);
    else x509_push_der(L, d, dn);
    lua_rawseti(L, -2, ++k);
  }
  if (as_der == 2) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "anchor_pending");
    return;
  }
  if (n > 0) top = wolfSSL_X509_d2i(NULL, store->certs[n - 1].buffer, (int)store->certs[n - 1].length);
  if ((anchor = verify_anchor_of(store, top)) != NULL) {
    int dn = 0;
    const unsigned char *d = wolfSSL_X509_get_der(anchor, &dn);
    if (d) {
      if (as_der) lua_pushlstring(L, (const char *)d, (size_t)dn);
      else x509_push_copy(L, anchor);
      lua_rawseti(L, -2, ++k);
    }
  }
  wolfSSL_X509_free(anchor);
  wolfSSL_X509_free(top);
  wolfSSL_ERR_clear_error();
}

/* Keep the chain that passed (DER, leaf first) for conn:verified_chain() and the
 * sessions made from this connection. Its trust anchor is looked up only when one of
 * them asks (verify_chain_complete): parsing the top certificate and searching the store
 * cost about 490 K instructions, some 5 % of a full handshake for client and server
 * together (callgrind, bench W1), on every verified handshake. */
static void verify_keep_chain(Conn *c, WOLFSSL_X509_STORE_CTX *store, int ok) {
  lua_State *L = c->L;
  if (L == NULL || !lua_checkstack(L, 6) || !conn_push(L, c)) return;
  LW_GETUV(L, -1);
  if (ok) verify_push_chain(L, store, 2);
  else lua_pushnil(L);
  lua_setfield(L, -2, "verified_chain");
  lua_pop(L, 2);
}

enum { LUA_KEEP = 0, LUA_ACCEPT = 1, LUA_REJECT = 2, LUA_FAILED = 3 };

/* on_verify(conn, {ok, error, message, depth, certificate, chain}) through the bridge.
 * true accepts, false [, reason] rejects, nil keeps the binding's verdict. */
static int verify_lua(Conn *c, WOLFSSL_X509_STORE_CTX *store, WOLFSSL_X509 *cert, int err,
                      int depth, const char *why, char *reason, size_t len) {
  lua_State *L = c->L;
  int r = LUA_KEEP;
  if (L == NULL || c->cb_error || !bridge_handler(L, c, "on_verify")) return LUA_KEEP;
  if (!lua_checkstack(L, 8) || !conn_push(L, c)) {
    lua_pop(L, 1);
    return LUA_KEEP;
  }
  lua_createtable(L, 0, 6);
  lua_pushboolean(L, err == 0);
  lua_setfield(L, -2, "ok");
  if (err) {
    lua_pushstring(L, verify_error_name(err));
    lua_setfield(L, -2, "error");
    lua_pushstring(L, why && *why ? why : verify_error_text(err));
    lua_setfield(L, -2, "message");
  }
  lua_pushinteger(L, depth);
  lua_setfield(L, -2, "depth");
  x509_push_copy(L, cert);
  lua_setfield(L, -2, "certificate");
  verify_push_chain(L, store, 0);
  lua_setfield(L, -2, "chain");
  if (bridge_pcall(L, 2, 2, &c->cb_error) != 0) return LUA_FAILED;
  /* only a real boolean decides: a stray value (a string, a table) is a bug in the
   * callback, and accepting a certificate by accident is the worst outcome */
  if (lua_isboolean(L, -2) && lua_toboolean(L, -2)) r = LUA_ACCEPT;
  else if (lua_isboolean(L, -2)) {
    const char *s = lua_tostring(L, -1);
    snprintf(reason, len, "rejected by on_verify%s%s", s ? ": " : "", s ? s : "");
    r = LUA_REJECT;
  } else if (!lua_isnil(L, -2)) {
    c->cb_error = lw_strdup(lua_pushfstring(L, "on_verify must return true, false or nil (got %s)",
                                            luaL_typename(L, -2)));
    lua_pop(L, 1);
    r = LUA_FAILED;
  }
  lua_pop(L, 2);
  return r;
}

int verify_callback(int preverify, WOLFSSL_X509_STORE_CTX *store) {
  WOLFSSL *ssl = wolfSSL_X509_STORE_CTX_get_ex_data(store,
                                                    wolfSSL_get_ex_data_X509_STORE_CTX_idx());
  Conn *c = conn_from_ssl(ssl);
  WOLFSSL_X509 *cert = wolfSSL_X509_STORE_CTX_get_current_cert(store);
  int err = wolfSSL_X509_STORE_CTX_get_error(store);
  int depth = wolfSSL_X509_STORE_CTX_get_error_depth(store);
  int wolf_err, verdict;
  const VerifyPolicy *p;
  char why[REASON_LEN] = "";
  int der_len = 0;
  if (c == NULL) return 0; /* not ours: fail closed */
  /* A server whose client sent no certificate: NULL, or (answering a post-handshake
   * CertificateRequest) an empty certificate object. In TLS 1.3 wolfSSL enforces
   * FAIL_IF_NO_PEER_CERT itself, with alert certificate_required; in TLS 1.2 it fails
   * (-345) without sending any alert, and the client waits forever, so the binding
   * fails it here, which sends bad_certificate. */
  if (cert == NULL || wolfSSL_X509_get_der(cert, &der_len) == NULL || der_len == 0) {
    if ((wolfSSL_get_verify_mode(ssl) & WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT) &&
        wolfSSL_version(ssl) < TLS1_3_VERSION) {
      verify_record(c, VERIFY_ERR_NO_PEER_CERT, 0, NULL, NULL);
      return 0;
    }
    return preverify && err == 0;
  }
  c->verify_seen = 1;
  if (!preverify && err == 0) err = X509_V_ERR_UNSPECIFIED;
  p = verify_policy_of(c);
  if ((err == WOLF_EXTKEYUSE_AUTH_E && p->relax_eku) ||
      (err == WOLF_ASN_NAME_INVALID_E && p->relax_name_constraints))
    err = verify_recheck(ssl, cert, err, p);
  wolf_err = err;
  if (err == 0 && depth == 0 && c->host) err = verify_host(c, cert, p, why, sizeof why);
  if (err == 0) err = verify_policy_check(cert, depth, p, why, sizeof why);
  if (err == WOLF_EXTKEYUSE_AUTH_E)
    snprintf(why, sizeof why, "unsupported certificate purpose: extendedKeyUsage lacks %s "
             "(check_eku = true)", c->role == ROLE_CLIENT ? "serverAuth" : "clientAuth");
  if (err == WOLF_ASN_NAME_INVALID_E)
    snprintf(why, sizeof why, "name constraints violation: an issuing CA may not vouch for "
             "this name (check_name_constraints = true)");
  verdict = err == 0;
  if (!c->verify_deferred) {
    char reason[REASON_LEN];
    switch (verify_lua(c, store, cert, err, depth, why, reason, sizeof reason)) {
    case LUA_ACCEPT:
      if (err && !c->verify_override) c->verify_override = err;
      verdict = 1;
      break;
    case LUA_REJECT:
      if (err == 0) err = X509_V_ERR_APPLICATION_VERIFICATION;
      memcpy(why, reason, sizeof why);
      verdict = 0;
      break;
    case LUA_FAILED:
      verdict = 0; /* conn_error reports the callback's error */
      break;
    }
  }
  if (verdict && !c->verify_deferred) {
    if (depth == 0) verify_keep_chain(c, store, err == 0 && !c->verify_override);
    return 1;
  }
  if (!verdict && !c->cb_error) verify_record(c, err, depth, cert, why);
  if (depth == 0) {
    verify_keep_chain(c, store, 0);
    return 0;
  }
  /* Rejected by the binding or by Lua while wolfSSL found this CA certificate fine:
   * failing now would send unknown_ca (item 4), which is not the reason. Accept it,
   * and fail the leaf, which wolfSSL always passes last: the alert is bad_certificate. */
  if (wolf_err == 0) {
    c->verify_deferred = 1;
    return 1;
  }
  return 0;
}

/* Failures wolfSSL finds outside the verify callback, recorded like the others so the
 * message names the reason and the certificate (and info() the error). 1 if err is
 * one of them. */
int verify_late_failure(Conn *c, int err) {
  WOLFSSL_X509_CHAIN *chain;
  WOLFSSL_X509 *leaf = NULL;
  const char *why;
  int code;
  switch (err) {
  case -345: /* NO_PEER_CERT: a TLS 1.3 server requiring a client certificate */
    verify_record(c, VERIFY_ERR_NO_PEER_CERT, 0, NULL, NULL);
    return 1;
  case -160: /* ASN_CRIT_EXT_E: refused while parsing, before any callback, no alert */
    verify_record(c, 34, 0, NULL, "unhandled critical extension (in a certificate of the peer's "
                                  "chain, which wolfSSL refuses to parse)");
    return 1;
  case -360: /* OCSP_CERT_REVOKED */
    code = 23;
    why = "certificate revoked (stapled OCSP response)";
    break;
  case -366: /* OCSP_CERT_UNKNOWN: must-staple and no usable staple */
  case -367: /* OCSP_LOOKUP_FAIL */
    code = VERIFY_ERR_OCSP_NO_STAPLE;
    why = "no valid OCSP response was stapled (ocsp_stapling = \"required\")";
    break;
  case -406: /* BAD_CERTIFICATE_STATUS_ERROR */
  case -407: /* OCSP_INVALID_STATUS */
    code = VERIFY_ERR_OCSP_BAD_RESPONSE;
    why = "the stapled OCSP response does not vouch for this certificate (status unknown, "
          "or about another certificate)";
    break;
  default:
    return 0;
  }
  /* stapling (RFC 6066 8) covers the leaf only */
  chain = wolfSSL_get_peer_chain(c->ssl);
  if (chain && wolfSSL_get_chain_count(chain) > 0)
    leaf = wolfSSL_X509_d2i(NULL, wolfSSL_get_chain_cert(chain, 0), wolfSSL_get_chain_length(chain, 0));
  verify_record(c, code, 0, leaf, why);
  wolfSSL_X509_free(leaf);
  return 1;
}

/* ---- connection methods ------------------------------------------------------------ */

/* conn:verified_chain() -> the chain that passed verification, leaf first, ending with
 * the trust anchor; nil if the peer was not verified (or on_verify overrode a failure). */
/* Append the trust anchor to the kept chain if it is still pending: the issuer of its
 * last certificate in the store of the context that verified it. */
void verify_chain_complete(lua_State *L, Conn *c) {
  size_t dn;
  const char *d;
  int n;
  WOLFSSL_X509 *top, *anchor = NULL;
  WOLFSSL_X509_STORE_CTX *sc;
  if (c->ssl == NULL || !lua_checkstack(L, 6) || !conn_push(L, c)) return;
  LW_GETUV(L, -1);
  lua_getfield(L, -1, "verified_chain");
  if (!lua_istable(L, -1)) {
    lua_pop(L, 3);
    return;
  }
  lua_getfield(L, -1, "anchor_pending");
  n = (int)lua_rawlen(L, -2);
  if (!lua_toboolean(L, -1) || n == 0) {
    lua_pop(L, 4);
    return;
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_setfield(L, -2, "anchor_pending"); /* once, found or not */
  lua_rawgeti(L, -1, n);
  d = lua_tolstring(L, -1, &dn);
  top = d ? wolfSSL_X509_d2i(NULL, (const unsigned char *)d, (int)dn) : NULL;
  lua_pop(L, 1);
  sc = wolfSSL_X509_STORE_CTX_new();
  if (sc && top &&
      wolfSSL_X509_STORE_CTX_init(sc, wolfSSL_CTX_get_cert_store(wolfSSL_get_SSL_CTX(c->ssl)), top, NULL) ==
          WOLFSSL_SUCCESS)
    anchor = verify_anchor_of(sc, top);
  if (anchor) {
    int an = 0;
    const unsigned char *ad = wolfSSL_X509_get_der(anchor, &an);
    if (ad && an > 0) {
      lua_pushlstring(L, (const char *)ad, (size_t)an);
      lua_rawseti(L, -2, n + 1);
    }
  }
  wolfSSL_X509_free(anchor);
  wolfSSL_X509_free(top);
  wolfSSL_X509_STORE_CTX_free(sc);
  wolfSSL_ERR_clear_error();
  lua_pop(L, 3);
}

static int verify_verified_chain(lua_State *L) {
  Conn *c = conn_check(L, 1);
  int i, n;
  verify_chain_complete(L, c);
  LW_GETUV(L, 1);
  lua_getfield(L, -1, "verified_chain");
  if (!lua_istable(L, -1) || !(c->flags & CONN_DONE) || c->verify_err || c->verify_override) {
    lua_pushnil(L);
    return 1;
  }
  n = (int)lua_rawlen(L, -1);
  lua_createtable(L, n, 0);
  for (i = 1; i <= n; i++) {
    size_t dn;
    const char *d;
    lua_rawgeti(L, -2, i);
    d = lua_tolstring(L, -1, &dn);
    x509_push_der(L, (const unsigned char *)d, (int)dn);
    lua_remove(L, -2);
    lua_rawseti(L, -2, i);
  }
  return 1;
}

/* conn:request_certificate() (TLS 1.3 server): ask the client for a certificate after
 * the handshake (RFC 8446 4.6.2). The client answers inside its next read, and the
 * server's next read verifies the answer (item 9b). */
static int verify_request_certificate(lua_State *L) {
  Conn *c = conn_check(L, 1);
  int mode = WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_POST_HANDSHAKE, rc;
  Context *x;
  if (c->role != ROLE_SERVER) return luaL_error(L, "request_certificate is for server connections");
  LW_GETUV(L, 1);
  lua_getfield(L, -1, "context");
  x = luaL_testudata(L, -1, LW_CONTEXT);
  if (x && x->verify == VERIFY_REQUIRED) mode |= WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  lua_pop(L, 2);
  wolfSSL_set_verify(c->ssl, mode, verify_callback);
  verify_reset(c);
  rc = wolfSSL_request_certificate(c->ssl);
  if (rc != WOLFSSL_SUCCESS) { /* rc is the error code itself */
    char buf[96];
    wolfSSL_ERR_error_string_n((unsigned long)(rc < 0 ? -rc : rc), buf, sizeof buf);
    if (rc == -504 /* POST_HAND_AUTH_ERROR */)
      return lw_error(L, "handshake_failed", "cannot request a certificate: the client did not "
                                            "offer post-handshake authentication (TLS 1.3 only)");
    return lw_error(L, "handshake_failed", "cannot request a certificate: %s (%d)", buf, rc);
  }
  /* wolfSSL only queues the CertificateRequest (item 9b); a zero-length write flushes
   * it, so it is on its way (or in take()) when this returns. A full fd transport
   * leaves it queued for the next write. */
  c->L = L;
  wolfSSL_write(c->ssl, "", 0);
  c->L = NULL;
  lua_pushboolean(L, 1);
  return 1;
}

/* conn:allow_post_handshake_auth() (client, before the handshake): offer the
 * post_handshake_auth extension so the server may ask for a certificate later. */
static int verify_allow_pha(lua_State *L) {
  Conn *c = conn_check(L, 1);
  /* returns 0 on success, unlike most wolfSSL calls (item 9b) */
  if (wolfSSL_allow_post_handshake_auth(c->ssl) != 0)
    return luaL_error(L, "cannot allow post-handshake authentication");
  lua_pushboolean(L, 1);
  return 1;
}

const luaL_Reg verify_conn_methods[] = {
  {"verified_chain", verify_verified_chain},
  {"request_certificate", verify_request_certificate},
  {"allow_post_handshake_auth", verify_allow_pha},
  {NULL, NULL}
};

/* ---- context methods ---------------------------------------------------------------- */

static int verify_int_field(lua_State *L, const char *k, int def) {
  int v;
  lua_getfield(L, 2, k);
  v = lua_isnil(L, -1) ? def : (int)luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  return v;
}

static int verify_bool_field(lua_State *L, const char *k) {
  int v;
  lua_getfield(L, 2, k);
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* ctx:set_verify_policy{min_rsa_bits=, min_ec_bits=, allow_sha1=, allow_md5=,
 * allow_cn_match=, relax_eku=, relax_name_constraints=} (verify.lua decides the
 * defaults) */
static int verify_set_policy(lua_State *L) {
  Context *x = context_check(L, 1);
  VerifyPolicy p;
  luaL_checktype(L, 2, LUA_TTABLE);
  p.min_rsa_bits = verify_int_field(L, "min_rsa_bits", 0);
  p.min_ec_bits = verify_int_field(L, "min_ec_bits", 0);
  p.allow_sha1 = verify_bool_field(L, "allow_sha1");
  p.allow_md5 = verify_bool_field(L, "allow_md5");
  p.allow_cn_match = verify_bool_field(L, "allow_cn_match");
  p.relax_eku = verify_bool_field(L, "relax_eku");
  p.relax_name_constraints = verify_bool_field(L, "relax_name_constraints");
  x->policy = p;
  /* wolfSSL has its own floor for peer keys (RSA 1024, ECC 224 by default); keep it at
   * or below the binding's, so the binding's check is the one that names the reason. */
  if (p.min_rsa_bits > 0 && p.min_rsa_bits < 1024) wolfSSL_CTX_SetMinRsaKey_Sz(x->ctx, (short)p.min_rsa_bits);
  if (p.min_ec_bits > 0 && p.min_ec_bits < 224) wolfSSL_CTX_SetMinEccKey_Sz(x->ctx, (short)p.min_ec_bits);
  lua_pushboolean(L, 1);
  return 1;
}

const luaL_Reg verify_context_methods[] = {
  {"set_verify_policy", verify_set_policy},
  {NULL, NULL}
};
