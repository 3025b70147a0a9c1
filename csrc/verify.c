/* Peer verification: the binding's verify callback and its host-name check.
 *
 * wolfSSL calls verify_callback for every certificate of the peer's chain (intermediates
 * first, then the leaf; never the trust anchor). The verdict is taken from the real
 * error (X509_STORE_CTX_get_error), not just the preverify flag, because wolfSSL reports
 * some failures with preverify=1 (wolfssl-notes.md item 4). The host check is done here,
 * against the subjectAltNames, rather than with wolfSSL_check_domain_name, so that IP
 * literals compare as parsed addresses and wildcards follow RFC 6125. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lwolfssl.h"

/* GeneralName choices (RFC 5280 4.2.1.6) */
#define SAN_DNS 2
#define SAN_IP 7

#define X509_V_ERR_UNSPECIFIED 1
#define X509_V_ERR_HOSTNAME_MISMATCH 62
#define X509_V_ERR_IP_ADDRESS_MISMATCH 64

void verify_reset(Conn *c) {
  c->verify_err = 0;
  c->verify_depth = 0;
  c->verify_seen = 0;
  lw_free_str(&c->verify_subject);
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
static int verify_dns_match(const char *pattern, size_t plen, const char *host) {
  size_t hlen = strlen(host);
  const char *pdot, *hdot;
  if (plen > 0 && pattern[plen - 1] == '.') plen--;
  if (plen == 0 || memchr(pattern, '\0', plen)) return 0; /* embedded NUL: forged name */
  if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {
    pdot = pattern + 1;
    if (memchr(pdot + 1, '.', plen - 2) == NULL) return 0; /* "*.com" */
    hdot = strchr(host, '.');
    if (hdot == NULL || hdot == host) return 0;
    return (size_t)(host + hlen - hdot) == plen - 1 && strncasecmp(hdot, pdot, plen - 1) == 0;
  }
  if (memchr(pattern, '*', plen)) return 0; /* partial wildcards are not honoured */
  return plen == hlen && strncasecmp(pattern, host, plen) == 0;
}

/* Does cert carry a subjectAltName matching c->host? Returns the X509_V_ERR code. */
static int verify_host(Conn *c, WOLFSSL_X509 *cert) {
  WOLFSSL_STACK *names = wolfSSL_X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  int i, n, match = 0;
  n = names ? wolfSSL_sk_GENERAL_NAME_num(names) : 0;
  for (i = 0; i < n && !match; i++) {
    WOLFSSL_GENERAL_NAME *g = wolfSSL_sk_GENERAL_NAME_value(names, i);
    WOLFSSL_ASN1_STRING *s;
    if (g == NULL) continue;
    if (c->host_is_ip && g->type == SAN_IP && (s = g->d.iPAddress) != NULL) {
      match = wolfSSL_ASN1_STRING_length(s) == c->host_is_ip &&
              memcmp(wolfSSL_ASN1_STRING_data(s), c->host_ip, (size_t)c->host_is_ip) == 0;
    } else if (!c->host_is_ip && g->type == SAN_DNS && (s = g->d.dNSName) != NULL) {
      match = verify_dns_match((const char *)wolfSSL_ASN1_STRING_data(s),
                               (size_t)wolfSSL_ASN1_STRING_length(s), c->host);
    }
  }
  if (names) wolfSSL_sk_GENERAL_NAME_pop_free(names, wolfSSL_GENERAL_NAME_free);
  if (match) return 0;
  return c->host_is_ip ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH;
}

static void verify_record(Conn *c, int err, int depth, WOLFSSL_X509 *cert) {
  char line[256];
  if (c->verify_err != 0) return; /* the first failure is the one worth naming */
  c->verify_err = err;
  c->verify_depth = depth;
  lw_free_str(&c->verify_subject);
  if (cert) {
    x509_subject_line(cert, line, sizeof line);
    c->verify_subject = lw_strdup(line);
  }
}

int verify_callback(int preverify, WOLFSSL_X509_STORE_CTX *store) {
  WOLFSSL *ssl = wolfSSL_X509_STORE_CTX_get_ex_data(store,
                                                    wolfSSL_get_ex_data_X509_STORE_CTX_idx());
  Conn *c = conn_from_ssl(ssl);
  WOLFSSL_X509 *cert = wolfSSL_X509_STORE_CTX_get_current_cert(store);
  int err = wolfSSL_X509_STORE_CTX_get_error(store);
  int depth = wolfSSL_X509_STORE_CTX_get_error_depth(store);
  if (c == NULL) return 0; /* not ours: fail closed */
  if (cert == NULL) return preverify && err == 0; /* server, no client cert, optional */
  c->verify_seen = 1;
  if (!preverify && err == 0) err = X509_V_ERR_UNSPECIFIED;
  if (err == 0 && depth == 0 && c->host) err = verify_host(c, cert);
  if (err != 0) {
    verify_record(c, err, depth, cert);
    return 0;
  }
  return 1;
}
