/* Keys and certificates made with wolfSSL's own generation API (WOLFSSL_KEY_GEN,
 * WOLFSSL_CERT_GEN, WOLFSSL_CERT_EXT in the Debian build), for wolfssl.pki.
 *
 * The C side is mechanical: generate or load a key, encode it, sign bytes, and turn a
 * table of already-decided fields into a TBSCertificate (wc_MakeCert_ex) and a signed
 * certificate (wc_SignCert_ex). Names, dates, SANs and any extension wolfSSL's Cert
 * struct cannot express are DER-encoded by pki.lua and passed in as bytes. */
#include <stdlib.h>
#include <string.h>

#include "lwolfssl.h"
#include <wolfssl/openssl/evp.h>
#include <wolfssl/openssl/pem.h>
#include <wolfssl/openssl/rsa.h>
#include <wolfssl/openssl/ec.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/signature.h>

#define LW_KEY "wolfssl.Key"
#define PKI_MAX_DER 16384 /* a certificate or key this binding makes stays far below */

typedef struct Key {
  int type; /* RSA_TYPE | ECC_TYPE, 0 = not initialised */
  union {
    RsaKey rsa;
    ecc_key ecc;
  } k;
} Key;

static Key *pki_checkkey(lua_State *L, int i) {
  Key *k = luaL_checkudata(L, i, LW_KEY);
  if (k->type == 0) luaL_argerror(L, i, "key is freed");
  return k;
}

static int pki_key_free(lua_State *L) {
  Key *k = luaL_checkudata(L, 1, LW_KEY);
  if (k->type == RSA_TYPE) wc_FreeRsaKey(&k->k.rsa);
  else if (k->type == ECC_TYPE) wc_ecc_free(&k->k.ecc);
  k->type = 0;
  return 0;
}

static Key *pki_newkey(lua_State *L) {
  Key *k = lw_newuserdata(L, sizeof *k);
  memset(k, 0, sizeof *k);
  luaL_getmetatable(L, LW_KEY);
  lua_setmetatable(L, -2);
  return k;
}

static int pki_fail(lua_State *L, const char *what, int rc) {
  char buf[96];
  wolfSSL_ERR_error_string_n((unsigned long)(rc < 0 ? -rc : rc), buf, sizeof buf);
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s (%d)", what, buf, rc);
  return 2;
}

/* Curves by the names RFC 8422 / NIST use, and OpenSSL's. */
static const struct {
  const char *name;
  int id;
} pki_curves[] = {
  {"P-256", ECC_SECP256R1}, {"prime256v1", ECC_SECP256R1}, {"secp256r1", ECC_SECP256R1},
  {"P-384", ECC_SECP384R1}, {"secp384r1", ECC_SECP384R1},
  {"P-521", ECC_SECP521R1}, {"secp521r1", ECC_SECP521R1},
  {"P-224", ECC_SECP224R1}, {"secp224r1", ECC_SECP224R1},
  {NULL, 0}
};

static const char *pki_curve_name(int id) {
  int i;
  for (i = 0; pki_curves[i].name; i++)
    if (pki_curves[i].id == id) return pki_curves[i].name;
  return NULL;
}

/* pki_generate_key("ec", curve) | ("rsa", bits) -> Key | nil, message */
static int pki_generate_key(lua_State *L) {
  static const char *const kinds[] = {"ec", "rsa", NULL};
  int kind = luaL_checkoption(L, 1, NULL, kinds), rc, i;
  WC_RNG rng;
  Key *k;
  if (wc_InitRng(&rng) != 0) return luaL_error(L, "cannot initialise the RNG");
  k = pki_newkey(L);
  if (kind == 0) {
    const char *curve = luaL_optstring(L, 2, "P-256");
    int id = 0;
    for (i = 0; pki_curves[i].name; i++)
      if (strcmp(pki_curves[i].name, curve) == 0) id = pki_curves[i].id;
    if (id == 0) {
      wc_FreeRng(&rng);
      return luaL_argerror(L, 2, "unknown curve (P-256, P-384, P-521, P-224)");
    }
    wc_ecc_init(&k->k.ecc);
    k->type = ECC_TYPE;
    rc = wc_ecc_make_key_ex(&rng, wc_ecc_get_curve_size_from_id(id), &k->k.ecc, id);
  } else {
    lua_Integer bits = luaL_optinteger(L, 2, 2048);
    if (bits < 512 || bits > 8192 || bits % 8) {
      wc_FreeRng(&rng);
      return luaL_argerror(L, 2, "RSA bits must be a multiple of 8 in 512..8192");
    }
    wc_InitRsaKey(&k->k.rsa, NULL);
    k->type = RSA_TYPE;
    rc = wc_MakeRsaKey(&k->k.rsa, (int)bits, WC_RSA_EXPONENT, &rng);
  }
  wc_FreeRng(&rng);
  if (rc != 0) return pki_fail(L, "key generation failed", rc);
  return 1;
}

/* Decode a traditional or PKCS#8 DER private key into k. 0 on success. */
static int pki_decode(Key *k, const unsigned char *der, word32 n) {
  word32 idx = 0, start;
  unsigned char *copy = malloc(n);
  int off, rc;
  if (copy == NULL) return MEMORY_E;
  memcpy(copy, der, n);
  off = wc_GetPkcs8TraditionalOffset(copy, &idx, n); /* < 0: not PKCS#8 */
  start = off < 0 ? 0 : (word32)off;
  idx = start;
  wc_ecc_init(&k->k.ecc);
  k->type = ECC_TYPE;
  rc = wc_EccPrivateKeyDecode(copy, &idx, &k->k.ecc, n);
  if (rc != 0) {
    wc_ecc_free(&k->k.ecc);
    idx = start;
    wc_InitRsaKey(&k->k.rsa, NULL);
    k->type = RSA_TYPE;
    rc = wc_RsaPrivateKeyDecode(copy, &idx, &k->k.rsa, n);
    if (rc != 0) {
      wc_FreeRsaKey(&k->k.rsa);
      k->type = 0;
    }
  }
  free(copy);
  return rc;
}

/* pki_load_key(pem_or_der [, password]) -> Key | nil, message. Decrypting and format
 * detection go through wolfSSL's own key loader (a scratch CTX), as for ctx:use_key. */
static int pki_load_key(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int pem = memmem(s, n, "-----BEGIN", 10) != NULL, r;
  WOLFSSL_CTX *tmp = wolfSSL_CTX_new(wolfSSLv23_server_method());
  WOLFSSL_EVP_PKEY *pk;
  unsigned char *der = NULL;
  int dn;
  Key *k;
  if (tmp == NULL) return luaL_error(L, "out of memory");
  r = key_load(L, tmp, 1, pem ? WOLFSSL_FILETYPE_PEM : WOLFSSL_FILETYPE_ASN1, 2, 0);
  if (r) {
    wolfSSL_CTX_free(tmp);
    return r;
  }
  pk = wolfSSL_CTX_get0_privatekey(tmp);
  dn = pk ? wolfSSL_i2d_PrivateKey(pk, &der) : -1;
  wolfSSL_CTX_free(tmp);
  if (dn <= 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "cannot read private key");
    return 2;
  }
  k = pki_newkey(L);
  r = pki_decode(k, der, (word32)dn);
  XFREE(der, NULL, DYNAMIC_TYPE_OPENSSL);
  if (r != 0) return pki_fail(L, "unsupported private key (EC and RSA only)", r);
  return 1;
}

static int pki_key_type(lua_State *L) {
  Key *k = pki_checkkey(L, 1);
  lua_pushstring(L, k->type == ECC_TYPE ? "ec" : "rsa");
  return 1;
}

static int pki_key_bits(lua_State *L) {
  Key *k = pki_checkkey(L, 1);
  lua_pushinteger(L, k->type == ECC_TYPE ? wc_ecc_size(&k->k.ecc) * 8 : wc_RsaEncryptSize(&k->k.rsa) * 8);
  return 1;
}

static int pki_key_curve(lua_State *L) {
  Key *k = pki_checkkey(L, 1);
  const char *c = k->type == ECC_TYPE ? pki_curve_name(wc_ecc_get_curve_id(k->k.ecc.idx)) : NULL;
  if (c) lua_pushstring(L, c);
  else lua_pushnil(L);
  return 1;
}

/* The traditional DER (RFC 5915 ECPrivateKey / PKCS#1 RSAPrivateKey) into buf. */
static int pki_traditional(Key *k, unsigned char *buf, word32 len) {
  return k->type == ECC_TYPE ? wc_EccKeyToDer(&k->k.ecc, buf, len) : wc_RsaKeyToDer(&k->k.rsa, buf, len);
}

/* PKCS#8 PrivateKeyInfo DER into buf; returns its length or < 0. */
static int pki_pkcs8(Key *k, unsigned char *buf, word32 len) {
  unsigned char trad[PKI_MAX_DER];
  word32 out = len;
  int n;
  if (k->type == ECC_TYPE) {
    int rc = wc_EccKeyToPKCS8(&k->k.ecc, buf, &out);
    return rc < 0 ? rc : (int)out;
  }
  n = pki_traditional(k, trad, sizeof trad);
  if (n < 0) return n;
  n = wc_CreatePKCS8Key(buf, &out, trad, (word32)n, RSAk, NULL, 0);
  return n < 0 ? n : (int)out;
}

static int pki_push_pem(lua_State *L, const unsigned char *der, int n, int type) {
  unsigned char pem[PKI_MAX_DER * 2];
  int pn = wc_DerToPem(der, (word32)n, pem, sizeof pem, type);
  if (pn <= 0) return pki_fail(L, "cannot encode PEM", pn);
  lua_pushlstring(L, (const char *)pem, (size_t)pn);
  return 1;
}

/* key:encode("pkcs8" | "traditional", "pem" | "der" [, password]) -> bytes
 * With a password: PKCS#8 is PBES2 AES-256-CBC (what `openssl pkcs8 -topk8 -v2
 * aes-256-cbc` writes); traditional PEM gets a DEK-Info AES-256-CBC header. */
static int pki_key_encode(lua_State *L) {
  static const char *const forms[] = {"pkcs8", "traditional", NULL};
  Key *k = pki_checkkey(L, 1);
  int form = luaL_checkoption(L, 2, "pkcs8", forms);
  int der_out = context_format(L, 3) == WOLFSSL_FILETYPE_ASN1;
  size_t pwlen = 0;
  const char *pw = luaL_optlstring(L, 4, NULL, &pwlen);
  unsigned char der[PKI_MAX_DER], enc[PKI_MAX_DER];
  int n = form == 0 ? pki_pkcs8(k, der, sizeof der) : pki_traditional(k, der, sizeof der);
  if (n < 0) return pki_fail(L, "cannot encode key", n);
  if (pw && form == 0) {
    WC_RNG rng;
    word32 out = sizeof enc;
    int rc;
    if (wc_InitRng(&rng) != 0) return luaL_error(L, "cannot initialise the RNG");
    rc = wc_EncryptPKCS8Key(der, (word32)n, enc, &out, pw, (int)pwlen, PKCS5, PBES2, AES256CBCb,
                            NULL, 0, 2048, &rng, NULL);
    wc_FreeRng(&rng);
    if (rc < 0) return pki_fail(L, "cannot encrypt key", rc);
    out = (word32)rc; /* the size comes back as the return value */
    if (der_out) {
      lua_pushlstring(L, (const char *)enc, out);
      return 1;
    }
    return pki_push_pem(L, enc, (int)out, PKCS8_ENC_PRIVATEKEY_TYPE);
  }
  if (pw) { /* traditional encrypted PEM: wolfSSL's OpenSSL-compatible writers */
    const unsigned char *p = der;
    WOLFSSL_EVP_PKEY *pk = wolfSSL_d2i_PrivateKey(k->type == ECC_TYPE ? EVP_PKEY_EC : EVP_PKEY_RSA,
                                                  NULL, &p, n);
    WOLFSSL_BIO *bio = wolfSSL_BIO_new(wolfSSL_BIO_s_mem());
    WOLFSSL_EC_KEY *ec = NULL;
    WOLFSSL_RSA *rsa = NULL;
    char *mem = NULL;
    int ok = 0, mn = 0;
    if (pk && bio && !der_out) {
      /* PEM_write_bio_ECPrivateKey drops the cipher (5.5.4 writes the key in clear);
       * the _mem_ variant encrypts. */
      unsigned char *pem = NULL;
      int plen = 0;
      if (k->type == ECC_TYPE && (ec = wolfSSL_EVP_PKEY_get1_EC_KEY(pk)) != NULL) {
        ok = wolfSSL_PEM_write_mem_ECPrivateKey(ec, wolfSSL_EVP_aes_256_cbc(), (unsigned char *)pw,
                                                (int)pwlen, &pem, &plen) == WOLFSSL_SUCCESS &&
             wolfSSL_BIO_write(bio, pem, plen) == plen;
        XFREE(pem, NULL, DYNAMIC_TYPE_KEY);
      } else if (k->type == RSA_TYPE && (rsa = wolfSSL_EVP_PKEY_get1_RSA(pk)) != NULL)
        ok = wolfSSL_PEM_write_bio_RSAPrivateKey(bio, rsa, wolfSSL_EVP_aes_256_cbc(), (unsigned char *)pw,
                                                 (int)pwlen, NULL, NULL) == WOLFSSL_SUCCESS;
    }
    if (ok) mn = wolfSSL_BIO_get_mem_data(bio, &mem);
    if (mn > 0) lua_pushlstring(L, mem, (size_t)mn);
    wolfSSL_EC_KEY_free(ec);
    wolfSSL_RSA_free(rsa);
    wolfSSL_BIO_free(bio);
    wolfSSL_EVP_PKEY_free(pk);
    if (mn <= 0) return luaL_error(L, der_out ? "an encrypted traditional key has no DER form"
                                              : "cannot write the encrypted key");
    return 1;
  }
  if (der_out) {
    lua_pushlstring(L, (const char *)der, (size_t)n);
    return 1;
  }
  return pki_push_pem(L, der, n, form == 0 ? PKCS8_PRIVATEKEY_TYPE
                                           : k->type == ECC_TYPE ? ECC_PRIVATEKEY_TYPE : PRIVATEKEY_TYPE);
}

/* key:public_der() -> SubjectPublicKeyInfo DER */
static int pki_key_public_der(lua_State *L) {
  Key *k = pki_checkkey(L, 1);
  unsigned char der[PKI_MAX_DER];
  int n = k->type == ECC_TYPE ? wc_EccPublicKeyToDer(&k->k.ecc, der, sizeof der, 1)
                              : wc_RsaKeyToPublicDer(&k->k.rsa, der, sizeof der);
  if (n <= 0) return pki_fail(L, "cannot encode public key", n);
  lua_pushlstring(L, (const char *)der, (size_t)n);
  return 1;
}

static const struct {
  const char *name;
  enum wc_HashType type;
} pki_hashes[] = {
  {"sha256", WC_HASH_TYPE_SHA256}, {"sha384", WC_HASH_TYPE_SHA384},
  {"sha512", WC_HASH_TYPE_SHA512}, {"sha1", WC_HASH_TYPE_SHA}, {"md5", WC_HASH_TYPE_MD5},
  {"sha224", WC_HASH_TYPE_SHA224}, {NULL, WC_HASH_TYPE_NONE}
};

static enum wc_HashType pki_checkhash(lua_State *L, int i) {
  const char *name = luaL_optstring(L, i, "sha256");
  int j;
  for (j = 0; pki_hashes[j].name; j++)
    if (strcmp(pki_hashes[j].name, name) == 0) return pki_hashes[j].type;
  luaL_argerror(L, i, "unknown hash (sha256, sha384, sha512, sha1, md5, sha224)");
  return WC_HASH_TYPE_NONE;
}

/* key:sign(data [, hash]) -> signature: ECDSA (DER Ecdsa-Sig-Value) or RSA PKCS#1 v1.5
 * over the hash of data, as X.509, CRLs and OCSP responses carry it. */
static int pki_key_sign(lua_State *L) {
  Key *k = pki_checkkey(L, 1);
  size_t n;
  const char *data = luaL_checklstring(L, 2, &n);
  enum wc_HashType h = pki_checkhash(L, 3);
  unsigned char sig[1024];
  word32 slen = sizeof sig;
  WC_RNG rng;
  int rc;
  if (wc_InitRng(&rng) != 0) return luaL_error(L, "cannot initialise the RNG");
  if (k->type == ECC_TYPE) wc_ecc_set_rng(&k->k.ecc, &rng); /* timing-resistant build, item 7 */
  rc = wc_SignatureGenerate(h, k->type == ECC_TYPE ? WC_SIGNATURE_TYPE_ECC : WC_SIGNATURE_TYPE_RSA_W_ENC,
                            (const byte *)data, (word32)n, sig, &slen, &k->k,
                            k->type == ECC_TYPE ? sizeof k->k.ecc : sizeof k->k.rsa, &rng);
  if (k->type == ECC_TYPE) wc_ecc_set_rng(&k->k.ecc, NULL);
  wc_FreeRng(&rng);
  if (rc != 0) return pki_fail(L, "signing failed", rc);
  lua_pushlstring(L, (const char *)sig, slen);
  return 1;
}

/* digest(alg, data) -> raw digest bytes */
static int pki_digest(lua_State *L) {
  enum wc_HashType h = pki_checkhash(L, 1);
  size_t n;
  const char *data = luaL_checklstring(L, 2, &n);
  unsigned char out[WC_MAX_DIGEST_SIZE];
  int sz = wc_HashGetDigestSize(h);
  if (sz <= 0 || wc_Hash(h, (const byte *)data, (word32)n, out, (word32)sz) != 0)
    return luaL_error(L, "digest failed");
  lua_pushlstring(L, (const char *)out, (size_t)sz);
  return 1;
}

/* base64(data) -> one line, no newline (RFC 7469 pins, PEM bodies) */
static int pki_base64(lua_State *L) {
  size_t n;
  const char *data = luaL_checklstring(L, 1, &n);
  word32 out = (word32)((n + 2) / 3 * 4 + 4);
  byte *p = malloc(out);
  if (p == NULL) return luaL_error(L, "out of memory");
  if (Base64_Encode_NoNl((const byte *)data, (word32)n, p, &out) != 0) {
    free(p);
    return luaL_error(L, "base64 encoding failed");
  }
  lua_pushlstring(L, (const char *)p, out);
  free(p);
  return 1;
}

/* random(n) -> n bytes from wolfSSL's DRBG (serial numbers) */
static int pki_random(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  unsigned char buf[256];
  WC_RNG rng;
  int rc;
  luaL_argcheck(L, n > 0 && n <= (lua_Integer)sizeof buf, 1, "1..256 bytes");
  if (wc_InitRng(&rng) != 0) return luaL_error(L, "cannot initialise the RNG");
  rc = wc_RNG_GenerateBlock(&rng, buf, (word32)n);
  wc_FreeRng(&rng);
  if (rc != 0) return luaL_error(L, "random generation failed");
  lua_pushlstring(L, (const char *)buf, (size_t)n);
  return 1;
}

/* ---- certificates ---------------------------------------------------------------- */

/* The X.509 signature algorithm for a key type and hash name. */
static int pki_sigtype(int keytype, const char *hash) {
  if (keytype == ECC_TYPE) {
    if (strcmp(hash, "sha256") == 0) return CTC_SHA256wECDSA;
    if (strcmp(hash, "sha384") == 0) return CTC_SHA384wECDSA;
    if (strcmp(hash, "sha512") == 0) return CTC_SHA512wECDSA;
    if (strcmp(hash, "sha1") == 0) return CTC_SHAwECDSA;
    return 0;
  }
  if (strcmp(hash, "sha256") == 0) return CTC_SHA256wRSA;
  if (strcmp(hash, "sha384") == 0) return CTC_SHA384wRSA;
  if (strcmp(hash, "sha512") == 0) return CTC_SHA512wRSA;
  if (strcmp(hash, "sha1") == 0) return CTC_SHAwRSA;
  if (strcmp(hash, "md5") == 0) return CTC_MD5wRSA;
  return 0;
}

/* Copy field `name` of table t (bytes) into dst of capacity cap; returns its length. */
static int pki_field_bytes(lua_State *L, int t, const char *name, unsigned char *dst, size_t cap,
                           int nul_free) {
  size_t n = 0;
  const char *s;
  lua_getfield(L, t, name);
  s = lua_tolstring(L, -1, &n);
  if (s == NULL) {
    lua_pop(L, 1);
    return 0;
  }
  /* wolfSSL takes raw names as C strings (strlen), so a NUL inside would cut them */
  if (n >= cap || (nul_free && memchr(s, 0, n)))
    return luaL_error(L, "certificate field '%s' is too long or not encodable", name);
  memcpy(dst, s, n);
  lua_pop(L, 1);
  return (int)n;
}

static int pki_field_bool(lua_State *L, int t, const char *name) {
  int b;
  lua_getfield(L, t, name);
  b = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return b;
}

static int pki_cert_fail(lua_State *L, Cert *cert, const char *what, int rc) {
  wc_CertFree(cert);
  return pki_fail(L, what, rc);
}

/* make_tbs{subject=NameDER, issuer=NameDER, serial=bytes, not_before=TimeDER,
 *          not_after=TimeDER, hash=, key=Key (subject), issuer_key=Key,
 *          key_usage="a,b", eku="serverAuth,...", alt_names=GeneralNamesDER,
 *          alt_names_critical=bool}
 * -> TBSCertificate DER (to be extended by pki.lua and signed by sign_tbs).
 * basicConstraints is left to pki.lua: wolfSSL 5.5.4 encodes it non-critical, and
 * RFC 5280 4.2.1.9 wants it critical in CA certificates. */
static int pki_make_tbs(lua_State *L) {
  Cert *cert;
  Key *subj, *iss;
  unsigned char *der;
  const char *hash;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "key");
  subj = pki_checkkey(L, -1);
  lua_getfield(L, 1, "issuer_key");
  iss = pki_checkkey(L, -1);
  lua_getfield(L, 1, "hash");
  hash = luaL_optstring(L, -1, "sha256");
  lua_pop(L, 3);
  cert = wc_CertNew(NULL);
  if (cert == NULL) return luaL_error(L, "out of memory");
  cert->sigType = pki_sigtype(iss->type, hash);
  if (cert->sigType == 0) {
    wc_CertFree(cert);
    return luaL_error(L, "no %s signature with a%s key", hash, iss->type == ECC_TYPE ? "n EC" : "n RSA");
  }
  cert->version = 2; /* v3 */
  cert->serialSz = pki_field_bytes(L, 1, "serial", cert->serial, sizeof cert->serial + 1, 0);
  pki_field_bytes(L, 1, "subject", cert->sbjRaw, sizeof cert->sbjRaw, 1);
  pki_field_bytes(L, 1, "issuer", cert->issRaw, sizeof cert->issRaw, 1);
  cert->beforeDateSz = pki_field_bytes(L, 1, "not_before", cert->beforeDate, sizeof cert->beforeDate, 0);
  cert->afterDateSz = pki_field_bytes(L, 1, "not_after", cert->afterDate, sizeof cert->afterDate, 0);
  cert->altNamesSz = pki_field_bytes(L, 1, "alt_names", cert->altNames, sizeof cert->altNames, 0);
  cert->altNamesCrit = pki_field_bool(L, 1, "alt_names_critical");
  lua_getfield(L, 1, "key_usage");
  if (lua_isstring(L, -1) && (rc = wc_SetKeyUsage(cert, lua_tostring(L, -1))) != 0) {
    lua_pop(L, 1);
    return pki_cert_fail(L, cert, "bad key usage", rc);
  }
  lua_pop(L, 1);
  lua_getfield(L, 1, "eku");
  if (lua_isstring(L, -1) && (rc = wc_SetExtKeyUsage(cert, lua_tostring(L, -1))) != 0) {
    lua_pop(L, 1);
    return pki_cert_fail(L, cert, "bad extended key usage", rc);
  }
  lua_pop(L, 1);
  if ((rc = wc_SetSubjectKeyIdFromPublicKey_ex(cert, subj->type, &subj->k)) != 0)
    return pki_cert_fail(L, cert, "cannot set the subject key identifier", rc);
  if ((rc = wc_SetAuthKeyIdFromPublicKey_ex(cert, iss->type, &iss->k)) != 0)
    return pki_cert_fail(L, cert, "cannot set the authority key identifier", rc);
  der = malloc(PKI_MAX_DER);
  if (der == NULL) {
    wc_CertFree(cert);
    return luaL_error(L, "out of memory");
  }
  {
    WC_RNG rng;
    if (wc_InitRng(&rng) != 0) rc = RNG_FAILURE_E;
    else {
      rc = wc_MakeCert_ex(cert, der, PKI_MAX_DER, subj->type, &subj->k, &rng);
      wc_FreeRng(&rng);
    }
  }
  wc_CertFree(cert);
  if (rc < 0) {
    free(der);
    return pki_fail(L, "cannot make certificate", rc);
  }
  lua_pushlstring(L, (const char *)der, (size_t)rc);
  free(der);
  return 1;
}

/* sign_tbs(tbs, hash, issuer_key) -> Certificate DER. The TBS carries the signature
 * algorithm already (make_tbs), so hash must be the same one. */
static int pki_sign_tbs(lua_State *L) {
  size_t n;
  const char *tbs = luaL_checklstring(L, 1, &n);
  const char *hash = luaL_checkstring(L, 2);
  Key *k = pki_checkkey(L, 3);
  int type = pki_sigtype(k->type, hash), rc;
  unsigned char *buf;
  WC_RNG rng;
  if (type == 0) return luaL_argerror(L, 2, "no such signature for this key type");
  if (n + 1024 > PKI_MAX_DER) return luaL_argerror(L, 1, "TBSCertificate too large");
  buf = malloc(PKI_MAX_DER);
  if (buf == NULL) return luaL_error(L, "out of memory");
  memcpy(buf, tbs, n);
  if (wc_InitRng(&rng) != 0) {
    free(buf);
    return luaL_error(L, "cannot initialise the RNG");
  }
  if (k->type == ECC_TYPE) wc_ecc_set_rng(&k->k.ecc, &rng);
  rc = wc_SignCert_ex((int)n, type, buf, PKI_MAX_DER, k->type, &k->k, &rng);
  if (k->type == ECC_TYPE) wc_ecc_set_rng(&k->k.ecc, NULL);
  wc_FreeRng(&rng);
  if (rc < 0) {
    free(buf);
    return pki_fail(L, "cannot sign certificate", rc);
  }
  lua_pushlstring(L, (const char *)buf, (size_t)rc);
  free(buf);
  return 1;
}

/* pem(der, "CERTIFICATE" | "X509 CRL") -> PEM text */
static int pki_pem(lua_State *L) {
  static const char *const labels[] = {"CERTIFICATE", "X509 CRL", NULL};
  size_t n;
  const char *der = luaL_checklstring(L, 1, &n);
  int which = luaL_checkoption(L, 2, "CERTIFICATE", labels);
  unsigned char *pem;
  int pn;
  size_t cap = n * 2 + 128;
  pem = malloc(cap);
  if (pem == NULL) return luaL_error(L, "out of memory");
  pn = wc_DerToPem((const byte *)der, (word32)n, pem, (word32)cap, which == 0 ? CERT_TYPE : CRL_TYPE);
  if (pn > 0) lua_pushlstring(L, (const char *)pem, (size_t)pn);
  free(pem);
  if (pn <= 0) return pki_fail(L, "cannot encode PEM", pn);
  return 1;
}

/* der(pem) -> DER of the first certificate (or CRL) in PEM text, without parsing it:
 * works for certificates wolfSSL refuses to parse (unknown critical extensions). */
static int pki_der(lua_State *L) {
  size_t n;
  const char *pem = luaL_checklstring(L, 1, &n);
  int crl = memmem(pem, n, "X509 CRL", 8) != NULL;
  DerBuffer *d = NULL;
  int rc = wc_PemToDer((const unsigned char *)pem, (long)n, crl ? CRL_TYPE : CERT_TYPE, &d, NULL, NULL, NULL);
  if (rc != 0 || d == NULL) {
    wc_FreeDer(&d);
    return pki_fail(L, "not a PEM certificate", rc);
  }
  lua_pushlstring(L, (const char *)d->buffer, d->length);
  wc_FreeDer(&d);
  return 1;
}

static int pki_is_key(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, LW_KEY) != NULL);
  return 1;
}

static const luaL_Reg pki_key_methods[] = {
  {"type", pki_key_type},
  {"bits", pki_key_bits},
  {"curve", pki_key_curve},
  {"encode", pki_key_encode},
  {"public_der", pki_key_public_der},
  {"sign", pki_key_sign},
  {NULL, NULL}
};

static const luaL_Reg pki_key_meta[] = {
  {"__gc", pki_key_free},
  {NULL, NULL}
};

static const luaL_Reg pki_funcs[] = {
  {"generate_key", pki_generate_key},
  {"load_key", pki_load_key},
  {"make_tbs", pki_make_tbs},
  {"sign_tbs", pki_sign_tbs},
  {"digest", pki_digest},
  {"base64", pki_base64},
  {"random", pki_random},
  {"pem", pki_pem},
  {"der", pki_der},
  {"is_key", pki_is_key},
  {NULL, NULL}
};

/* Leaves a table of the pki primitives on the stack (core.pki), with the Key methods
 * table as its field Key. */
void pki_open(lua_State *L) {
  lua_newtable(L);
  luaL_setfuncs(L, pki_funcs, 0);
  lw_class(L, LW_KEY, pki_key_meta, pki_key_methods);
  lua_setfield(L, -2, "Key"); /* pki.lua adds the Lua-side key methods to it */
}
