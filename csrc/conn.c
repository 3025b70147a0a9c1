/* Connection userdata over WOLFSSL: the transport and the calls that drive wolfSSL.
 *
 * Both transports run through ONE pair of binding-owned I/O callbacks (conn_io_recv,
 * conn_io_send). The recv side always serves the inbound buffer first and only then, in
 * fd mode, the socket; the send side appends to the outbound buffer (memory mode) or
 * sends on the socket (fd mode). Every byte of the connection therefore passes through
 * these two functions, which is where the trace and the ClientHello hook attach. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lwolfssl.h"
#include <wolfssl/openssl/evp.h> /* EVP_PKEY_RSA */

#define CONNS_KEY "wolfssl.conns" /* weak table: lightuserdata(Conn*) -> userdata */
#define READ_CHUNK 16384          /* one TLS record of plaintext at most */

/* ---- byte buffers ------------------------------------------------------------------ */

size_t buf_size(const Buf *b) { return b->len - b->off; }

int buf_append(Buf *b, const void *data, size_t n) {
  if (n == 0) return 0;
  /* Reclaim the consumed front only when it is at least as large as the live bytes:
   * each byte is then moved at most once per doubling of the buffer, so any pattern of
   * feeding and consuming (1 MiB fed one byte at a time included) stays linear. */
  if (b->len + n > b->cap && b->off > 0 && b->off >= b->len - b->off) {
    memmove(b->p, b->p + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
  }
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    unsigned char *p;
    while (cap < b->len + n) cap *= 2;
    p = realloc(b->p, cap);
    if (p == NULL) return -1;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
  return 0;
}

/* A drained buffer gives its memory back: an idle connection on the memory transport
 * then holds no transport buffers at all (W4 in bench/). The next record allocates
 * again, which costs far less than the record's encryption (measured in bench/: W3). */
void buf_consume(Buf *b, size_t n) {
  b->off += n;
  if (b->off >= b->len) buf_free(b);
}

void buf_free(Buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

/* ---- the fd transport --------------------------------------------------------------- */

static long conn_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for `events`, within the call's deadline. 1 = ready, 0 = not. */
static int conn_wait(Conn *c, short events) {
  struct pollfd p;
  int rc, ms;
  if (c->timeout_ms == 0) return 0;
  for (;;) {
    ms = -1;
    if (c->timeout_ms > 0) {
      long left = c->deadline_ms - conn_now_ms();
      ms = left > 0 ? (int)left : 0;
    }
    p.fd = c->fd;
    p.events = events;
    p.revents = 0;
    rc = poll(&p, 1, ms);
    if (rc > 0) return 1;
    if (rc == 0) {
      c->flags |= CONN_TIMEDOUT;
      return 0;
    }
    if (errno != EINTR) {
      c->io_errno = errno;
      return 0;
    }
  }
}

/* recv() for wolfSSL: n > 0, or a WOLFSSL_CBIO_ERR_* code. Never 0 and never ISR:
 * wolfSSL would spin on either (wolfssl-notes.md item 1). */
int conn_recv_fd(Conn *c, char *buf, int sz) {
  for (;;) {
    ssize_t r = recv(c->fd, buf, (size_t)sz, 0);
    if (r > 0) return (int)r;
    if (r == 0) {
      c->flags |= CONN_EOF;
      return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (conn_wait(c, POLLIN)) continue;
      return WOLFSSL_CBIO_ERR_WANT_READ;
    }
    c->io_errno = errno;
    return errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST : WOLFSSL_CBIO_ERR_GENERAL;
  }
}

static int conn_send_fd(Conn *c, const char *buf, int sz) {
  for (;;) {
    ssize_t r = send(c->fd, buf, (size_t)sz, MSG_NOSIGNAL);
    if (r >= 0) return (int)r;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (conn_wait(c, POLLOUT)) continue;
      return WOLFSSL_CBIO_ERR_WANT_WRITE;
    }
    c->io_errno = errno;
    return errno == EPIPE || errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_CLOSE
                                                 : WOLFSSL_CBIO_ERR_GENERAL;
  }
}

/* ---- the I/O callbacks: the only path between wolfSSL and the peer ------------------ */

static int conn_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg) {
  Conn *c = arg;
  size_t avail;
  int n;
  (void)ssl;
  /* wolfSSL TLS 1.2 client bug (item 6): gather the server's first flight into c->in
   * so the binding can see whether a ticket was accepted before wolfSSL reads it */
  if ((c->flags & CONN_TICKET_CHECK) && (n = session_ticket_lookahead(c)) < 0) return n;
  if (c->trace) sz = record_recv_limit(c, sz);
  avail = buf_size(&c->in);
  if (avail > 0) {
    n = avail < (size_t)sz ? (int)avail : sz;
    memcpy(buf, c->in.p + c->in.off, (size_t)n);
    buf_consume(&c->in, (size_t)n);
  } else if (c->fd >= 0) {
    n = conn_recv_fd(c, buf, sz);
    if (n <= 0) return n;
  } else {
    return (c->flags & CONN_EOF) ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
  }
  if (c->trace && record_observe(c, DIR_RECEIVED, (const unsigned char *)buf, n) != 0)
    return WOLFSSL_CBIO_ERR_GENERAL; /* on_message failed: so does the driving call */
  return n;
}

static int conn_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg) {
  Conn *c = arg;
  int n;
  (void)ssl;
  if (c->fd < 0) {
    /* Unbounded, so wolfSSL never sees WANT_WRITE in memory mode (item 1). */
    if (buf_append(&c->out, buf, (size_t)sz) != 0) return WOLFSSL_CBIO_ERR_GENERAL;
    n = sz;
  } else {
    n = conn_send_fd(c, buf, sz);
    if (n <= 0) return n;
  }
  if (c->trace && record_observe(c, DIR_SENT, (const unsigned char *)buf, n) != 0)
    return WOLFSSL_CBIO_ERR_GENERAL;
  return n;
}

/* Bytes the binding itself puts on the wire, outside a wolfSSL call (an alert wolfSSL
 * fails to send, or the ClientHello hook's refusal). 0 when all of it went out (or was
 * queued), -1 otherwise. The trace sees them like wolfSSL's own. */
int conn_send_raw(Conn *c, const void *data, int n) {
  const char *p = data;
  int total = n;
  if (c->fd < 0) {
    if (buf_append(&c->out, data, (size_t)n) != 0) return -1;
  } else {
    while (n > 0) {
      int r = conn_send_fd(c, p, n);
      if (r <= 0) return -1;
      p += r;
      n -= r;
    }
  }
  if (c->trace) record_observe(c, DIR_SENT, (const unsigned char *)data, total);
  return 0;
}

/* ---- object ------------------------------------------------------------------------- */

Conn *conn_check(lua_State *L, int i) {
  Conn *c = luaL_checkudata(L, i, LW_CONN);
  if (c->ssl == NULL) luaL_error(L, "attempt to use a closed connection");
  return c;
}

Conn *conn_check_open(lua_State *L, int i) {
  Conn *c = luaL_checkudata(L, i, LW_CONN);
  return c->ssl ? c : NULL;
}

Conn *conn_from_ssl(WOLFSSL *ssl) { return ssl ? wolfSSL_GetIOReadCtx(ssl) : NULL; }

int conn_push(lua_State *L, Conn *c) {
  lw_registry_table(L, CONNS_KEY, "v");
  lua_rawgetp(L, -1, c);
  lua_remove(L, -2);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

static int conn_closed(lua_State *L) {
  lua_pushnil(L);
  lua_pushliteral(L, "connection is closed");
  lua_pushliteral(L, "closed");
  return 3;
}

/* Everything a driving call does first: it owns the callbacks' lua_State until it ends. */
void conn_begin(lua_State *L, Conn *c) {
  /* handshake()/read()/… from inside one of this connection's callbacks would re-enter
   * wolfSSL; raising here is safe (nothing of wolfSSL's is on this call's stack yet) and
   * the callback's pcall turns it into a callback error */
  if (c->L != NULL) luaL_error(L, "cannot drive a connection from inside its own callback");
  lw_fork_check();
  c->L = L;
  c->flags &= ~(CONN_PAUSED | CONN_TIMEDOUT);
  c->io_errno = 0;
  lw_free_str(&c->cb_error);
  if (c->timeout_ms > 0) c->deadline_ms = conn_now_ms() + c->timeout_ms;
  wolfSSL_ERR_clear_error();
  record_begin(L, c);
}

void conn_end(Conn *c) {
  c->L = NULL;
  record_end(c); /* every connection: record.c tracks whose keys wolfSSL is deriving */
}

static int conn_failed(lua_State *L, Conn *c) {
  lua_pushnil(L);
  lua_pushstring(L, c->failed_msg);
  lua_pushstring(L, c->failed_code);
  return 3;
}

/* ctx:new_connection([fd]) */
int conn_new(lua_State *L) {
  Context *x = context_check(L, 1);
  int fd = (int)luaL_optinteger(L, 2, -1);
  Conn *c = lw_newuserdata(L, sizeof *c);
  memset(c, 0, sizeof *c);
  c->fd = fd;
  c->role = x->role;
  c->timeout_ms = -1;
  luaL_getmetatable(L, LW_CONN);
  lua_setmetatable(L, -2);
  /* The uservalue keeps the Context (and so its handlers) alive as long as the
   * connection: the WOLFSSL already holds the CTX itself (item 10). */
  lua_createtable(L, 0, 2);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "context");
  lua_setuservalue(L, -2);
  c->ssl = wolfSSL_new(x->ctx);
  if (c->ssl == NULL) return luaL_error(L, "wolfSSL_new failed (out of memory?)");
  wolfSSL_SSLSetIORecv(c->ssl, conn_io_recv);
  wolfSSL_SSLSetIOSend(c->ssl, conn_io_send);
  wolfSSL_SetIOReadCtx(c->ssl, c);
  wolfSSL_SetIOWriteCtx(c->ssl, c);
  if (x->verify != VERIFY_NONE) {
    int mode = WOLFSSL_VERIFY_PEER;
    if (x->verify == VERIFY_REQUIRED && x->role == ROLE_SERVER)
      mode |= WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    wolfSSL_set_verify(c->ssl, mode, verify_callback);
  }
  lw_registry_table(L, CONNS_KEY, "v");
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, c);
  lua_pop(L, 1);
  return 1;
}

static int conn_free(lua_State *L) {
  Conn *c = luaL_checkudata(L, 1, LW_CONN);
  /* a callback of this connection's own driving call: wolfSSL is still using the WOLFSSL
   * (freeing it there is a use after free inside wolfSSL, which ASan cannot see) */
  if (c->ssl && c->L != NULL)
    return luaL_error(L, "cannot close a connection from inside its own callback (return false to refuse it)");
  if (c->ssl) {
    wolfSSL_free(c->ssl);
    c->ssl = NULL;
  }
  buf_free(&c->in);
  buf_free(&c->out);
  lw_free_str(&c->cb_error);
  lw_free_str(&c->failed_msg);
  lw_free_str(&c->host);
  verify_reset(c);
  session_conn_free(c);
  record_free(c);
  lua_pushboolean(L, 1);
  return 1;
}

static int conn_tostring(lua_State *L) {
  Conn *c = luaL_checkudata(L, 1, LW_CONN);
  lua_pushfstring(L, "wolfssl.Connection (%s, %s%s): %p",
                  c->role == ROLE_CLIENT ? "client" : "server",
                  c->fd >= 0 ? "fd" : "memory", c->ssl ? "" : ", closed", (void *)c);
  return 1;
}

/* ---- the sans-I/O surface ----------------------------------------------------------- */

static int conn_feed(lua_State *L) {
  Conn *c = conn_check_open(L, 1);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  if (c == NULL) return conn_closed(L);
  if (c->flags & CONN_EOF) return luaL_error(L, "feed after feed_eof");
  if (buf_append(&c->in, s, n) != 0) return luaL_error(L, "out of memory");
  lua_pushboolean(L, 1);
  return 1;
}

/* The peer closed its side of the transport: once the buffered bytes are used up,
 * wolfSSL sees end of input instead of "want read". */
static int conn_feed_eof(lua_State *L) {
  Conn *c = conn_check_open(L, 1);
  if (c == NULL) return conn_closed(L);
  c->flags |= CONN_EOF;
  lua_pushboolean(L, 1);
  return 1;
}

static int conn_take(lua_State *L) {
  Conn *c = conn_check_open(L, 1);
  size_t n, max;
  if (c == NULL) return conn_closed(L);
  n = buf_size(&c->out);
  max = (size_t)luaL_optinteger(L, 2, (lua_Integer)n);
  if (max < n) n = max;
  if (n == 0) { /* the buffer may be unallocated: no pointer arithmetic on NULL */
    lua_pushliteral(L, "");
    return 1;
  }
  lua_pushlstring(L, (const char *)c->out.p + c->out.off, n);
  buf_consume(&c->out, n);
  return 1;
}

/* bytes waiting to be taken, and decrypted bytes waiting to be read */
static int conn_pending(lua_State *L) {
  Conn *c = conn_check_open(L, 1);
  if (c == NULL) return conn_closed(L);
  lua_pushinteger(L, (lua_Integer)buf_size(&c->out));
  lua_pushinteger(L, wolfSSL_pending(c->ssl));
  return 2;
}

/* ---- driving wolfSSL ---------------------------------------------------------------- */

static int conn_handshake(lua_State *L) {
  Conn *c = conn_check_open(L, 1);
  int rc;
  if (c == NULL) return conn_closed(L);
  if (c->failed_msg) return conn_failed(L, c);
  if (c->flags & CONN_DONE) {
    lua_pushboolean(L, 1);
    return 1;
  }
  conn_begin(L, c);
  if (c->trace && (rc = hello_run(L, c)) != 0) { /* the ClientHello hook, before wolfSSL */
    conn_end(c);
    return rc;
  }
  rc = c->role == ROLE_CLIENT ? wolfSSL_connect(c->ssl) : wolfSSL_accept(c->ssl);
  if (rc == WOLFSSL_SUCCESS) {
    c->flags |= CONN_DONE;
    rc = session_handshake_done(L, c); /* key log, …: may run Lua */
    conn_end(c);
    if (rc != 0) return conn_error(L, c, WOLFSSL_FATAL_ERROR, "handshake");
    lua_pushboolean(L, 1);
    return 1;
  }
  if (session_handshake_failed(L, c)) { /* it may word wolfSSL's verdict (and latch it) */
    conn_end(c);
    return conn_failed(L, c);
  }
  conn_end(c);
  return conn_error(L, c, rc, "handshake");
}

/* read([n]) -> up to n (default and at most 16384) bytes of application data */
static int conn_read(lua_State *L) {
  Conn *c = conn_check_open(L, 1);
  char buf[READ_CHUNK];
  lua_Integer want = luaL_optinteger(L, 2, READ_CHUNK);
  int rc;
  if (c == NULL) return conn_closed(L);
  if (c->failed_msg) return conn_failed(L, c);
  luaL_argcheck(L, want > 0, 2, "must be positive");
  if (want > READ_CHUNK) want = READ_CHUNK;
  conn_begin(L, c);
  if (c->trace && (rc = hello_run(L, c)) != 0) {
    conn_end(c);
    return rc;
  }
  rc = wolfSSL_read(c->ssl, buf, (int)want);
  if (rc > 0 && !(c->flags & CONN_DONE)) {
    c->flags |= CONN_DONE; /* a server's read can finish the handshake implicitly */
    if (session_handshake_done(L, c) != 0) {
      conn_end(c);
      return conn_error(L, c, WOLFSSL_FATAL_ERROR, "read");
    }
  }
  conn_end(c);
  if (rc > 0) {
    /* a callback failed in a read that also got data (a ticket's on_session): the data
     * is the script's, and the error is latched for its next call, as it would be had
     * the records come in two reads */
    if (c->cb_error) lua_pop(L, conn_error(L, c, WOLFSSL_FATAL_ERROR, "read"));
    lua_pushlstring(L, buf, (size_t)rc);
    return 1;
  }
  return conn_error(L, c, rc, "read");
}

/* write(s) -> bytes written. After "wantwrite" wolfSSL must get the same length again
 * (a shorter retry fails after part of the data went out: wolfssl-notes.md item 1), so
 * the binding remembers it and writes that prefix of whatever the retry passes. */
static int conn_write(lua_State *L) {
  Conn *c = conn_check_open(L, 1);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  int rc, n;
  if (c == NULL) return conn_closed(L);
  if (c->failed_msg) return conn_failed(L, c);
  if (len > INT_MAX) len = INT_MAX;
  n = (int)len;
  if (c->write_len) {
    if (n < c->write_len)
      return lw_error(L, "bad_input",
                      "write after wantwrite must repeat the same data (%d bytes, got %d)",
                      c->write_len, n);
    n = c->write_len;
  }
  if (n == 0) {
    lua_pushinteger(L, 0);
    return 1;
  }
  conn_begin(L, c);
  if (c->trace && (rc = hello_run(L, c)) != 0) {
    conn_end(c);
    return rc;
  }
  rc = wolfSSL_write(c->ssl, s, n);
  conn_end(c);
  if (rc > 0) {
    c->write_len = 0;
    lua_pushinteger(L, rc);
    return 1;
  }
  if (wolfSSL_get_error(c->ssl, rc) == WOLFSSL_ERROR_WANT_WRITE) c->write_len = n;
  return conn_error(L, c, rc, "write");
}

/* shutdown() -> true, "sent" (our close_notify is out) | true, "complete" (both ways) */
static int conn_shutdown(lua_State *L) {
  Conn *c = conn_check_open(L, 1);
  int rc;
  if (c == NULL) return conn_closed(L);
  if (wolfSSL_get_shutdown(c->ssl) == (WOLFSSL_SENT_SHUTDOWN | WOLFSSL_RECEIVED_SHUTDOWN)) {
    lua_pushboolean(L, 1); /* wolfSSL calls a repeated shutdown an error (-437) */
    lua_pushliteral(L, "complete");
    return 2;
  }
  conn_begin(L, c);
  rc = wolfSSL_shutdown(c->ssl);
  conn_end(c);
  if (rc == WOLFSSL_SUCCESS || rc == WOLFSSL_SHUTDOWN_NOT_DONE) {
    lua_pushboolean(L, 1);
    lua_pushstring(L, rc == WOLFSSL_SUCCESS ? "complete" : "sent");
    return 2;
  }
  return conn_error(L, c, rc, "shutdown");
}

static int conn_settimeout(lua_State *L) {
  Conn *c = conn_check(L, 1);
  if (lua_isnoneornil(L, 2) || lua_tonumber(L, 2) < 0) c->timeout_ms = -1;
  else c->timeout_ms = (int)(luaL_checknumber(L, 2) * 1000.0 + 0.5);
  lua_pushboolean(L, 1);
  return 1;
}

static int conn_getfd(lua_State *L) {
  Conn *c = luaL_checkudata(L, 1, LW_CONN);
  lua_pushinteger(L, c->fd);
  return 1;
}

/* set_server_name(name, send_sni, check): SNI and/or the name the peer certificate
 * must match. The Lua layer decides both (no SNI for IP literals, RFC 6066 3). */
static int conn_set_server_name(lua_State *L) {
  Conn *c = conn_check(L, 1);
  size_t n;
  const char *name = luaL_checklstring(L, 2, &n);
  if (lua_toboolean(L, 3) &&
      wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, name, (word16)n) != WOLFSSL_SUCCESS)
    return luaL_error(L, "cannot set SNI");
  if (lua_toboolean(L, 4) && verify_set_host(c, name, n) != 0)
    return luaL_error(L, "out of memory");
  lua_pushboolean(L, 1);
  return 1;
}

/* set_alpn("h2,http/1.1"): the protocols a client offers. */
static int conn_set_alpn(lua_State *L) {
  Conn *c = conn_check(L, 1);
  size_t n;
  const char *list = luaL_checklstring(L, 2, &n);
  char buf[1024];
  luaL_argcheck(L, n > 0 && n < sizeof buf, 2, "bad ALPN list length");
  memcpy(buf, list, n + 1); /* UseALPN rewrites its argument */
  if (wolfSSL_UseALPN(c->ssl, buf, (unsigned)n, WOLFSSL_ALPN_CONTINUE_ON_MISMATCH) !=
      WOLFSSL_SUCCESS)
    return luaL_error(L, "cannot set ALPN");
  lua_pushboolean(L, 1);
  return 1;
}

/* set_handler(name, fn|nil) / handler(name): per-connection Lua values; the bridge
 * looks here first, then in the context. */
static int conn_set_handler(lua_State *L) {
  luaL_checkudata(L, 1, LW_CONN);
  return bridge_set_handler(L);
}

static int conn_handler(lua_State *L) {
  luaL_checkudata(L, 1, LW_CONN);
  return bridge_get_handler(L);
}

/* use_context(ctx): a server connection switches to another context's certificate, key
 * and verify policy (before or during the handshake, e.g. chosen by SNI); the Lua
 * handlers then come from that context too. */
static int conn_use_context(lua_State *L) {
  Conn *c = conn_check(L, 1);
  Context *x = context_check(L, 2);
  if (x->role != c->role) return luaL_argerror(L, 2, "context has the wrong role");
  if (wolfSSL_set_SSL_CTX(c->ssl, x->ctx) == NULL) return luaL_error(L, "cannot switch context");
  if (x->verify != VERIFY_NONE) {
    int mode = WOLFSSL_VERIFY_PEER;
    if (x->verify == VERIFY_REQUIRED && x->role == ROLE_SERVER) mode |= WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    wolfSSL_set_verify(c->ssl, mode, verify_callback);
  } else {
    wolfSSL_set_verify(c->ssl, WOLFSSL_VERIFY_NONE, NULL);
  }
  LW_GETUV(L, 1);
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "context");
  if (c->trace) record_ctx_changed(c); /* the key observer hooks the new CTX too */
  lua_pushboolean(L, 1);
  return 1;
}

/* use_certificate_raw(chain, "pem"|"der", key, "pem"|"der" [, password]): this
 * connection's own certificate chain and key, checked against each other. A key loaded
 * into a WOLFSSL cannot be read back (wolfSSL_get_privatekey gives NULL), so the pair is
 * loaded and checked in a scratch CTX first and the checked key installed from there. */
/* A certificate of another key type than the context's: wolfSSL keeps the connection's
 * suite list and key-type flags from the context, so a TLS 1.2 server with an EC context
 * and a per-connection RSA certificate picked an ECDSA suite and failed signing (-140,
 * measured on 5.5.4). Keep only the suites this key can authenticate. */
static void conn_fit_suites(WOLFSSL *ssl, int rsa) {
  WOLF_STACK_OF(WOLFSSL_CIPHER) *sk = wolfSSL_get_ciphers_compat(ssl);
  char list[4096];
  size_t len = 0;
  int i, n = sk ? wolfSSL_sk_SSL_CIPHER_num(sk) : 0, dropped = 0;
  for (i = 0; i < n; i++) {
    const char *name = wolfSSL_CIPHER_get_name(wolfSSL_sk_SSL_CIPHER_value(sk, i));
    size_t k = name ? strlen(name) : 0;
    int ecdsa, tls13, psk;
    if (k == 0) continue;
    ecdsa = strstr(name, "ECDSA") != NULL;
    tls13 = strncmp(name, "TLS13-", 6) == 0 || strncmp(name, "TLS_", 4) == 0;
    psk = strstr(name, "PSK") != NULL;
    if (!tls13 && !psk && (rsa ? ecdsa : !ecdsa)) {
      dropped = 1;
      continue;
    }
    if (len + k + 2 > sizeof list) return;
    if (len) list[len++] = ':';
    memcpy(list + len, name, k + 1);
    len += k;
  }
  if (dropped && len) wolfSSL_set_cipher_list(ssl, list);
}

static int conn_use_certificate_raw(lua_State *L) {
  Conn *c = conn_check(L, 1);
  size_t n;
  const char *chain = luaL_checklstring(L, 2, &n);
  int fmt = context_format(L, 3), rc;
  WOLFSSL_CTX *tmp = wolfSSL_CTX_new(wolfSSLv23_server_method());
  if (tmp == NULL) return luaL_error(L, "out of memory");
  rc = wolfSSL_CTX_use_certificate_chain_buffer_format(tmp, (const unsigned char *)chain, (long)n, fmt);
  if (rc != WOLFSSL_SUCCESS) {
    wolfSSL_CTX_free(tmp);
    return context_fail(L, "cannot load certificate: %s", rc);
  }
  rc = key_load(L, tmp, 4, context_format(L, 5), 6, 1);
  if (rc) {
    wolfSSL_CTX_free(tmp);
    return rc;
  }
  rc = wolfSSL_use_certificate_chain_buffer_format(c->ssl, (const unsigned char *)chain, (long)n, fmt) ==
           WOLFSSL_SUCCESS &&
       wolfSSL_use_PrivateKey(c->ssl, wolfSSL_CTX_get0_privatekey(tmp)) == WOLFSSL_SUCCESS;
  if (rc) conn_fit_suites(c->ssl, wolfSSL_EVP_PKEY_id(wolfSSL_CTX_get0_privatekey(tmp)) == EVP_PKEY_RSA);
  wolfSSL_CTX_free(tmp);
  if (!rc) return context_fail(L, "cannot install the certificate on the connection", 0);
  lua_pushboolean(L, 1);
  return 1;
}

/* release_handshake_data(): give back what wolfSSL keeps after the handshake only for
 * key material: its "arrays" (randoms, master/exporter secrets, about 5.5 KB per
 * connection, measured in bench/ W4). Measured on 5.5.4 after wolfSSL_FreeArrays:
 * application data, KeyUpdate, post-handshake auth, get_finished and resumption (a TLS
 * 1.3 ticket that arrives later included) still work; the RFC 5705 exporter and the
 * client random (so the TLS 1.2 key log) fail. Hence opt-in, per connection, once the
 * script no longer needs those; CONN_RELEASED tells the key-material methods. */
static int conn_release_handshake_data(lua_State *L) {
  Conn *c = conn_check(L, 1);
  if (!(c->flags & CONN_DONE) || !wolfSSL_is_init_finished(c->ssl))
    return luaL_error(L, "release_handshake_data() before the handshake is done");
  wolfSSL_FreeArrays(c->ssl);
  c->flags |= CONN_RELEASED;
  lua_pushboolean(L, 1);
  return 1;
}

static int conn_role(lua_State *L) {
  Conn *c = luaL_checkudata(L, 1, LW_CONN);
  lua_pushstring(L, c->role == ROLE_CLIENT ? "client" : "server");
  return 1;
}

static int conn_is_closed(lua_State *L) {
  Conn *c = luaL_checkudata(L, 1, LW_CONN);
  lua_pushboolean(L, c->ssl == NULL);
  return 1;
}

static const luaL_Reg conn_methods[] = {
  {"feed", conn_feed},
  {"feed_eof", conn_feed_eof},
  {"take", conn_take},
  {"pending", conn_pending},
  {"handshake", conn_handshake},
  {"read", conn_read},
  {"write", conn_write},
  {"shutdown", conn_shutdown},
  {"close", conn_free},
  {"settimeout", conn_settimeout},
  {"getfd", conn_getfd},
  {"set_server_name", conn_set_server_name},
  {"set_alpn", conn_set_alpn},
  {"set_handler", conn_set_handler},
  {"handler", conn_handler},
  {"use_context", conn_use_context},
  {"use_certificate_raw", conn_use_certificate_raw},
  {"release_handshake_data", conn_release_handshake_data},
  {"role", conn_role},
  {"is_closed", conn_is_closed},
  {NULL, NULL}
};

static const luaL_Reg conn_meta[] = {
  {"__gc", conn_free},
  {"__close", conn_free},
  {"__tostring", conn_tostring},
  {NULL, NULL}
};

/* Leaves the methods table on the stack (core.c adds the feature files' methods). */
void conn_open(lua_State *L) { lw_class(L, LW_CONN, conn_meta, conn_methods); }
