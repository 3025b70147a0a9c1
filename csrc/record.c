/* The record observer: a connection's trace, built from the bytes that pass through the
 * binding's two I/O callbacks (DESIGN.md "Trace"). wolfSSL's own message and info
 * callbacks are nearly blind in TLS 1.3 (wolfssl-notes.md items 2-3), so both directions
 * are split here into records and handshake messages (reassembled across records,
 * several per record), and each one is handed to on_message(conn, m).
 *
 * Encrypted records are opened with the connection's traffic keys:
 *  - TLS 1.2 has one key block; wolfSSL_GetClientWriteKey/IV and friends give it once
 *    the keys are derived (item 7), which is always before the first protected record.
 *  - TLS 1.3 changes keys mid-flight: a server derives its application keys right after
 *    building its Finished and sends ServerHello..Finished in ONE send call, so its
 *    handshake keys are never visible at any I/O callback (measured on 5.5.4). wolfSSL's
 *    HKDF-Expand-Label callback (a PK callback, compiled in) is called for every "key"
 *    and "iv" derivation with the side it belongs to; the binding recomputes the same
 *    expansion there and keeps each epoch's key and IV, then returns NOT_COMPILED_IN so
 *    wolfSSL computes its own as if no callback were set.
 * The callback has no per-connection argument, so the connection whose driving call is
 * running is kept in a thread-local (record_begin/record_end, for every connection: an
 * untraced connection driven from inside a traced one's callback must not lend its keys
 * to the outer one).
 *
 * The same hook gives the TLS 1.3 key log (NSS format): the traffic secrets are
 * HKDF-Expand-Label outputs too ("c hs traffic", "s hs traffic", "c ap traffic",
 * "s ap traffic", "exp master"; RFC 8446 7.1), so for a connection that keeps a key log
 * they are recomputed the same way and handed to keys.c. wolfSSL 5.5.4 has no secret
 * callbacks (wolfssl-notes.md item 7); this is the one place the secrets pass.
 *
 * Nothing here raises inside a wolfSSL callback: malformed bytes become an event with an
 * `error` field, and on_message runs through the bridge (an error fails the driving call
 * with code "callback"). All of it costs nothing unless the connection is traced or keeps
 * a key log: only then is the hook set on its WOLFSSL_CTX. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lwolfssl.h"
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/kdf.h>

#define REC_HDR 5
#define REC_MAX (16384 + 2048) /* TLSCiphertext.length limit (RFC 5246 6.2.3) */
#define HS_MAX (1 << 18)       /* longest handshake message reassembled: 256 KiB */
#define EPOCHS 6
#define PEEK_MIN 1024 /* protected records at least this long are peeked at first */

enum { CT_CCS = 20, CT_ALERT = 21, CT_HANDSHAKE = 22, CT_APPDATA = 23, CT_HEARTBEAT = 24 };
/* HELLO_PAUSED: the hook returned PAUSE; it is asked again when the handshake resumes,
 * but the ClientHello has already been reported to the trace */
enum { HELLO_NONE = 0, HELLO_WAIT = 1, HELLO_DONE = 2, HELLO_PAUSED = 3 };

/* One set of traffic keys of one writer (TLS 1.3: handshake, application, each KeyUpdate). */
typedef struct Epoch {
  unsigned char key[32], iv[16]; /* 16: a TLS 1.2 CBC key block IV (unused: explicit IVs) */
  int keylen, ivlen;
} Epoch;

/* The records written by one side (client or server), as one observer sees them. */
typedef struct Stream {
  unsigned char hdr[REC_HDR];
  int hdr_have;
  unsigned char *rec; /* body of the record being collected */
  size_t rec_len, rec_have, rec_cap;
  Buf hs;             /* handshake bytes not yet forming a whole message */
  int broken;         /* desynchronised by malformed bytes: stop splitting */
  int protect;        /* records are protected (TLS 1.2 after CCS; TLS 1.3 epochs) */
  int cur;            /* index of the epoch the next protected record uses */
  uint64_t seq;       /* its sequence number within that epoch */
  int nep;
  Epoch ep[EPOCHS];
  unsigned char pkey[32]; /* HKDF: the key of an epoch whose IV is not derived yet */
  int pkeylen;
} Stream;

struct Trace {
  Conn *c;
  int observing; /* on_message was set when the connection started: split and report */
  int keylog;    /* the connection keeps a key log: TLS 1.3 secrets go to keys.c */
  int version;   /* negotiated version from the ServerHello (0x0303, 0x0304), 0 before */
  int etm;       /* TLS 1.2 encrypt-then-MAC was agreed (RFC 7366) */
  Stream s[2];   /* by writer: 0 = the client's records, 1 = the server's */
  unsigned char *plain;
  size_t plain_cap;
  Aes aes;
  ChaCha chacha;
  Hmac hmac;
  int hello;     /* HELLO_*: the ClientHello hook (hello.c) */
  size_t skip;   /* received bytes the hook already reported, not yet read by wolfSSL */
};

/* A message as reported to on_message. */
typedef struct Event {
  int dir, content, hs_type, record_version;
  const unsigned char *bytes; /* NULL: not reported (application data, not opened) */
  size_t nbytes, length;
  int protect;   /* travelled protected */
  int encrypted; /* protected and could not be opened */
  const char *error;
} Event;

static const unsigned char hrr_random[32] = {
  0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
  0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

/* The connection driving wolfSSL on this thread (for the HKDF callback). */
static __thread Conn *key_current;

static int writer_of(const Conn *c, int dir) {
  return (dir == DIR_SENT) == (c->role == ROLE_CLIENT) ? 0 : 1;
}

/* ---- reporting ------------------------------------------------------------------------ */

static const char *record_hs_name(int t, const unsigned char *msg, size_t n) {
  switch (t) {
  case 0: return "hello_request";
  case 1: return "client_hello";
  case 2: /* RFC 8446 4.1.3: a HelloRetryRequest is a ServerHello with this random */
    return n >= 38 && memcmp(msg + 6, hrr_random, 32) == 0 ? "hello_retry_request" : "server_hello";
  case 3: return "hello_verify_request";
  case 4: return "new_session_ticket";
  case 5: return "end_of_early_data";
  case 8: return "encrypted_extensions";
  case 11: return "certificate";
  case 12: return "server_key_exchange";
  case 13: return "certificate_request";
  case 14: return "server_hello_done";
  case 15: return "certificate_verify";
  case 16: return "client_key_exchange";
  case 20: return "finished";
  case 21: return "certificate_url";
  case 22: return "certificate_status";
  case 24: return "key_update";
  case 25: return "compressed_certificate";
  case 254: return "message_hash";
  }
  return "unknown_handshake";
}

static const char *record_type_name(const Event *e) {
  if (e->error) return "malformed";
  if (e->encrypted)
    return e->content == CT_HANDSHAKE ? "encrypted_handshake_message"
           : e->content == CT_ALERT   ? "encrypted_alert"
                                      : "application_data";
  switch (e->content) {
  case CT_CCS: return "change_cipher_spec";
  case CT_ALERT: return "alert";
  case CT_APPDATA: return "application_data";
  case CT_HEARTBEAT: return "heartbeat";
  case CT_HANDSHAKE: return record_hs_name(e->hs_type, e->bytes, e->nbytes);
  }
  return "unknown";
}

static void set_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, int v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

/* on_message(conn, m) through the bridge; after a callback error nothing more is reported */
static void record_emit(Trace *T, const Event *e) {
  Conn *c = T->c;
  lua_State *L = c->L;
  int top;
  if (L == NULL || c->cb_error || !lua_checkstack(L, 8)) return;
  top = lua_gettop(L);
  if (!bridge_handler(L, c, "on_message")) return;
  if (!conn_push(L, c)) {
    lua_settop(L, top);
    return;
  }
  lua_createtable(L, 0, 14);
  set_str(L, "direction", e->dir == DIR_SENT ? "sent" : "received");
  set_str(L, "role", c->role == ROLE_CLIENT ? "client" : "server");
  set_str(L, "type", record_type_name(e));
  set_int(L, "content_type", e->content);
  set_int(L, "record_version", e->record_version);
  if (T->version == 0x0304) set_str(L, "version", "TLSv1.3");
  else if (T->version == 0x0303) set_str(L, "version", "TLSv1.2");
  set_int(L, "length", (lua_Integer)e->length);
  set_bool(L, "protected", e->protect);
  set_bool(L, "encrypted", e->encrypted);
  if (e->bytes) {
    lua_pushlstring(L, (const char *)e->bytes, e->nbytes);
    lua_setfield(L, -2, "bytes");
  }
  if (e->content == CT_HANDSHAKE && !e->encrypted && !e->error) set_int(L, "handshake_type", e->hs_type);
  if (e->content == CT_ALERT && !e->encrypted && !e->error && e->nbytes == 2) {
    const char *n = alert_name(e->bytes[1]);
    set_str(L, "level", e->bytes[0] == 1 ? "warning" : e->bytes[0] == 2 ? "fatal" : "unknown");
    if (n) set_str(L, "description", n);
    else set_int(L, "description", e->bytes[1]);
    set_int(L, "alert", e->bytes[1]);
  }
  if (e->error) set_str(L, "error", e->error);
  bridge_pcall(L, 2, 0, &c->cb_error);
  lua_settop(L, top);
}

static void record_malformed(Trace *T, Stream *S, int dir, int content, const char *why) {
  Event e;
  memset(&e, 0, sizeof e);
  e.dir = dir;
  e.content = content;
  e.error = why;
  S->broken = 1;
  record_emit(T, &e);
}

/* ---- keys ----------------------------------------------------------------------------- */

static void epoch_add(Stream *S, const unsigned char *key, int keylen, const unsigned char *iv,
                      int ivlen) {
  Epoch *e;
  if (keylen <= 0 || keylen > 32 || ivlen <= 0 || ivlen > 16) return;
  if (S->nep > 0) { /* wolfSSL may re-derive an unchanged side: one epoch per key */
    e = &S->ep[S->nep - 1];
    if (e->keylen == keylen && memcmp(e->key, key, (size_t)keylen) == 0) return;
  }
  if (S->nep == EPOCHS) { /* drop the epochs before the current one */
    int drop = S->cur > 0 ? (S->cur < EPOCHS ? S->cur : EPOCHS - 1) : 1;
    memmove(S->ep, S->ep + drop, sizeof(Epoch) * (size_t)(EPOCHS - drop));
    S->nep -= drop;
    S->cur = S->cur >= drop ? S->cur - drop : 0;
  }
  e = &S->ep[S->nep++];
  memcpy(e->key, key, (size_t)keylen);
  memcpy(e->iv, iv, (size_t)ivlen);
  e->keylen = keylen;
  e->ivlen = ivlen;
}

/* The labels of the secrets a TLS 1.3 key log records (RFC 8446 7.1): the traffic
 * secrets end in " traffic", the exporter master secret is "exp master". Cheap test
 * first: the callback sees every expansion (keys, IVs, Finished keys, binders). */
static int record_is_secret(const byte *label, word32 n) {
  return (n == 12 && memcmp(label + 4, " traffic", 8) == 0 && (label[0] == 'c' || label[0] == 's')) ||
         (n == 10 && memcmp(label, "exp master", 10) == 0);
}

/* wolfSSL's HKDF-Expand-Label callback: keep each TLS 1.3 traffic key and IV as it is
 * derived (trace), and each secret a key log records; `side` is the end the secret
 * belongs to. Always lets wolfSSL do its own expansion, unless the key-log callback
 * failed: then the handshake fails, and the driving call reports the callback error. */
static int record_hkdf(byte *okm, word32 okmLen, const byte *prk, word32 prkLen,
                       const byte *protocol, word32 protocolLen, const byte *label,
                       word32 labelLen, const byte *info, word32 infoLen, int digest, int side) {
  Conn *c = key_current;
  Trace *T = c ? c->trace : NULL;
  int is_key, is_iv, is_secret;
  unsigned char out[WC_MAX_DIGEST_SIZE];
  (void)okm;
  if (T == NULL || okmLen > sizeof out) return NOT_COMPILED_IN;
  is_key = T->observing && labelLen == 3 && memcmp(label, "key", 3) == 0;
  is_iv = T->observing && labelLen == 2 && memcmp(label, "iv", 2) == 0;
  is_secret = T->keylog && record_is_secret(label, labelLen);
  if (!(is_key || is_iv || is_secret) ||
      wc_Tls13_HKDF_Expand_Label(out, okmLen, prk, prkLen, protocol, protocolLen, label, labelLen, info,
                                 infoLen, digest) != 0)
    return NOT_COMPILED_IN;
  if (is_secret) {
    int rc = keys_tls13_secret(c, label, labelLen, out, okmLen);
    memset(out, 0, okmLen);
    return rc == 0 ? NOT_COMPILED_IN : WOLFSSL_FATAL_ERROR;
  }
  {
    Stream *S = &T->s[side == WOLFSSL_CLIENT_END ? 0 : 1];
    if (is_key && okmLen <= sizeof S->pkey) {
      memcpy(S->pkey, out, okmLen);
      S->pkeylen = (int)okmLen;
    } else if (is_iv && S->pkeylen) {
      epoch_add(S, S->pkey, S->pkeylen, out, (int)okmLen);
      S->pkeylen = 0;
    }
  }
  return NOT_COMPILED_IN;
}

/* The writer's keys wolfSSL holds now (TLS 1.2: the key block; TLS 1.3: the latest). */
static int record_current_keys(Trace *T, int w, Epoch *e) {
  WOLFSSL *ssl = T->c->ssl;
  const unsigned char *k = w == 0 ? wolfSSL_GetClientWriteKey(ssl) : wolfSSL_GetServerWriteKey(ssl);
  const unsigned char *iv = w == 0 ? wolfSSL_GetClientWriteIV(ssl) : wolfSSL_GetServerWriteIV(ssl);
  e->keylen = wolfSSL_GetKeySize(ssl);
  e->ivlen = wolfSSL_GetIVSize(ssl);
  if (k == NULL || iv == NULL || e->keylen <= 0 || e->keylen > 32 || e->ivlen <= 0 || e->ivlen > 16)
    return 0;
  memcpy(e->key, k, (size_t)e->keylen);
  memcpy(e->iv, iv, (size_t)e->ivlen);
  return 1;
}

/* One AEAD open with wolfCrypt. 0 when the tag verifies. */
static int aead_open(Trace *T, int bulk, const Epoch *e, const unsigned char nonce[12],
                     const unsigned char *aad, word32 aadlen, const unsigned char *ct,
                     word32 ctlen, const unsigned char *tag, word32 taglen, unsigned char *out) {
  int rc = -1;
  switch (bulk) {
  case wolfssl_aes_gcm:
    if (wc_AesInit(&T->aes, NULL, INVALID_DEVID) != 0) return -1;
    if (wc_AesGcmSetKey(&T->aes, e->key, (word32)e->keylen) == 0)
      rc = wc_AesGcmDecrypt(&T->aes, out, ct, ctlen, nonce, 12, tag, taglen, aad, aadlen);
    wc_AesFree(&T->aes);
    return rc;
  case wolfssl_aes_ccm:
    if (wc_AesInit(&T->aes, NULL, INVALID_DEVID) != 0) return -1;
    if (wc_AesCcmSetKey(&T->aes, e->key, (word32)e->keylen) == 0)
      rc = wc_AesCcmDecrypt(&T->aes, out, ct, ctlen, nonce, 12, tag, taglen, aad, aadlen);
    wc_AesFree(&T->aes);
    return rc;
  case wolfssl_chacha:
    if (e->keylen != CHACHA20_POLY1305_AEAD_KEYSIZE || taglen != CHACHA20_POLY1305_AEAD_AUTHTAG_SIZE)
      return -1;
    return wc_ChaCha20Poly1305_Decrypt(e->key, nonce, aad, aadlen, ct, ctlen, tag, out);
  }
  return -1; /* CBC, stream and NULL suites: reported with encrypted = true */
}

static void seq_nonce(unsigned char nonce[12], const unsigned char *iv, uint64_t seq) {
  int i;
  memcpy(nonce, iv, 12);
  for (i = 0; i < 8; i++) nonce[11 - i] ^= (unsigned char)(seq >> (8 * i));
}

static void seq_bytes(unsigned char out[8], uint64_t seq) {
  int i;
  for (i = 0; i < 8; i++) out[7 - i] = (unsigned char)(seq >> (8 * i));
}

static int plain_reserve(Trace *T, size_t n) {
  if (n <= T->plain_cap) return 0;
  {
    unsigned char *p = realloc(T->plain, n);
    if (p == NULL) return -1;
    T->plain = p;
    T->plain_cap = n;
  }
  return 0;
}

/* The keystream of a record's last bytes, for the cipher modes of TLS 1.3's AEADs:
 * GCM counter blocks nonce || (block + 2) (NIST SP 800-38D, 96-bit IV), CCM blocks
 * flags(L-1 = 2) || nonce || (block + 1) (RFC 3610), ChaCha20 block counter 1 + the
 * 64-byte block (RFC 8439 2.8). Decrypts ct[from .. n) into out[from .. n). */
static int record_tail(Trace *T, int bulk, const Epoch *e, const unsigned char nonce[12],
                       const unsigned char *ct, size_t from, size_t n, unsigned char *out) {
  if (bulk == wolfssl_chacha) {
    size_t start = from - from % 64;
    if (wc_Chacha_SetKey(&T->chacha, e->key, (word32)e->keylen) != 0 ||
        wc_Chacha_SetIV(&T->chacha, nonce, (word32)(1 + start / 64)) != 0 ||
        wc_Chacha_Process(&T->chacha, out + start, ct + start, (word32)(n - start)) != 0)
      return -1;
    return 0;
  }
  if (bulk == wolfssl_aes_gcm || bulk == wolfssl_aes_ccm) {
    size_t b;
    if (wc_AesSetKeyDirect(&T->aes, e->key, (word32)e->keylen, NULL, AES_ENCRYPTION) != 0) return -1;
    for (b = from / 16; b * 16 < n; b++) {
      unsigned char ctr[16], ks[16];
      size_t i, blk = bulk == wolfssl_aes_gcm ? b + 2 : b + 1;
      if (bulk == wolfssl_aes_gcm) {
        memcpy(ctr, nonce, 12);
        ctr[12] = (unsigned char)(blk >> 24);
      } else {
        ctr[0] = 2;
        memcpy(ctr + 1, nonce, 12);
      }
      ctr[13] = (unsigned char)(blk >> 16);
      ctr[14] = (unsigned char)(blk >> 8);
      ctr[15] = (unsigned char)blk;
      if (wc_AesEncryptDirect(&T->aes, ks, ctr) != 0) return -1;
      for (i = 0; i < 16 && b * 16 + i < n; i++) out[b * 16 + i] = ct[b * 16 + i] ^ ks[i];
    }
    return 0;
  }
  return -1;
}

/* Opening every record of a traced bulk transfer would double its cost, and application
 * data is reported by length only: a long TLS 1.3 record is first classified from its
 * last bytes under the current epoch (the inner content type ends the plaintext). Only
 * application data is taken from the peek, without checking the tag; anything else is
 * opened in full (tag verified). 1 = application data, *ptlen set. */
static int record_peek13(Trace *T, Stream *S, const unsigned char *rec, size_t len, size_t *ptlen) {
  WOLFSSL *ssl = T->c->ssl;
  int bulk = wolfSSL_GetBulkCipher(ssl), taglen = wolfSSL_GetAeadMacSize(ssl);
  size_t n, from;
  unsigned char nonce[12];
  const Epoch *e;
  if (S->cur >= S->nep || taglen <= 0 || len < PEEK_MIN + (size_t)taglen) return 0;
  e = &S->ep[S->cur];
  n = len - (size_t)taglen;
  from = n - 16;
  if (e->ivlen != 12 || plain_reserve(T, len) != 0) return 0;
  seq_nonce(nonce, e->iv, S->seq);
  if (record_tail(T, bulk, e, nonce, rec, from, n, T->plain) != 0) return 0;
  while (n > from && T->plain[n - 1] == 0) n--;
  if (n == from || T->plain[n - 1] != CT_APPDATA) return 0;
  *ptlen = n - 1;
  S->seq++;
  return 1;
}

/* TLS 1.3 (RFC 8446 5.2-5.3): nonce = IV xor seq, additional data = the record header,
 * plaintext = content || type || zeros. Tries the current epoch, then later ones (a
 * Finished or KeyUpdate this observer missed), then the keys wolfSSL holds now. */
static int record_open13(Trace *T, Stream *S, const unsigned char *hdr, const unsigned char *rec,
                         size_t len, size_t *ptlen, int *inner) {
  WOLFSSL *ssl = T->c->ssl;
  int bulk = wolfSSL_GetBulkCipher(ssl), taglen = wolfSSL_GetAeadMacSize(ssl), i;
  unsigned char nonce[12];
  Epoch now;
  int have_now = 0;
  if (taglen <= 0 || len < (size_t)taglen + 1 || plain_reserve(T, len) != 0) return 0;
  for (i = S->cur; i <= S->nep; i++) {
    const Epoch *e;
    uint64_t seq = i == S->cur ? S->seq : 0;
    if (i < S->nep) e = &S->ep[i];
    else {
      int j, known = 0;
      if (!record_current_keys(T, (int)(S - T->s), &now)) break;
      for (j = 0; j < S->nep; j++)
        if (memcmp(S->ep[j].key, now.key, (size_t)now.keylen) == 0) known = 1;
      if (known) break;
      e = &now;
      have_now = 1;
    }
    if (e->ivlen != 12) continue;
    seq_nonce(nonce, e->iv, seq);
    if (aead_open(T, bulk, e, nonce, hdr, REC_HDR, rec, (word32)(len - (size_t)taglen),
                  rec + len - taglen, (word32)taglen, T->plain) == 0) {
      size_t n = len - (size_t)taglen;
      if (have_now) epoch_add(S, now.key, now.keylen, now.iv, now.ivlen);
      if (i != S->cur) S->cur = i;
      S->seq = seq + 1;
      while (n > 0 && T->plain[n - 1] == 0) n--; /* padding */
      if (n == 0) return -1;                       /* no content type: malformed */
      *inner = T->plain[n - 1];
      *ptlen = n - 1;
      return 1;
    }
  }
  S->seq++; /* the record used a sequence number all the same */
  return 0;
}

static int record_open_cbc(Trace *T, Stream *S, const unsigned char *hdr, const unsigned char *rec,
                           size_t len, size_t *ptlen, uint64_t seq, int length_only);

/* TLS 1.2 AEAD (RFC 5288 3, RFC 6655, RFC 7905 2): GCM/CCM nonce = implicit 4-byte IV ||
 * explicit 8 bytes carried in the record; ChaCha20 nonce = IV xor seq. Additional data =
 * seq || type || version || plaintext length. */
static int record_open12(Trace *T, Stream *S, const unsigned char *hdr, const unsigned char *rec,
                         size_t len, size_t *ptlen) {
  WOLFSSL *ssl = T->c->ssl;
  int bulk = wolfSSL_GetBulkCipher(ssl), taglen = wolfSSL_GetAeadMacSize(ssl);
  size_t explicit_len = bulk == wolfssl_chacha ? 0 : 8, n;
  unsigned char nonce[12], aad[13];
  Epoch e;
  uint64_t seq = S->seq++;
  if (wolfSSL_GetCipherType(ssl) == WOLFSSL_BLOCK_TYPE) return record_open_cbc(T, S, hdr, rec, len, ptlen, seq, 0);
  if (wolfSSL_GetCipherType(ssl) != WOLFSSL_AEAD_TYPE || taglen <= 0 ||
      len < explicit_len + (size_t)taglen || !record_current_keys(T, (int)(S - T->s), &e) ||
      plain_reserve(T, len + 1) != 0)
    return 0;
  n = len - explicit_len - (size_t)taglen;
  if (bulk == wolfssl_chacha) {
    if (e.ivlen != 12) return 0;
    seq_nonce(nonce, e.iv, seq);
  } else {
    if (e.ivlen != 4) return 0;
    memcpy(nonce, e.iv, 4);
    memcpy(nonce + 4, rec, 8);
  }
  seq_bytes(aad, seq);
  aad[8] = hdr[0];
  aad[9] = hdr[1];
  aad[10] = hdr[2];
  aad[11] = (unsigned char)(n >> 8);
  aad[12] = (unsigned char)n;
  if (aead_open(T, bulk, &e, nonce, aad, 13, rec + explicit_len, (word32)n, rec + len - taglen,
                (word32)taglen, T->plain) != 0)
    return 0;
  *ptlen = n;
  return 1;
}

/* The TLS 1.2 MAC of a CBC record (RFC 5246 6.2.3.1; RFC 7366 3 with encrypt-then-MAC,
 * where it covers IV and ciphertext): 0 if `mac` is right. */
static int record_mac_ok(Trace *T, int w, uint64_t seq, const unsigned char *hdr,
                         const unsigned char *data, size_t n, const unsigned char *mac) {
  WOLFSSL *ssl = T->c->ssl;
  int verify = (w == 0) == (T->c->role == ROLE_SERVER); /* the writer's MAC secret */
  const unsigned char *secret = wolfSSL_GetMacSecret(ssl, verify);
  int maclen = wolfSSL_GetHmacSize(ssl), rc;
  unsigned char pre[13], out[WC_MAX_DIGEST_SIZE];
  if (secret == NULL || maclen <= 0 || maclen > (int)sizeof out) return -1;
  seq_bytes(pre, seq);
  pre[8] = hdr[0];
  pre[9] = hdr[1];
  pre[10] = hdr[2];
  pre[11] = (unsigned char)(n >> 8);
  pre[12] = (unsigned char)n;
  if (wc_HmacInit(&T->hmac, NULL, INVALID_DEVID) != 0) return -1;
  rc = wc_HmacSetKey(&T->hmac, wolfSSL_GetHmacType(ssl), secret, (word32)maclen) != 0 ||
       wc_HmacUpdate(&T->hmac, pre, sizeof pre) != 0 || wc_HmacUpdate(&T->hmac, data, (word32)n) != 0 ||
       wc_HmacFinal(&T->hmac, out) != 0 || memcmp(out, mac, (size_t)maclen) != 0;
  wc_HmacFree(&T->hmac);
  return rc ? -1 : 0;
}

/* TLS 1.2 AES-CBC (RFC 5246 6.2.3.2): explicit IV || E(content || MAC || padding ||
 * padding length), or with encrypt-then-MAC: IV || E(content || padding || length) ||
 * MAC. Only the last block is decrypted when `length_only` (application data). */
static int record_open_cbc(Trace *T, Stream *S, const unsigned char *hdr, const unsigned char *rec,
                           size_t len, size_t *ptlen, uint64_t seq, int length_only) {
  WOLFSSL *ssl = T->c->ssl;
  int w = (int)(S - T->s), maclen = wolfSSL_GetHmacSize(ssl);
  size_t n = len, ctlen, pad, m, i, from;
  Epoch e;
  if (wolfSSL_GetBulkCipher(ssl) != wolfssl_aes || maclen <= 0 || !record_current_keys(T, w, &e))
    return 0;
  if (T->etm) {
    if (n < 32 + (size_t)maclen) return 0;
    n -= (size_t)maclen;
    if (!length_only && record_mac_ok(T, w, seq, hdr, rec, n, rec + n) != 0) return 0;
  }
  if (n < 32 || n % 16 != 0 || plain_reserve(T, n) != 0) return 0;
  ctlen = n - 16;
  from = length_only ? ctlen - 16 : 0; /* CBC: a block needs only the one before it */
  if (wc_AesSetKey(&T->aes, e.key, (word32)e.keylen, rec + from, AES_DECRYPTION) != 0 ||
      wc_AesCbcDecrypt(&T->aes, T->plain + from, rec + 16 + from, (word32)(ctlen - from)) != 0)
    return 0;
  pad = T->plain[ctlen - 1];
  if (pad + 1 > ctlen - from) return 0;
  for (i = 0; i <= pad; i++)
    if (T->plain[ctlen - 1 - i] != pad) return 0;
  m = ctlen - pad - 1;
  if (!T->etm) {
    if (m < (size_t)maclen) return 0;
    m -= (size_t)maclen;
    if (!length_only && record_mac_ok(T, w, seq, hdr, T->plain, m, T->plain + m) != 0) return 0;
  }
  *ptlen = m;
  return 1;
}

/* Plaintext length of a TLS 1.2 record that is not opened (application data); the
 * record's length when it cannot be told. */
static size_t record_length12(Trace *T, Stream *S, const unsigned char *hdr, const unsigned char *rec,
                              size_t len, uint64_t seq) {
  WOLFSSL *ssl = T->c->ssl;
  size_t o, n;
  if (wolfSSL_GetCipherType(ssl) == WOLFSSL_BLOCK_TYPE)
    return record_open_cbc(T, S, hdr, rec, len, &n, seq, 1) ? n : len;
  if (wolfSSL_GetCipherType(ssl) != WOLFSSL_AEAD_TYPE) return len;
  o = (size_t)wolfSSL_GetAeadMacSize(ssl) + (wolfSSL_GetBulkCipher(ssl) == wolfssl_chacha ? 0 : 8);
  return o <= len ? len - o : len;
}

/* ---- splitting ------------------------------------------------------------------------ */

/* What the ServerHello says about the version (RFC 8446 4.2.1: supported_versions). */
static void record_server_hello(Trace *T, const unsigned char *m, size_t n) {
  size_t off = 4 + 2 + 32, end;
  int version;
  if (n < off + 1) return;
  version = (m[4] << 8) | m[5];
  off += 1 + m[off];         /* session id */
  off += 2 + 1;              /* cipher suite, compression */
  if (off + 2 <= n) {
    end = off + 2 + (size_t)((m[off] << 8) | m[off + 1]);
    if (end > n) end = n;
    for (off += 2; off + 4 <= end;) {
      int type = (m[off] << 8) | m[off + 1];
      size_t elen = (size_t)((m[off + 2] << 8) | m[off + 3]);
      if (type == 43 && elen == 2 && off + 6 <= end) version = (m[off + 4] << 8) | m[off + 5];
      if (type == 22) T->etm = 1;
      off += 4 + elen;
    }
  }
  T->version = version;
}

static void record_handshake(Trace *T, Stream *S, int dir, const unsigned char *p, size_t n,
                             const Event *rec) {
  Buf *hs = &S->hs;
  if (buf_append(hs, p, n) != 0) {
    record_malformed(T, S, dir, CT_HANDSHAKE, "out of memory reassembling a handshake message");
    return;
  }
  while (buf_size(hs) >= 4) {
    const unsigned char *m = hs->p + hs->off;
    size_t body = ((size_t)m[1] << 16) | ((size_t)m[2] << 8) | m[3];
    Event e = *rec;
    if (body > HS_MAX) {
      buf_free(hs);
      record_malformed(T, S, dir, CT_HANDSHAKE, "handshake message too long");
      return;
    }
    if (buf_size(hs) < 4 + body) return; /* the rest comes in a later record */
    e.hs_type = m[0];
    e.bytes = m;
    e.nbytes = 4 + body;
    e.length = body;
    if (m[0] == 2) record_server_hello(T, m, 4 + body);
    record_emit(T, &e);
    /* RFC 8446 5.1: keys change after a Finished or KeyUpdate, at a record boundary */
    if (T->version == 0x0304 && (m[0] == 20 || m[0] == 24) && S->protect) {
      S->cur++;
      S->seq = 0;
    }
    buf_consume(hs, 4 + body);
  }
}

static void record_content(Trace *T, Stream *S, int dir, int content, const unsigned char *p,
                           size_t n, Event *e) {
  e->content = content;
  switch (content) {
  case CT_HANDSHAKE:
    record_handshake(T, S, dir, p, n, e);
    return;
  case CT_ALERT:
    if (n == 0 || n % 2 != 0) {
      record_malformed(T, S, dir, content, "alert record with a bad length");
      return;
    }
    for (; n >= 2; p += 2, n -= 2) {
      e->bytes = p;
      e->nbytes = e->length = 2;
      record_emit(T, e);
    }
    return;
  case CT_APPDATA:
    e->length = n;
    record_emit(T, e);
    return;
  default: /* CCS, heartbeat */
    e->bytes = p;
    e->nbytes = e->length = n;
    record_emit(T, e);
  }
}

static void record_done(Trace *T, Stream *S, int dir) {
  const unsigned char *hdr = S->hdr;
  int type = hdr[0];
  size_t len = S->rec_len, n;
  Event e;
  memset(&e, 0, sizeof e);
  e.dir = dir;
  e.record_version = (hdr[1] << 8) | hdr[2];
  e.hs_type = -1;
  if (type == CT_CCS) {
    /* TLS 1.2 (RFC 5246 7.1): the writer's next records use the new keys from sequence
     * number 0. In TLS 1.3 a CCS is only for middleboxes (RFC 8446 D.4). */
    if (T->version != 0x0304) {
      S->protect = 1;
      S->seq = 0;
    }
    record_content(T, S, dir, type, S->rec, len, &e);
    return;
  }
  if (T->version == 0x0304 && type == CT_APPDATA && !S->protect) {
    S->protect = 1; /* the first protected record: the first epoch, sequence number 0 */
    S->cur = 0;
    S->seq = 0;
  }
  if (!S->protect || (T->version == 0x0304 && type != CT_APPDATA)) {
    record_content(T, S, dir, type, S->rec, len, &e); /* plaintext */
    return;
  }
  e.protect = 1;
  if (T->version == 0x0304) {
    int inner = 0, rc;
    if (record_peek13(T, S, S->rec, len, &n)) {
      e.content = CT_APPDATA;
      e.length = n;
      record_emit(T, &e);
      return;
    }
    rc = record_open13(T, S, hdr, S->rec, len, &n, &inner);
    if (rc < 0) {
      record_malformed(T, S, dir, type, "protected record without a content type");
      return;
    }
    if (rc > 0) {
      record_content(T, S, dir, inner, T->plain, n, &e);
      return;
    }
  } else if (type == CT_APPDATA) {
    e.content = type; /* length only: not opened */
    e.length = record_length12(T, S, hdr, S->rec, len, S->seq++);
    record_emit(T, &e);
    return;
  } else if (record_open12(T, S, hdr, S->rec, len, &n)) {
    record_content(T, S, dir, type, T->plain, n, &e);
    return;
  }
  /* could not be opened: what the header says, and that it is still encrypted */
  e.content = S->cur == 0 && T->version == 0x0304 && type == CT_APPDATA && !(T->c->flags & CONN_DONE)
                  ? CT_HANDSHAKE
                  : type;
  e.encrypted = 1;
  e.length = len;
  record_emit(T, &e);
}

/* Feed n bytes written by writer w; report each complete record's messages. */
static void stream_feed(Trace *T, int w, int dir, const unsigned char *p, size_t n) {
  Stream *S = &T->s[w];
  while (n > 0 && !S->broken) {
    if (S->hdr_have < REC_HDR) {
      size_t k = (size_t)(REC_HDR - S->hdr_have);
      if (k > n) k = n;
      memcpy(S->hdr + S->hdr_have, p, k);
      S->hdr_have += (int)k;
      p += k;
      n -= k;
      if (S->hdr_have < REC_HDR) return;
      S->rec_len = (size_t)((S->hdr[3] << 8) | S->hdr[4]);
      S->rec_have = 0;
      if (S->hdr[0] < CT_CCS || S->hdr[0] > CT_HEARTBEAT || S->hdr[1] != 3 || S->rec_len > REC_MAX) {
        record_malformed(T, S, dir, S->hdr[0], "not a TLS record");
        return;
      }
      if (S->rec_len > S->rec_cap) {
        unsigned char *b = realloc(S->rec, S->rec_len);
        if (b == NULL) {
          record_malformed(T, S, dir, S->hdr[0], "out of memory");
          return;
        }
        S->rec = b;
        S->rec_cap = S->rec_len;
      }
    } else {
      size_t k = S->rec_len - S->rec_have;
      if (k > n) k = n;
      memcpy(S->rec + S->rec_have, p, k);
      S->rec_have += k;
      p += k;
      n -= k;
    }
    if (S->hdr_have == REC_HDR && S->rec_have == S->rec_len) {
      S->hdr_have = 0;
      record_done(T, S, dir);
    }
  }
}

/* ---- the interface to conn.c and hello.c ------------------------------------------------ */

static void record_hook_ctx(Conn *c) {
  WOLFSSL_CTX *ctx = wolfSSL_get_SSL_CTX(c->ssl);
  if (ctx && c->trace && (c->trace->observing || c->trace->keylog))
    wolfSSL_CTX_SetHKDFExpandLabelCb(ctx, record_hkdf);
}

/* Whether a connection is traced and hooked is decided once, by its first driving call:
 * from then on bytes flow, and a splitter started mid-record would report nonsense. A
 * key log is decided then too: its secrets are derived during the handshake. */
static void record_decide(lua_State *L, Conn *c) {
  int observe = 0, hello = 0, keylog = 0;
  Trace *T;
  if (lua_checkstack(L, 4)) {
    if ((observe = bridge_handler(L, c, "on_message"))) lua_pop(L, 1);
    if (c->role == ROLE_SERVER && (hello = bridge_handler(L, c, "on_client_hello"))) lua_pop(L, 1);
    keylog = keys_wanted(L, c);
  }
  if (!observe && !hello && !keylog) return;
  T = calloc(1, sizeof *T);
  if (T == NULL) return; /* out of memory: the connection runs untraced */
  T->c = c;
  T->observing = observe;
  T->keylog = keylog;
  T->hello = hello ? HELLO_WAIT : HELLO_NONE;
  c->trace = T;
  record_hook_ctx(c);
}

void record_begin(lua_State *L, Conn *c) {
  if (!(c->flags & CONN_OBSERVED)) {
    c->flags |= CONN_OBSERVED;
    record_decide(L, c);
  }
  c->key_outer = key_current;
  key_current = c;
}

void record_end(Conn *c) {
  if (key_current == c) key_current = c->key_outer;
  c->key_outer = NULL;
}

/* How many bytes wolfSSL may have now: never past the end of the current record, so a
 * received record is opened with the keys wolfSSL installed for it. wolfSSL 5.5.4 asks
 * for exactly a header and then exactly a body, so this never costs an extra call. */
int record_recv_limit(Conn *c, int sz) {
  Trace *T = c->trace;
  Stream *S;
  size_t need;
  if (T == NULL || !T->observing) return sz;
  if (T->skip) return T->skip < (size_t)sz ? (int)T->skip : sz;
  S = &T->s[writer_of(c, DIR_RECEIVED)];
  if (S->broken) return sz;
  need = S->hdr_have < REC_HDR ? (size_t)(REC_HDR - S->hdr_have) : S->rec_len - S->rec_have;
  return need > 0 && need < (size_t)sz ? (int)need : sz;
}

/* Bytes that went to the peer or to wolfSSL. -1 if on_message failed: the I/O callback
 * then fails, and the driving call returns the callback error. */
int record_observe(Conn *c, int dir, const unsigned char *p, int n) {
  Trace *T = c->trace;
  if (T == NULL || !T->observing || n <= 0) return 0;
  if (dir == DIR_RECEIVED && T->skip) {
    size_t k = T->skip < (size_t)n ? T->skip : (size_t)n;
    T->skip -= k;
    p += k;
    n -= (int)k;
  }
  stream_feed(T, writer_of(c, dir), dir, p, (size_t)n);
  return c->cb_error ? -1 : 0;
}

/* The ClientHello hook reports the buffered ClientHello records before wolfSSL reads
 * them (so on_message sees the ClientHello before on_client_hello runs). */
void record_prefeed(Conn *c, const unsigned char *p, size_t n) {
  Trace *T = c->trace;
  if (T == NULL || !T->observing) return;
  stream_feed(T, writer_of(c, DIR_RECEIVED), DIR_RECEIVED, p, n);
  T->skip += n;
}

int record_hello_pending(Conn *c) {
  return c->trace && (c->trace->hello == HELLO_WAIT || c->trace->hello == HELLO_PAUSED);
}

int record_hello_paused(Conn *c) { return c->trace && c->trace->hello == HELLO_PAUSED; }

void record_hello_done(Conn *c, int paused) {
  if (c->trace) c->trace->hello = paused ? HELLO_PAUSED : HELLO_DONE;
}

void record_ctx_changed(Conn *c) { record_hook_ctx(c); }

void record_free(Conn *c) {
  Trace *T = c->trace;
  int i;
  if (key_current == c) key_current = c->key_outer;
  if (T == NULL) return;
  for (i = 0; i < 2; i++) {
    free(T->s[i].rec);
    buf_free(&T->s[i].hs);
  }
  free(T->plain);
  memset(T, 0, sizeof *T); /* the keys */
  free(T);
  c->trace = NULL;
}
