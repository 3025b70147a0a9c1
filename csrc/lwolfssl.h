/* Internal declarations shared by the C files of wolfssl.core. Nothing here is exported:
 * the build uses -fvisibility=hidden and only luaopen_wolfssl_core is public. */
#ifndef LWOLFSSL_H
#define LWOLFSSL_H

#include <stddef.h>
#include <wolfssl/options.h> /* must precede ssl.h: it carries OPENSSL_EXTRA etc. */
#include <wolfssl/ssl.h>

#include "compat.h"

#define LW_CONTEXT "wolfssl.Context"
#define LW_CONN "wolfssl.Connection"
#define LW_CERT "wolfssl.Certificate"
#define LW_SESSION "wolfssl.Session"

enum { ROLE_CLIENT = 0, ROLE_SERVER = 1 };
enum { DIR_RECEIVED = 0, DIR_SENT = 1 };

/* A growable byte buffer; bytes live in p[off .. len). */
typedef struct Buf {
  unsigned char *p;
  size_t off, len, cap;
} Buf;

int buf_append(Buf *b, const void *data, size_t n);
size_t buf_size(const Buf *b);
void buf_consume(Buf *b, size_t n);
void buf_free(Buf *b);

/* Checks the binding adds to wolfSSL's verification (verify.c); all zero = none. */
typedef struct VerifyPolicy {
  int min_rsa_bits, min_ec_bits;  /* smallest peer key accepted (0: no minimum) */
  int allow_sha1, allow_md5;      /* accept certificates signed with these digests */
  int allow_cn_match;             /* match the host against the CN when there is no dNSName */
  int relax_eku;                  /* override wolfSSL's extendedKeyUsage failure */
  int relax_name_constraints;     /* override wolfSSL's name-constraints failure */
} VerifyPolicy;

/* Verify errors the binding adds to OpenSSL's X509_V_ERR numbering (errors.c) */
#define VERIFY_ERR_NAME_CONSTRAINTS 1001
#define VERIFY_ERR_WEAK_DIGEST 1002
#define VERIFY_ERR_OCSP_NO_STAPLE 1003
#define VERIFY_ERR_OCSP_BAD_RESPONSE 1004
#define VERIFY_ERR_NO_PEER_CERT 1005
/* a resumed connection verifies no certificate: the outcome comes with the session */
#define VERIFY_ERR_SESSION_NOT_VERIFIED 1006 /* its handshake did not verify the peer */
#define VERIFY_ERR_SESSION_OTHER_HOST 1007   /* verified for another name (or none) */
#define VERIFY_ERR_SESSION_UNKNOWN 1008      /* the session does not say */

typedef struct Context {
  WOLFSSL_CTX *ctx;
  int role;
  int verify;       /* VERIFY_* below */
  int has_cert;     /* a certificate is loaded (check_private_key needs one) */
  VerifyPolicy policy;
} Context;

enum { VERIFY_NONE = 0, VERIFY_PEER = 1, VERIFY_REQUIRED = 2 };

/* Connection flags */
#define CONN_DONE 0x01     /* handshake completed */
#define CONN_EOF 0x02      /* the transport reached end of input (feed_eof / recv 0) */
#define CONN_PAUSED 0x04   /* a callback returned wolfssl.PAUSE */
#define CONN_TIMEDOUT 0x08 /* the fd transport's poll timed out */
#define CONN_TICKET_CHECK 0x10 /* TLS 1.2 ticket offered: look at the server's reply first */
#define CONN_TICKET_DROPPED 0x20 /* the server ignored our ticket: full handshake */
#define CONN_OBSERVED 0x40 /* record.c has decided whether the connection is traced */
#define CONN_KEYLOG 0x80   /* keep TLS 1.3 key-log lines for conn:keylog() (keys.c) */
#define CONN_RELEASED 0x100 /* release_handshake_data(): wolfSSL_FreeArrays ran, so the
                             * exporter and client/server randoms are gone (conn.c) */

typedef struct Trace Trace; /* record.c: the trace and the ClientHello hook's state */

typedef struct Conn {
  WOLFSSL *ssl;      /* NULL once closed */
  lua_State *L;      /* state of the Lua call now driving wolfSSL, else NULL */
  int role;
  int fd;            /* -1: memory transport */
  int flags;
  int timeout_ms;    /* fd transport: -1 = block, 0 = never wait, else ms per call */
  long deadline_ms;  /* when the current call's timeout runs out */
  int io_errno;      /* errno of the last failed recv/send */
  Buf in;            /* bytes from the peer not yet given to wolfSSL */
  Buf out;           /* bytes for the peer not yet taken (memory transport) */
  int write_len;     /* length of a write that returned wantwrite: wolfSSL needs it again */
  char *cb_error;    /* message of a callback that failed during this call */
  char *failed_msg;  /* a fatal error is latched: later calls repeat it */
  const char *failed_code;
  /* peer verification, written by verify.c */
  char *host;        /* name the client checks the peer certificate against */
  int host_is_ip;    /* 0, or 4 / 16: host is an IP literal, parsed into host_ip */
  unsigned char host_ip[16];
  int verify_err;    /* first error that made verification fail (0 = none) */
  int verify_depth;
  char *verify_subject;
  int verify_seen;   /* the verify callback ran with a certificate */
  char *verify_reason;  /* the failure in words, when more precise than the error's text */
  int verify_override;  /* why the peer is not "verified" though the handshake went on: an
                         * error on_verify accepted, or a resumed session's VERIFY_ERR_SESSION_* */
  int verify_deferred;  /* a CA certificate was rejected: fail at the leaf (verify.c) */
  /* sessions, server decisions, PSK, key material (session.c, server.c, psk.c,
   * tickets.c, keys.c); allocated on first use, freed by session_conn_free */
  struct ConnExtra *x;
  Trace *trace;      /* record.c: NULL unless on_message / on_client_hello / a key log is set */
  struct Conn *key_outer; /* record.c: the connection whose driving call this one interrupted */
} Conn;

/* core.c */
void lw_class(lua_State *L, const char *tname, const luaL_Reg *meta, const luaL_Reg *methods);
void lw_registry_table(lua_State *L, const char *name, const char *mode);
void lw_fork_check(void); /* reseed wolfSSL's global RNG in a forked child */
int lw_rand_bytes(unsigned char *buf, int n); /* the global RNG, fork-safe; 0 = ok */
long lw_now(void); /* wall-clock seconds (plus a test-only offset) */

/* context.c */
void context_open(lua_State *L);
Context *context_check(lua_State *L, int i);
int context_format(lua_State *L, int i);  /* "pem" | "der" argument -> WOLFSSL_FILETYPE_* */
int context_fail(lua_State *L, const char *fmt, int code); /* nil, message (code: wolfSSL err) */
int key_load(lua_State *L, WOLFSSL_CTX *ctx, int data, int fmt, int pw, int check);
int context_new(lua_State *L);

/* conn.c */
void conn_open(lua_State *L);
int conn_new(lua_State *L); /* ctx:new_connection([fd]) */
Conn *conn_check(lua_State *L, int i);
Conn *conn_check_open(lua_State *L, int i); /* NULL if closed: I/O then returns "closed" */
Conn *conn_from_ssl(WOLFSSL *ssl);
int conn_push(lua_State *L, Conn *c); /* pushes the userdata of c; 0 if gone */
int conn_recv_fd(Conn *c, char *buf, int sz); /* recv() with the binding's wait rules */
void conn_begin(lua_State *L, Conn *c); /* a driving call starts: callbacks run on L */
void conn_end(Conn *c);                 /* ... and ends (every conn_begin has one) */
int conn_send_raw(Conn *c, const void *data, int n); /* bytes around wolfSSL (an alert) */
extern const luaL_Reg conn_info_methods[]; /* conninfo.c */

/* x509.c */
void x509_open(lua_State *L);
/* Push a Certificate that owns its own copy of x (x is not consumed). */
int x509_push_copy(lua_State *L, WOLFSSL_X509 *x);
int x509_push_der(lua_State *L, const unsigned char *der, int n); /* nil if bad */
WOLFSSL_X509 *x509_check(lua_State *L, int i);
/* One-line RFC 4514 subject of x into buf ("CN=a,O=b"). */
void x509_subject_line(WOLFSSL_X509 *x, char *buf, size_t len);
extern const luaL_Reg x509_functions[];

/* pki.c: key and certificate generation primitives for wolfssl.pki (core.pki) */
void pki_open(lua_State *L);

/* verify.c */
int verify_callback(int preverify, WOLFSSL_X509_STORE_CTX *store);
void verify_chain_complete(lua_State *L, Conn *c); /* the kept chain's anchor, on demand */
int verify_set_host(Conn *c, const char *name, size_t len);
void verify_reset(Conn *c);
int verify_late_failure(Conn *c, int err); /* errors.c: OCSP and parse-time failures */
int verify_dns_match(const char *pattern, size_t plen, const char *host);
int verify_san_match(WOLFSSL_X509 *cert, const char *host, const unsigned char *ip, int ip_len,
                     int *has_dns);
extern const luaL_Reg verify_conn_methods[];
extern const luaL_Reg verify_context_methods[];

/* revocation.c: CRL and OCSP stapling methods */
extern const luaL_Reg revocation_context_methods[];
extern const luaL_Reg revocation_conn_methods[];

/* record.c: the trace (records and messages from the I/O callbacks, opened with the keys) */
void record_begin(lua_State *L, Conn *c); /* every driving call, first */
void record_end(Conn *c);                 /* every driving call, last */
int record_recv_limit(Conn *c, int sz);   /* bytes wolfSSL may take now: one record at a time */
int record_observe(Conn *c, int dir, const unsigned char *p, int n); /* -1: on_message failed */
void record_prefeed(Conn *c, const unsigned char *p, size_t n);
int record_hello_pending(Conn *c);
int record_hello_paused(Conn *c);
void record_hello_done(Conn *c, int paused); /* paused: ask the hook again on resume */
void record_ctx_changed(Conn *c);
void record_free(Conn *c);

/* hello.c: the ClientHello hook; 0 = go on to wolfSSL_accept, else results pushed */
int hello_run(lua_State *L, Conn *c);

/* callbacks.c: the only place that calls Lua from wolfSSL callbacks */
int bridge_pcall(lua_State *L, int nargs, int nres, char **err);
int bridge_handler(lua_State *L, Conn *c, const char *name);
int bridge_is_pause(lua_State *L, int i);
int bridge_set_handler(lua_State *L); /* obj:set_handler(name, fn|nil), obj checked */
int bridge_get_handler(lua_State *L); /* obj:handler(name), obj checked */
int bridge_password_cb(char *buf, int size, int rwflag, void *userdata);

typedef struct PasswordArg {
  lua_State *L;
  int fn;            /* stack index of a password function, or 0 */
  const char *pw;    /* or a password string */
  size_t pwlen;
  char *err;         /* the function failed: its message */
  int called;
} PasswordArg;

/* How the peer of the handshake that made a session was verified (session.c): carried
 * by Session objects and their export, handed to the connections that resume them. */
typedef struct SessionVerify {
  int known;           /* 0: nothing is known (a bare wolfSSL session) */
  int verified;        /* the peer's certificate passed verification */
  int error;           /* else why not (a verify error on_verify accepted), or 0 */
  char *host;          /* the name it was checked against (client side), or NULL */
  unsigned char *chain; /* the verified chain: DER certificates, each after a 3-byte length */
  size_t chain_len;
} SessionVerify;

/* session.c: Session userdata, client sessions, the TLS 1.2 ticket look-ahead */
void session_open(lua_State *L);
int session_push(lua_State *L, WOLFSSL_SESSION *s, Conn *c); /* takes the reference; c: made by */
WOLFSSL_SESSION *session_from_value(lua_State *L, int i, char **err, SessionVerify *v);

/* resumed.c: the SessionVerify record, its export, what a resumed connection reports */
void resumed_free(SessionVerify *v);
int resumed_copy(SessionVerify *to, const SessionVerify *from); /* -1: out of memory */
void resumed_record(lua_State *L, Conn *c, SessionVerify *v); /* c's outcome, for a new session */
void resumed_apply(lua_State *L, Conn *c); /* a resumed c takes its session's outcome (once) */
int resumed_peer_verified(lua_State *L, Conn *c); /* the outcome a new session/ticket carries */
WOLFSSL_SESSION *resumed_decode(const unsigned char *p, size_t n, SessionVerify *v); /* NULL: bad */
void resumed_encode(luaL_Buffer *b, const SessionVerify *v, const unsigned char *der, size_t n);
int resumed_push_table(lua_State *L, const SessionVerify *v);
int tickets_session_new(WOLFSSL *ssl, WOLFSSL_SESSION *s);
void session_context_init(WOLFSSL_CTX *ctx, int role);
int session_ticket_lookahead(Conn *c); /* from the recv callback; <0 = CBIO code */
void session_conn_free(Conn *c);
struct ConnExtra *session_extra(Conn *c); /* c->x, allocated on demand (NULL: no memory) */
int session_handshake_done(lua_State *L, Conn *c); /* after the handshake: keylog etc. */
int session_handshake_failed(lua_State *L, Conn *c); /* 1: c->failed_* set by us */
extern const luaL_Reg session_conn_methods[], session_context_methods[], session_functions[];

/* server.c: SNI, ALPN selection, certificate callback */
void server_context_init(WOLFSSL_CTX *ctx);
extern const luaL_Reg server_conn_methods[], server_context_methods[];

/* tickets.c: ticket keys, on_ticket_key, external session cache */
extern const luaL_Reg tickets_context_methods[], tickets_functions[];

/* psk.c */
extern const luaL_Reg psk_conn_methods[], psk_context_methods[];
int psk_handshake_failed(lua_State *L, Conn *c);

/* keys.c: exporter, Finished, randoms, key log, key update */
extern const luaL_Reg keys_conn_methods[];
int keys_handshake_done(lua_State *L, Conn *c);
/* record.c's HKDF hook found a TLS 1.3 secret of a key-logging connection: log it.
 * 0, or -1 when the key-log callback failed (c->cb_error set). */
int keys_tls13_secret(Conn *c, const unsigned char *label, size_t label_len, const unsigned char *secret,
                      size_t n);
int keys_wanted(lua_State *L, Conn *c); /* does c keep a key log? (decided at its first call) */

/* per-connection state of the files above */
typedef struct ConnExtra {
  /* on_ticket_key answers, cached: wolfSSL asks up to 27 times per handshake (item 6) */
  unsigned char tk_name[16];
  int tk_state;              /* 0 nothing cached, 1 known (keys below), 2 unknown name */
  unsigned char tk_keys[128]; /* AES-256 key | HMAC-SHA256 key, then the same for tickets
                              * of verified clients (tickets.c) */
  /* PSK answers, cached for the same reason (item 9a): identity -> key */
  char *psk_identity;
  unsigned char *psk_key;
  int psk_key_len;           /* -1: the identity is unknown */
  int psk_unknown;           /* the server refused an identity in this handshake */
  int done_hooks;            /* session_handshake_done ran */
  char *reject_msg;          /* a server callback refused the handshake: why */
  char *keylog;              /* NSS key-log lines kept for keylog(), '\n'-separated */
  int keylog_seen;           /* TLS 1.3 secrets already logged (bit per label, keys.c) */
  /* verification of a resumed connection (session.c): what the session says */
  SessionVerify offered;     /* client: the session set_session offered */
  SessionVerify looked_up;   /* server: the session on_session_lookup returned */
  int tk_family;             /* server: ticket opened by tickets.c: 0 no, 1 unverified, 2 verified */
  int resume_applied;        /* the resumed outcome is in the connection's verify fields */
} ConnExtra;

/* A server callback refuses the handshake (its alert is sent by wolfSSL): remember why,
 * so the failed handshake says so instead of wolfSSL's generic error. */
void session_reject(Conn *c, const char *fmt, ...);

int alert_code(const char *name); /* alert name -> code, -1 if unknown (session.c) */

/* errors.c */
int lw_error(lua_State *L, const char *code, const char *fmt, ...);
int conn_error(lua_State *L, Conn *c, int rc, const char *what);
const char *alert_name(int code);
int verify_normalize(int err); /* wolfSSL codes -> X509_V_ERR numbers */
const char *verify_error_name(int err);
const char *verify_error_text(int err);
extern const luaL_Reg errors_functions[];

char *lw_strdup(const char *s);
void lw_free_str(char **s);

#endif
