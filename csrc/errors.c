/* Run-time outcomes as nil, message, code. wolfSSL's own alert and verify strings are
 * often NULL (wolfssl-notes.md item 9f), so the binding ships its own name tables, and
 * its verify codes are a mix of X509_V_ERR numbers and negative wolfSSL codes (item 4),
 * which are normalised here to OpenSSL's numbering so a script sees one vocabulary. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lwolfssl.h"

typedef struct Name {
  int code;
  const char *name;
  const char *text;
} Name;

/* TLS alert registry (RFC 8446 6, RFC 5246 7.2, RFC 7301, RFC 8449 names) */
static const Name alerts[] = {
  {0, "close_notify", NULL},
  {10, "unexpected_message", NULL},
  {20, "bad_record_mac", NULL},
  {21, "decryption_failed", NULL},
  {22, "record_overflow", NULL},
  {30, "decompression_failure", NULL},
  {40, "handshake_failure", NULL},
  {41, "no_certificate", NULL},
  {42, "bad_certificate", NULL},
  {43, "unsupported_certificate", NULL},
  {44, "certificate_revoked", NULL},
  {45, "certificate_expired", NULL},
  {46, "certificate_unknown", NULL},
  {47, "illegal_parameter", NULL},
  {48, "unknown_ca", NULL},
  {49, "access_denied", NULL},
  {50, "decode_error", NULL},
  {51, "decrypt_error", NULL},
  {60, "export_restriction", NULL},
  {70, "protocol_version", NULL},
  {71, "insufficient_security", NULL},
  {80, "internal_error", NULL},
  {86, "inappropriate_fallback", NULL},
  {90, "user_canceled", NULL},
  {100, "no_renegotiation", NULL},
  {109, "missing_extension", NULL},
  {110, "unsupported_extension", NULL},
  {111, "certificate_unobtainable", NULL},
  {112, "unrecognized_name", NULL},
  {113, "bad_certificate_status_response", NULL},
  {114, "bad_certificate_hash_value", NULL},
  {115, "unknown_psk_identity", NULL},
  {116, "certificate_required", NULL},
  {120, "no_application_protocol", NULL},
  {-1, NULL, NULL}
};

/* Verification errors, by OpenSSL X509_V_ERR number, with OpenSSL's wording. */
static const Name verify_errors[] = {
  {0, "ok", "ok"},
  {1, "unspecified", "unspecified certificate verification error"},
  {2, "unable_to_get_issuer_cert", "unable to get issuer certificate"},
  {3, "unable_to_get_crl", "unable to get certificate CRL"},
  {4, "unable_to_decrypt_cert_signature", "unable to decrypt certificate's signature"},
  {6, "unable_to_decode_issuer_public_key", "unable to decode issuer public key"},
  {7, "cert_signature_failure", "certificate signature failure"},
  {8, "crl_signature_failure", "CRL signature failure"},
  {9, "cert_not_yet_valid", "certificate is not yet valid"},
  {10, "cert_has_expired", "certificate has expired"},
  {11, "crl_not_yet_valid", "CRL is not yet valid"},
  {12, "crl_has_expired", "CRL has expired"},
  {17, "out_of_mem", "out of memory"},
  {18, "depth_zero_self_signed_cert", "self-signed certificate"},
  {19, "self_signed_cert_in_chain", "self-signed certificate in certificate chain"},
  {20, "unable_to_get_issuer_cert_locally", "unable to get local issuer certificate"},
  {21, "unable_to_verify_leaf_signature", "unable to verify the first certificate"},
  {22, "cert_chain_too_long", "certificate chain too long"},
  {23, "cert_revoked", "certificate revoked"},
  {24, "invalid_ca", "invalid CA certificate"},
  {25, "path_length_exceeded", "path length constraint exceeded"},
  {26, "invalid_purpose", "unsupported certificate purpose"},
  {27, "cert_untrusted", "certificate not trusted"},
  {28, "cert_rejected", "certificate rejected"},
  {32, "keyusage_no_certsign", "key usage does not include certificate signing"},
  {34, "unhandled_critical_extension", "unhandled critical extension"},
  {47, "permitted_violation", "permitted subtree violation"},
  {48, "excluded_violation", "excluded subtree violation"},
  {50, "application_verification", "application verification failure"},
  {62, "hostname_mismatch", "hostname mismatch"},
  {64, "ip_address_mismatch", "IP address mismatch"},
  {66, "ee_key_too_small", "EE certificate key too weak"},
  {67, "ca_key_too_small", "CA certificate key too weak"},
  {68, "ca_md_too_weak", "CA signature digest algorithm too weak"},
  /* the binding's own, where OpenSSL has no exact equivalent */
  {VERIFY_ERR_NAME_CONSTRAINTS, "name_constraints_violation", "name constraints violation"},
  {VERIFY_ERR_WEAK_DIGEST, "weak_signature_digest", "signature digest algorithm too weak"},
  {VERIFY_ERR_OCSP_NO_STAPLE, "ocsp_staple_missing", "no valid OCSP response was stapled"},
  {VERIFY_ERR_OCSP_BAD_RESPONSE, "ocsp_bad_response", "the stapled OCSP response is not usable"},
  {VERIFY_ERR_NO_PEER_CERT, "peer_certificate_missing", "peer did not return a certificate"},
  {VERIFY_ERR_SESSION_NOT_VERIFIED, "session_not_verified",
   "the resumed session comes from a handshake that did not verify the peer"},
  {VERIFY_ERR_SESSION_OTHER_HOST, "session_for_other_host",
   "the resumed session was verified for another host name"},
  {VERIFY_ERR_SESSION_UNKNOWN, "session_verification_unknown",
   "the resumed session does not record whether the peer was verified"},
  {-1, NULL, NULL}
};

/* wolfSSL codes -> X509_V_ERR numbers. wolfSSL also reports an expired leaf as 14 and
 * a not-yet-valid one as 13 (the "format error" numbers), item 4. */
static const int verify_map[][2] = {
  {13, 9},     {14, 10},    {-150, 9},   {-151, 10},  {-188, 20}, {-275, 18},
  {-155, 7},   {-322, 62},  {-325, 64},  {-361, 23},  {-360, 23}, {-362, 3},
  {-368, 22},  {-357, 24},  {-386, 26},  {-383, 26},  {-385, 26}, {-409, 66},
  {-410, 66},  {-329, 28},
  {-160, 34},   /* ASN_CRIT_EXT_E */
  {-366, VERIFY_ERR_OCSP_NO_STAPLE}, {-406, VERIFY_ERR_OCSP_BAD_RESPONSE},
  {-198, VERIFY_ERR_NAME_CONSTRAINTS}, /* ASN_NAME_INVALID_E: permitted or excluded */
  {0, 0}
};

int verify_normalize(int err) {
  int i;
  for (i = 0; verify_map[i][0] != 0; i++)
    if (verify_map[i][0] == err) return verify_map[i][1];
  return err;
}

static const Name *errors_find(const Name *t, int code) {
  for (; t->name; t++)
    if (t->code == code) return t;
  return NULL;
}

const char *alert_name(int code) {
  const Name *n = errors_find(alerts, code);
  return n ? n->name : NULL;
}

const char *verify_error_name(int err) {
  const Name *n = errors_find(verify_errors, verify_normalize(err));
  return n ? n->name : "unspecified";
}

const char *verify_error_text(int err) {
  const Name *n = errors_find(verify_errors, verify_normalize(err));
  return n ? n->text : "certificate verification failed";
}

int lw_error(lua_State *L, const char *code, const char *fmt, ...) {
  va_list ap;
  lua_pushnil(L);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_pushstring(L, code);
  return 3;
}

/* Malformed bytes from the peer, as opposed to a negotiation that failed. */
static int errors_is_malformed(int err) {
  switch (err) {
  case -305: /* VERIFY_MAC_ERROR: a record failed its integrity check */
  case -180: /* AES_GCM_AUTH_E: the same, reported by wolfCrypt for TLS 1.3 AES-GCM */
  case -181: /* AES_CCM_AUTH_E */
  case -213: /* MAC_CMP_FAILED_E: ChaCha20-Poly1305 tag mismatch */
  case -306: /* PARSE_ERROR */
  case -307: /* UNKNOWN_HANDSHAKE_TYPE */
  case -311: /* UNKNOWN_RECORD_TYPE */
  case -312: /* DECRYPT_ERROR */
  case -321: /* BAD_HELLO */
  case -328: /* BUFFER_ERROR */
  case -341: /* LENGTH_ERROR */
  case -376: /* RECV_OVERFLOW_E */
  case -404: /* HANDSHAKE_SIZE_ERROR */
  case -416: /* DECODE_E */
    return 1;
  }
  return 0;
}

static void errors_alert_suffix(char *buf, size_t len, int code) {
  const char *n = alert_name(code);
  if (n) snprintf(buf, len, " (sent alert %s)", n);
  else if (code >= 0) snprintf(buf, len, " (sent alert %d)", code);
  else buf[0] = '\0';
}

/* Latch a fatal error on c (later calls repeat it) and push nil, message, code. */
static int errors_fatal(lua_State *L, Conn *c, const char *code) {
  const char *msg = lua_tostring(L, -1);
  lw_free_str(&c->failed_msg);
  c->failed_msg = lw_strdup(msg);
  c->failed_code = code;
  lua_pushnil(L);
  lua_insert(L, -2);
  lua_pushstring(L, code);
  return 3;
}

/* nil, message, code for a failed wolfSSL_connect/accept/read/write/shutdown. */
int conn_error(lua_State *L, Conn *c, int rc, const char *what) {
  int err = wolfSSL_get_error(c->ssl, rc);
  WOLFSSL_ALERT_HISTORY h;
  char wolf[96], sent[48];
  memset(&h, 0, sizeof h);
  h.last_rx.code = h.last_tx.code = -1;
  if (c->flags & CONN_PAUSED) return lw_error(L, "paused", "paused");
  if (c->cb_error) {
    lua_pushfstring(L, "callback error: %s", c->cb_error);
    return errors_fatal(L, c, "callback");
  }
  if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
    if (c->flags & CONN_TIMEDOUT) return lw_error(L, "timeout", "timeout");
    return err == WOLFSSL_ERROR_WANT_READ ? lw_error(L, "wantread", "wantread")
                                          : lw_error(L, "wantwrite", "wantwrite");
  }
  if (err == WOLFSSL_ERROR_ZERO_RETURN) return lw_error(L, "closed", "closed");
  wolfSSL_get_alert_history(c->ssl, &h);
  errors_alert_suffix(sent, sizeof sent, h.last_tx.code);
  /* no client certificate, OCSP, unparsable certificates */
  if (c->verify_err == 0) verify_late_failure(c, err);
  if (c->verify_err) {
    /* verify.c words policy failures more precisely than the error's text */
    const char *why = c->verify_reason ? c->verify_reason : verify_error_text(c->verify_err);
    if (c->verify_subject)
      lua_pushfstring(L, "certificate verify failed: %s (depth %d, %s)%s", why, c->verify_depth,
                      c->verify_subject, sent);
    else
      lua_pushfstring(L, "certificate verify failed: %s%s", why, sent);
    return errors_fatal(L, c, "verify_failed");
  }
  if (err == -313 /* FATAL_ERROR: received an alert */ && h.last_rx.code >= 0) {
    const char *n = alert_name(h.last_rx.code);
    /* wolfSSL answers a HelloRequest with a no_renegotiation warning (RFC 5746 is not
     * built, item 9d); a peer that insists then aborts */
    const char *why = h.last_tx.code == 100 ? " (the peer asked to renegotiate, which is not supported)" : "";
    if (n) lua_pushfstring(L, "%s failed: received alert %s%s", what, n, why);
    else lua_pushfstring(L, "%s failed: received alert %d%s", what, h.last_rx.code, why);
    return errors_fatal(L, c, "alert");
  }
  if (err == -395 /* DUPLICATE_MSG_E */ && (c->flags & CONN_DONE) && c->role == ROLE_SERVER) {
    /* a ClientHello after the handshake: renegotiation, which wolfSSL refuses (9d) */
    lua_pushfstring(L, "%s failed: the peer tried to renegotiate, which is not supported%s", what, sent);
    return errors_fatal(L, c, "handshake_failed");
  }
  if (err == -308 || err == -397 || err == WOLFSSL_ERROR_SYSCALL) { /* the transport */
    if (c->io_errno) {
      lua_pushfstring(L, "%s failed: %s", what, strerror(c->io_errno));
      return errors_fatal(L, c, "io");
    }
    if (c->flags & CONN_EOF) {
      lua_pushfstring(L, "%s failed: connection closed by peer", what);
      return errors_fatal(L, c, "closed");
    }
  }
  wolfSSL_ERR_error_string_n((unsigned long)(err < 0 ? -err : err), wolf, sizeof wolf);
  if (errors_is_malformed(err)) {
    lua_pushfstring(L, "%s failed: malformed data from peer: %s (%d)%s", what, wolf, err, sent);
    return errors_fatal(L, c, "bad_input");
  }
  lua_pushfstring(L, "%s failed: %s (%d)%s", what, wolf, err, sent);
  return errors_fatal(L, c, "handshake_failed");
}

/* wolfssl.alert_name(n), wolfssl.verify_error(n) -> name, text: the binding's tables. */
static int errors_alert_name(lua_State *L) {
  const char *n = alert_name((int)luaL_checkinteger(L, 1));
  if (n) lua_pushstring(L, n);
  else lua_pushnil(L);
  return 1;
}

static int errors_verify_error(lua_State *L) {
  int e = (int)luaL_checkinteger(L, 1);
  lua_pushstring(L, verify_error_name(e));
  lua_pushstring(L, verify_error_text(e));
  return 2;
}

const luaL_Reg errors_functions[] = {
  {"alert_name", errors_alert_name},
  {"verify_error", errors_verify_error},
  {NULL, NULL}
};
