/* Certificate userdata over WOLFSSL_X509. Every Certificate owns its own parsed copy,
 * so one taken from a connection stays valid after that connection is closed or
 * collected (DESIGN.md bridge rule 5). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lwolfssl.h"
#include <wolfssl/openssl/ec.h>
#include <wolfssl/openssl/evp.h>
#include <wolfssl/openssl/x509v3.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/coding.h>

typedef struct CertUd {
  WOLFSSL_X509 *x;
} CertUd;

static CertUd *x509_checkcert(lua_State *L, int i) {
  CertUd *c = luaL_checkudata(L, i, LW_CERT);
  if (c->x == NULL) luaL_argerror(L, i, "certificate is freed");
  return c;
}

WOLFSSL_X509 *x509_check(lua_State *L, int i) { return x509_checkcert(L, i)->x; }

static int x509_push_owned(lua_State *L, WOLFSSL_X509 *x) {
  CertUd *c = lw_newuserdata(L, sizeof *c);
  c->x = x;
  luaL_getmetatable(L, LW_CERT);
  lua_setmetatable(L, -2);
  return 1;
}

/* A fresh parse of x's DER: independent of the connection or store x belongs to. */
int x509_push_copy(lua_State *L, WOLFSSL_X509 *x) {
  int n = 0;
  const unsigned char *der = x ? wolfSSL_X509_get_der(x, &n) : NULL;
  WOLFSSL_X509 *copy = der ? wolfSSL_X509_d2i(NULL, der, n) : NULL;
  if (copy == NULL) {
    lua_pushnil(L);
    return 1;
  }
  return x509_push_owned(L, copy);
}

int x509_push_der(lua_State *L, const unsigned char *der, int n) {
  WOLFSSL_X509 *x = der && n > 0 ? wolfSSL_X509_d2i(NULL, der, n) : NULL;
  if (x == NULL) {
    lua_pushnil(L);
    return 1;
  }
  return x509_push_owned(L, x);
}

/* wolfssl.certificate(pem_or_der) -> Certificate | nil, message */
static int x509_new(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int pem = memmem(s, n, "-----BEGIN", 10) != NULL;
  WOLFSSL_X509 *x = wolfSSL_X509_load_certificate_buffer(
      (const unsigned char *)s, (int)n, pem ? WOLFSSL_FILETYPE_PEM : WOLFSSL_FILETYPE_ASN1);
  if (x == NULL) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot parse certificate (%s)", pem ? "bad PEM" : "not DER or PEM");
    return 2;
  }
  return x509_push_owned(L, x);
}

static int x509_free(lua_State *L) {
  CertUd *c = luaL_checkudata(L, 1, LW_CERT);
  if (c->x) {
    wolfSSL_X509_free(c->x);
    c->x = NULL;
  }
  return 0;
}

/* RFC 4514 value escaping: ,+"\<>; anywhere, '#' or ' ' first, ' ' last. */
static void x509_escape(luaL_Buffer *b, const char *v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    char ch = v[i];
    if (strchr(",+\"\\<>;", ch) || (i == 0 && (ch == '#' || ch == ' ')) ||
        (i == n - 1 && ch == ' '))
      luaL_addchar(b, '\\');
    luaL_addchar(b, ch);
  }
}

/* __tostring of a name list: RFC 4514, most specific attribute first. */
static int x509_name_tostring(lua_State *L) {
  luaL_Buffer b;
  int i, n = (int)lua_rawlen(L, 1);
  luaL_buffinit(L, &b);
  for (i = n; i >= 1; i--) {
    size_t vl;
    const char *v;
    lua_rawgeti(L, 1, i);
    lua_getfield(L, -1, "name");
    luaL_addstring(&b, lua_tostring(L, -1));
    lua_pop(L, 1);
    luaL_addchar(&b, '=');
    lua_getfield(L, -1, "value");
    v = lua_tolstring(L, -1, &vl);
    x509_escape(&b, v ? v : "", v ? vl : 0);
    lua_pop(L, 2);
    if (i > 1) luaL_addchar(&b, ',');
  }
  luaL_pushresult(&b);
  return 1;
}

/* Push an X509_NAME as an ordered list of {name=, value=} with an RFC 4514 __tostring. */
static void x509_push_name(lua_State *L, WOLFSSL_X509_NAME *nm) {
  int i, n = nm ? wolfSSL_X509_NAME_entry_count(nm) : 0;
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    WOLFSSL_X509_NAME_ENTRY *e = wolfSSL_X509_NAME_get_entry(nm, i);
    WOLFSSL_ASN1_OBJECT *o = e ? wolfSSL_X509_NAME_ENTRY_get_object(e) : NULL;
    WOLFSSL_ASN1_STRING *d = e ? wolfSSL_X509_NAME_ENTRY_get_data(e) : NULL;
    const char *sn = o ? wolfSSL_OBJ_nid2sn(wolfSSL_OBJ_obj2nid(o)) : NULL;
    char oid[64];
    if (sn == NULL && o && wolfSSL_OBJ_obj2txt(oid, sizeof oid, o, 1) > 0) sn = oid;
    lua_createtable(L, 0, 2);
    lua_pushstring(L, sn ? sn : "?");
    lua_setfield(L, -2, "name");
    if (d) lua_pushlstring(L, (const char *)wolfSSL_ASN1_STRING_data(d),
                           (size_t)wolfSSL_ASN1_STRING_length(d));
    else lua_pushliteral(L, "");
    lua_setfield(L, -2, "value");
    lua_rawseti(L, -2, i + 1);
  }
  if (luaL_newmetatable(L, "wolfssl.Name")) {
    lua_pushcfunction(L, x509_name_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
}

/* The subject as one RFC 4514 line ("CN=leaf,O=Org") for error messages, without Lua. */
void x509_subject_line(WOLFSSL_X509 *x, char *buf, size_t len) {
  WOLFSSL_X509_NAME *nm = wolfSSL_X509_get_subject_name(x);
  int i = nm ? wolfSSL_X509_NAME_entry_count(nm) : 0;
  size_t o = 0;
  buf[0] = '\0';
  while (--i >= 0 && o + 4 < len) {
    WOLFSSL_X509_NAME_ENTRY *e = wolfSSL_X509_NAME_get_entry(nm, i);
    WOLFSSL_ASN1_OBJECT *ob = e ? wolfSSL_X509_NAME_ENTRY_get_object(e) : NULL;
    WOLFSSL_ASN1_STRING *d = e ? wolfSSL_X509_NAME_ENTRY_get_data(e) : NULL;
    const char *sn = ob ? wolfSSL_OBJ_nid2sn(wolfSSL_OBJ_obj2nid(ob)) : NULL;
    int n = snprintf(buf + o, len - o, "%s%s=%.*s", o ? "," : "", sn ? sn : "?",
                     d ? wolfSSL_ASN1_STRING_length(d) : 0,
                     d ? (const char *)wolfSSL_ASN1_STRING_data(d) : "");
    if (n < 0) break;
    o += (size_t)n;
  }
  if (o >= len) buf[len - 1] = '\0';
}

static int x509_subject(lua_State *L) {
  x509_push_name(L, wolfSSL_X509_get_subject_name(x509_check(L, 1)));
  return 1;
}

static int x509_issuer(lua_State *L) {
  x509_push_name(L, wolfSSL_X509_get_issuer_name(x509_check(L, 1)));
  return 1;
}

static int x509_der(lua_State *L) {
  int n = 0;
  const unsigned char *der = wolfSSL_X509_get_der(x509_check(L, 1), &n);
  if (der == NULL) return luaL_error(L, "certificate has no DER encoding");
  lua_pushlstring(L, (const char *)der, (size_t)n);
  return 1;
}

static int x509_pem(lua_State *L) {
  WOLFSSL_X509 *x = x509_check(L, 1);
  WOLFSSL_BIO *bio = wolfSSL_BIO_new(wolfSSL_BIO_s_mem());
  char *p = NULL;
  int n;
  if (bio == NULL) return luaL_error(L, "out of memory");
  if (wolfSSL_PEM_write_bio_X509(bio, x) != WOLFSSL_SUCCESS ||
      (n = wolfSSL_BIO_get_mem_data(bio, &p)) <= 0) {
    wolfSSL_BIO_free(bio);
    return luaL_error(L, "cannot encode certificate as PEM");
  }
  lua_pushlstring(L, p, (size_t)n);
  wolfSSL_BIO_free(bio);
  return 1;
}

static int x509_eq(lua_State *L) {
  CertUd *a = luaL_testudata(L, 1, LW_CERT), *b = luaL_testudata(L, 2, LW_CERT);
  int na = 0, nb = 0;
  const unsigned char *da, *db;
  if (!a || !b || !a->x || !b->x) {
    lua_pushboolean(L, a == b);
    return 1;
  }
  da = wolfSSL_X509_get_der(a->x, &na);
  db = wolfSSL_X509_get_der(b->x, &nb);
  lua_pushboolean(L, da && db && na == nb && memcmp(da, db, (size_t)na) == 0);
  return 1;
}

static int x509_tostring(lua_State *L) {
  CertUd *c = luaL_checkudata(L, 1, LW_CERT);
  char line[256];
  if (c->x == NULL) {
    lua_pushliteral(L, "wolfssl.Certificate (freed)");
    return 1;
  }
  x509_subject_line(c->x, line, sizeof line);
  lua_pushfstring(L, "wolfssl.Certificate: %s", line);
  return 1;
}

/* wolfssl.certificates(pem_bundle) -> {Certificate...} | nil, message: every
 * certificate of a PEM bundle, in order. */
static int x509_new_list(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  WOLFSSL_BIO *bio = wolfSSL_BIO_new_mem_buf(s, (int)n);
  WOLFSSL_X509 *x;
  int k = 0;
  if (bio == NULL) return luaL_error(L, "out of memory");
  lua_newtable(L);
  while ((x = wolfSSL_PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    x509_push_owned(L, x);
    lua_rawseti(L, -2, ++k);
  }
  wolfSSL_BIO_free(bio);
  wolfSSL_ERR_clear_error(); /* the reader's end-of-input leaves an error queued */
  if (k == 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "no PEM certificate found");
    return 2;
  }
  return 1;
}

static void x509_push_hex(lua_State *L, const unsigned char *p, int n, int upper) {
  static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
  const char *digits = upper ? up : lo;
  luaL_Buffer b;
  int i;
  luaL_buffinit(L, &b);
  for (i = 0; i < n; i++) {
    luaL_addchar(&b, digits[p[i] >> 4]);
    luaL_addchar(&b, digits[p[i] & 15]);
  }
  luaL_pushresult(&b);
}

/* serial() -> upper-case hex, as `openssl x509 -serial` and LuaSec print it */
static int x509_serial(lua_State *L) {
  unsigned char buf[64];
  int n = sizeof buf;
  if (wolfSSL_X509_get_serial_number(x509_check(L, 1), buf, &n) != WOLFSSL_SUCCESS)
    return luaL_error(L, "certificate has no readable serial number");
  x509_push_hex(L, buf, n, 1);
  return 1;
}

static int x509_push_time(lua_State *L, const WOLFSSL_ASN1_TIME *t) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (t == NULL || wolfSSL_ASN1_TIME_to_tm(t, &tm) != WOLFSSL_SUCCESS) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, (lua_Integer)timegm(&tm));
  return 1;
}

static int x509_not_before(lua_State *L) {
  return x509_push_time(L, wolfSSL_X509_get_notBefore(x509_check(L, 1)));
}

static int x509_not_after(lua_State *L) {
  return x509_push_time(L, wolfSSL_X509_get_notAfter(x509_check(L, 1)));
}

static void x509_append(lua_State *L, int t, const char *key, const char *v, size_t n) {
  lua_getfield(L, t, key);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, t, key);
  }
  lua_pushlstring(L, v, n);
  lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
}

/* alt_names() -> {dns = {...}, ip = {...}, email = {...}, uri = {...}} in certificate
 * order (X509_get_ext_d2i lists them reversed, wolfssl-notes.md item 8); IPs as text. */
static int x509_alt_names(lua_State *L) {
  WOLFSSL_STACK *names = wolfSSL_X509_get_ext_d2i(x509_check(L, 1), NID_subject_alt_name, NULL, NULL);
  int i, n = names ? wolfSSL_sk_GENERAL_NAME_num(names) : 0, t;
  lua_newtable(L);
  t = lua_gettop(L);
  for (i = n - 1; i >= 0; i--) {
    WOLFSSL_GENERAL_NAME *g = wolfSSL_sk_GENERAL_NAME_value(names, i);
    WOLFSSL_ASN1_STRING *s = g ? g->d.ia5 : NULL; /* a union of ASN1_STRINGs */
    const char *key = NULL;
    if (s == NULL) continue;
    switch (g->type) {
    case GEN_DNS: key = "dns"; break;
    case GEN_EMAIL: key = "email"; break;
    case GEN_URI: key = "uri"; break;
    case GEN_IPADD: {
      char text[INET6_ADDRSTRLEN];
      int len = wolfSSL_ASN1_STRING_length(s);
      if ((len == 4 || len == 16) &&
          inet_ntop(len == 4 ? AF_INET : AF_INET6, wolfSSL_ASN1_STRING_data(s), text, sizeof text))
        x509_append(L, t, "ip", text, strlen(text));
      continue;
    }
    }
    if (key)
      x509_append(L, t, key, (const char *)wolfSSL_ASN1_STRING_data(s), (size_t)wolfSSL_ASN1_STRING_length(s));
  }
  if (names) wolfSSL_sk_GENERAL_NAME_pop_free(names, wolfSSL_GENERAL_NAME_free);
  return 1;
}

static const WOLFSSL_EVP_MD *x509_md(lua_State *L, int i) {
  static const char *const names[] = {"sha256", "sha1", "sha384", "sha512", "md5", "sha224", NULL};
  switch (luaL_checkoption(L, i, "sha256", names)) {
  case 1: return wolfSSL_EVP_sha1();
  case 2: return wolfSSL_EVP_sha384();
  case 3: return wolfSSL_EVP_sha512();
  case 4: return wolfSSL_EVP_md5();
  case 5: return wolfSSL_EVP_sha224();
  }
  return wolfSSL_EVP_sha256();
}

/* fingerprint([alg]) -> lower-case hex digest of the DER (LuaSec's cert:digest()) */
static int x509_fingerprint(lua_State *L) {
  WOLFSSL_X509 *x = x509_check(L, 1);
  unsigned char md[WC_MAX_DIGEST_SIZE];
  unsigned int n = sizeof md;
  if (wolfSSL_X509_digest(x, x509_md(L, 2), md, &n) != WOLFSSL_SUCCESS)
    return luaL_error(L, "digest failed");
  x509_push_hex(L, md, (int)n, 0);
  return 1;
}

/* spki_pin([alg]) -> base64 of the digest of the SubjectPublicKeyInfo (RFC 7469 2.4),
 * the "pin-sha256" value HPKP and curl's --pinnedpubkey use. */
static int x509_spki_pin(lua_State *L) {
  WOLFSSL_X509 *x = x509_check(L, 1);
  const WOLFSSL_EVP_MD *md = x509_md(L, 2);
  unsigned char spki[4096], dig[WC_MAX_DIGEST_SIZE], b64[128];
  int n = sizeof spki;
  unsigned int dn = sizeof dig;
  word32 bn = sizeof b64;
  if (wolfSSL_X509_get_pubkey_buffer(x, spki, &n) != WOLFSSL_SUCCESS ||
      wolfSSL_EVP_Digest(spki, (size_t)n, dig, &dn, md, NULL) != WOLFSSL_SUCCESS ||
      Base64_Encode_NoNl(dig, dn, b64, &bn) != 0)
    return luaL_error(L, "cannot compute the SPKI pin");
  lua_pushlstring(L, (const char *)b64, bn);
  return 1;
}

static const char *x509_curve_name(int nid) {
  switch (nid) {
  case NID_X9_62_prime256v1: return "P-256";
  case NID_secp384r1: return "P-384";
  case NID_secp521r1: return "P-521";
  case NID_secp224r1: return "P-224";
  }
  return wolfSSL_OBJ_nid2sn(nid);
}

/* public_key() -> {type = "rsa" | "ec" | "dsa", bits = n, curve = "P-256"} (the TLS
 * certificate key types of this wolfSSL build) */
static int x509_public_key(lua_State *L) {
  WOLFSSL_EVP_PKEY *pk = wolfSSL_X509_get_pubkey(x509_check(L, 1));
  int id;
  if (pk == NULL) return luaL_error(L, "cannot read the public key");
  id = wolfSSL_EVP_PKEY_id(pk);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, id == EVP_PKEY_RSA ? "rsa" : id == EVP_PKEY_EC ? "ec" : id == EVP_PKEY_DSA ? "dsa"
                    : "unknown");
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, wolfSSL_EVP_PKEY_bits(pk));
  lua_setfield(L, -2, "bits");
  if (id == EVP_PKEY_EC) {
    WOLFSSL_EC_KEY *ec = wolfSSL_EVP_PKEY_get1_EC_KEY(pk);
    const WOLFSSL_EC_GROUP *g = ec ? wolfSSL_EC_KEY_get0_group(ec) : NULL;
    const char *c = g ? x509_curve_name(wolfSSL_EC_GROUP_get_curve_name(g)) : NULL;
    if (c) {
      lua_pushstring(L, c);
      lua_setfield(L, -2, "curve");
    }
    wolfSSL_EC_KEY_free(ec);
  }
  wolfSSL_EVP_PKEY_free(pk);
  return 1;
}

/* signature_algorithm() -> the name `openssl x509 -text` prints. wolfSSL gives its
 * internal OID sum (wolfssl-notes.md item 8), so the binding names them itself. */
static int x509_signature_algorithm(lua_State *L) {
  static const struct {
    int type;
    const char *name;
  } algs[] = {
    {CTC_SHA256wRSA, "sha256WithRSAEncryption"}, {CTC_SHA384wRSA, "sha384WithRSAEncryption"},
    {CTC_SHA512wRSA, "sha512WithRSAEncryption"}, {CTC_SHA224wRSA, "sha224WithRSAEncryption"},
    {CTC_SHAwRSA, "sha1WithRSAEncryption"},      {CTC_MD5wRSA, "md5WithRSAEncryption"},
    {CTC_MD2wRSA, "md2WithRSAEncryption"},       {CTC_SHA256wECDSA, "ecdsa-with-SHA256"},
    {CTC_SHA384wECDSA, "ecdsa-with-SHA384"},     {CTC_SHA512wECDSA, "ecdsa-with-SHA512"},
    {CTC_SHA224wECDSA, "ecdsa-with-SHA224"},     {CTC_SHAwECDSA, "ecdsa-with-SHA1"},
    {CTC_RSASSAPSS, "rsassaPss"},                {CTC_ED25519, "ED25519"},
    {CTC_ED448, "ED448"},                        {CTC_SHAwDSA, "dsaWithSHA1"},
    {CTC_SHA256wDSA, "dsa_with_SHA256"},         {0, NULL}
  };
  int t = wolfSSL_X509_get_signature_type(x509_check(L, 1)), i;
  for (i = 0; algs[i].name; i++)
    if (algs[i].type == t) {
      lua_pushstring(L, algs[i].name);
      return 1;
    }
  lua_pushfstring(L, "unknown (%d)", t);
  return 1;
}

static int x509_is_ca(lua_State *L) {
  lua_pushboolean(L, wolfSSL_X509_get_isCA(x509_check(L, 1)));
  return 1;
}

/* The names of the bits set in an extension's value, in table order; nil without the
 * extension (RFC 5280: any purpose). */
typedef struct X509Bit {
  unsigned bit;
  const char *name;
} X509Bit;

static int x509_push_bits(lua_State *L, WOLFSSL_X509 *x, int nid, unsigned value, const X509Bit *bits) {
  int i, k = 0;
  if (wolfSSL_X509_get_ext_by_NID(x, nid, -1) < 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_newtable(L);
  for (i = 0; bits[i].name; i++)
    if (value & bits[i].bit) {
      lua_pushstring(L, bits[i].name);
      lua_rawseti(L, -2, ++k);
    }
  return 1;
}

/* key_usage() -> {"digitalSignature", ...} (RFC 5280 4.2.1.3 names, bit order);
 * nil without the extension */
static int x509_key_usage(lua_State *L) {
  static const X509Bit bits[] = {
    {KEYUSE_DIGITAL_SIG, "digitalSignature"}, {KEYUSE_CONTENT_COMMIT, "nonRepudiation"},
    {KEYUSE_KEY_ENCIPHER, "keyEncipherment"}, {KEYUSE_DATA_ENCIPHER, "dataEncipherment"},
    {KEYUSE_KEY_AGREE, "keyAgreement"},       {KEYUSE_KEY_CERT_SIGN, "keyCertSign"},
    {KEYUSE_CRL_SIGN, "cRLSign"},             {KEYUSE_ENCIPHER_ONLY, "encipherOnly"},
    {KEYUSE_DECIPHER_ONLY, "decipherOnly"},   {0, NULL}
  };
  WOLFSSL_X509 *x = x509_check(L, 1);
  return x509_push_bits(L, x, NID_key_usage, wolfSSL_X509_get_keyUsage(x), bits);
}

/* extended_key_usage() -> {"serverAuth", "clientAuth", ...}; nil without the extension */
static int x509_extended_key_usage(lua_State *L) {
  static const X509Bit bits[] = {
    {XKU_SSL_SERVER, "serverAuth"},    {XKU_SSL_CLIENT, "clientAuth"}, {XKU_CODE_SIGN, "codeSigning"},
    {XKU_SMIME, "emailProtection"},    {XKU_TIMESTAMP, "timeStamping"}, {XKU_OCSP_SIGN, "OCSPSigning"},
    {XKU_ANYEKU, "anyExtendedKeyUsage"}, {0, NULL}
  };
  WOLFSSL_X509 *x = x509_check(L, 1);
  return x509_push_bits(L, x, NID_ext_key_usage, wolfSSL_X509_get_extended_key_usage(x), bits);
}

/* ---- extensions() from the DER -------------------------------------------------------
 * wolfSSL_X509_get_ext() re-parses the extension through wolfSSL_X509_set_ext, which
 * double-frees on some malformed extensions (wolfSSL 5.5.4; found by `make fuzz`, the
 * cert target, crash input reduced to one changed byte of a valid certificate). The
 * binding therefore reads the list itself from the certificate's DER (RFC 5280 4.1):
 * Certificate -> tbsCertificate -> [3] EXPLICIT Extensions -> Extension {extnID,
 * critical BOOLEAN DEFAULT FALSE, extnValue}. */

/* The DER element at p[0..n): tag, and its contents as [*c, *c + *clen). 0 if bad. */
static int x509_tlv(const unsigned char *p, size_t n, int *tag, const unsigned char **c, size_t *clen) {
  size_t len, i, k;
  if (n < 2) return 0;
  *tag = p[0];
  if (p[1] < 0x80) {
    len = p[1];
    i = 2;
  } else {
    k = p[1] & 0x7f;
    if (k == 0 || k > 4 || n < 2 + k) return 0;
    for (len = 0, i = 0; i < k; i++) len = (len << 8) | p[2 + i];
    i = 2 + k;
  }
  if (len > n - i) return 0;
  *c = p + i;
  *clen = len;
  return 1;
}

/* dotted text of an OID's contents into buf; 0 if malformed */
static int x509_oid_text(const unsigned char *p, size_t n, char *buf, size_t size) {
  size_t i, used = 0;
  unsigned long v = 0;
  int first = 1, w;
  if (n == 0) return 0;
  for (i = 0; i < n; i++) {
    if (v > (~0UL >> 7)) return 0;
    v = (v << 7) | (p[i] & 0x7f);
    if (p[i] & 0x80) continue;
    if (first) {
      unsigned long a = v < 80 ? v / 40 : 2;
      w = snprintf(buf + used, size - used, "%lu.%lu", a, v - a * 40);
      first = 0;
    } else {
      w = snprintf(buf + used, size - used, ".%lu", v);
    }
    if (w < 0 || (size_t)w >= size - used) return 0;
    used += (size_t)w;
    v = 0;
  }
  return (p[n - 1] & 0x80) == 0;
}

/* extensions() -> {{oid = "2.5.29.19", name = "basicConstraints", critical = true}, ...} */
static int x509_extensions(lua_State *L) {
  WOLFSSL_X509 *x = x509_check(L, 1);
  int dlen = 0, tag, k = 0;
  const unsigned char *der = wolfSSL_X509_get_der(x, &dlen), *c, *tbs, *q;
  size_t clen, tlen, qlen;
  lua_newtable(L);
  if (der == NULL || dlen <= 0 || !x509_tlv(der, (size_t)dlen, &tag, &c, &clen) || tag != 0x30 ||
      !x509_tlv(c, clen, &tag, &tbs, &tlen) || tag != 0x30)
    return 1;
  /* the fields of tbsCertificate up to [3]: skip until the context tag 0xa3 */
  for (q = tbs; q < tbs + tlen; q = c + clen) {
    if (!x509_tlv(q, (size_t)(tbs + tlen - q), &tag, &c, &clen)) return 1;
    if (tag == 0xa3) break;
  }
  if (q >= tbs + tlen || !x509_tlv(c, clen, &tag, &q, &qlen) || tag != 0x30) return 1;
  for (c = q; c < q + qlen;) {
    const unsigned char *e, *f;
    size_t elen, flen;
    char oid[128];
    int nid, critical = 0;
    const char *sn;
    if (!x509_tlv(c, (size_t)(q + qlen - c), &tag, &e, &elen) || tag != 0x30) break;
    c = e + elen;
    if (!x509_tlv(e, elen, &tag, &f, &flen) || tag != 0x06 || !x509_oid_text(f, flen, oid, sizeof oid))
      continue;
    {
      const unsigned char *g = f + flen, *h;
      size_t hlen;
      if (g < e + elen && x509_tlv(g, (size_t)(e + elen - g), &tag, &h, &hlen) && tag == 0x01 && hlen == 1)
        critical = h[0] != 0;
    }
    nid = wolfSSL_OBJ_txt2nid(oid);
    sn = nid > 0 ? wolfSSL_OBJ_nid2sn(nid) : NULL;
    lua_createtable(L, 0, 3);
    lua_pushstring(L, oid);
    lua_setfield(L, -2, "oid");
    lua_pushstring(L, sn ? sn : oid);
    lua_setfield(L, -2, "name");
    lua_pushboolean(L, critical);
    lua_setfield(L, -2, "critical");
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

/* check_host(name) -> bool: DNS names by RFC 6125 against the dNSNames (no CN), IP
 * literals as addresses against the iPAddresses, as a verifying client does. */
static int x509_check_host(lua_State *L) {
  WOLFSSL_X509 *x = x509_check(L, 1);
  size_t n;
  const char *name = luaL_checklstring(L, 2, &n);
  unsigned char ip[16];
  char host[256];
  if (n >= sizeof host) {
    lua_pushboolean(L, 0);
    return 1;
  }
  memcpy(host, name, n + 1);
  if (n > 2 && host[0] == '[' && host[n - 1] == ']') { /* "[::1]" */
    memmove(host, host + 1, n - 2);
    host[n - 2] = '\0';
  }
  if (inet_pton(AF_INET, host, ip) == 1) lua_pushboolean(L, verify_san_match(x, host, ip, 4, NULL));
  else if (inet_pton(AF_INET6, host, ip) == 1) lua_pushboolean(L, verify_san_match(x, host, ip, 16, NULL));
  else lua_pushboolean(L, verify_san_match(x, host, NULL, 0, NULL));
  return 1;
}

/* check_ip(addr) -> bool; raises for something that is not an IP address */
static int x509_check_ip(lua_State *L) {
  WOLFSSL_X509 *x = x509_check(L, 1);
  const char *addr = luaL_checkstring(L, 2);
  unsigned char ip[16];
  int len = inet_pton(AF_INET, addr, ip) == 1 ? 4 : inet_pton(AF_INET6, addr, ip) == 1 ? 16 : 0;
  if (len == 0) return luaL_argerror(L, 2, "not an IPv4 or IPv6 address");
  lua_pushboolean(L, verify_san_match(x, addr, ip, len, NULL));
  return 1;
}

/* issued_by(other) -> bool: other's subject is this one's issuer and its key verifies
 * this certificate's signature */
static int x509_issued_by(lua_State *L) {
  WOLFSSL_X509 *x = x509_check(L, 1), *issuer = x509_check(L, 2);
  WOLFSSL_EVP_PKEY *pk;
  int ok = 0;
  if (wolfSSL_X509_check_issued(issuer, x) == 0 && (pk = wolfSSL_X509_get_pubkey(issuer)) != NULL) {
    ok = wolfSSL_X509_verify(x, pk) == WOLFSSL_SUCCESS;
    wolfSSL_EVP_PKEY_free(pk);
  }
  wolfSSL_ERR_clear_error();
  lua_pushboolean(L, ok);
  return 1;
}

static const luaL_Reg x509_methods[] = {
  {"subject", x509_subject},
  {"issuer", x509_issuer},
  {"serial", x509_serial},
  {"not_before", x509_not_before},
  {"not_after", x509_not_after},
  {"alt_names", x509_alt_names},
  {"fingerprint", x509_fingerprint},
  {"spki_pin", x509_spki_pin},
  {"public_key", x509_public_key},
  {"signature_algorithm", x509_signature_algorithm},
  {"is_ca", x509_is_ca},
  {"key_usage", x509_key_usage},
  {"extended_key_usage", x509_extended_key_usage},
  {"extensions", x509_extensions},
  {"check_host", x509_check_host},
  {"check_ip", x509_check_ip},
  {"issued_by", x509_issued_by},
  {"der", x509_der},
  {"pem", x509_pem},
  {NULL, NULL}
};

static const luaL_Reg x509_meta[] = {
  {"__gc", x509_free},
  {"__eq", x509_eq},
  {"__tostring", x509_tostring},
  {NULL, NULL}
};

const luaL_Reg x509_functions[] = {
  {"certificate", x509_new},
  {"certificates", x509_new_list},
  {NULL, NULL}
};

/* Leaves the methods table on the stack (core.Certificate). */
void x509_open(lua_State *L) { lw_class(L, LW_CERT, x509_meta, x509_methods); }
