/* The limit: the same workloads as bench/lw.lua, written directly against the system
 * wolfSSL with blocking sockets and wolfSSL's own fd I/O. bench/run.lua starts it as a
 * server and as a client on 127.0.0.1 and compares lua-wolfssl with it.
 *
 *   raw server PORT MODE [options]     raw client PORT MODE [options]
 *   MODE: hs | resume | up | down | idle
 *   options: --cert F --key F --ca F --tls 1.2|1.3 --group X25519|P-256 --cipher NAME
 *            --duration S (client hs/resume) --bytes N (up/down) --conns N --base N (idle)
 *            --free-arrays (idle server: call wolfSSL_FreeArrays after the handshake)
 *
 * A client prints "result VALUE UNIT" and "cpu SECONDS count N" (its CPU time for the N
 * handshakes or N MB measured); an idle server prints
 * "result RSS_BYTES_PER_CONN bytes" once --base + --conns connections are established. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 16384

typedef struct Opts {
  const char *role, *mode, *cert, *key, *ca, *cipher, *group;
  int port, tls, conns, base, free_arrays;
  double duration;
  long long bytes;
} Opts;

static void die(const char *what) {
  fprintf(stderr, "raw: %s\n", what);
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_bytes(void) {
  long pages = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL || fscanf(f, "%ld %ld", &pages, &res) != 2) die("statm");
  fclose(f);
  return res * sysconf(_SC_PAGESIZE);
}

static int group_id(const char *g) {
  if (strcmp(g, "X25519") == 0) return WOLFSSL_ECC_X25519;
  if (strcmp(g, "P-256") == 0) return WOLFSSL_ECC_SECP256R1;
  die("unknown group");
  return 0;
}

static WOLFSSL_CTX *make_ctx(const Opts *o) {
  int server = strcmp(o->role, "server") == 0;
  WOLFSSL_CTX *ctx = wolfSSL_CTX_new(server ? wolfSSLv23_server_method() : wolfSSLv23_client_method());
  int groups[1];
  if (ctx == NULL) die("CTX_new");
  int v = o->tls == 12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  wolfSSL_CTX_set_min_proto_version(ctx, v);
  wolfSSL_CTX_set_max_proto_version(ctx, v);
  if (o->cipher && wolfSSL_CTX_set_cipher_list(ctx, o->cipher) != WOLFSSL_SUCCESS) die("cipher list");
  groups[0] = group_id(o->group);
  if (o->tls == 13) {
    if (wolfSSL_CTX_set_groups(ctx, groups, 1) != WOLFSSL_SUCCESS) die("set_groups");
  } else if (wolfSSL_CTX_UseSupportedCurve(ctx, (word16)groups[0]) != WOLFSSL_SUCCESS) {
    die("UseSupportedCurve");
  }
  if (server) {
    if (wolfSSL_CTX_use_certificate_chain_file(ctx, o->cert) != WOLFSSL_SUCCESS) die("cert");
    if (wolfSSL_CTX_use_PrivateKey_file(ctx, o->key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) die("key");
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
  } else {
    if (wolfSSL_CTX_load_verify_locations(ctx, o->ca, NULL) != WOLFSSL_SUCCESS) die("ca");
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
  }
  return ctx;
}

static int tcp_listen(int port) {
  struct sockaddr_in a;
  int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1024) != 0) die("listen");
  return s;
}

/* port 0: the kernel picks a free one; the driver reads it from the "ready" line */
static int tcp_port(int s) {
  struct sockaddr_in a;
  socklen_t n = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &n);
  return ntohs(a.sin_port);
}

static int tcp_connect(int port) {
  struct sockaddr_in a;
  int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
  /* every implementation sets TCP_NODELAY on both ends: the ping/pong after a handshake
   * would otherwise wait for delayed ACKs (Nagle) */
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}

static WOLFSSL *ssl_on(WOLFSSL_CTX *ctx, int fd, int client) {
  WOLFSSL *ssl = wolfSSL_new(ctx);
  if (ssl == NULL) die("wolfSSL_new");
  wolfSSL_set_fd(ssl, fd);
  if (client) { /* as every other implementation does: SNI, and the host name checked */
    wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, "localhost", 9);
    wolfSSL_check_domain_name(ssl, "localhost");
  }
  return ssl;
}

static void ssl_close(WOLFSSL *ssl) {
  int fd = wolfSSL_get_fd(ssl);
  wolfSSL_set_quiet_shutdown(ssl, 1);
  wolfSSL_free(ssl);
  close(fd);
}

static void read_exact(WOLFSSL *ssl, char *buf, long long n) {
  while (n > 0) {
    int r = wolfSSL_read(ssl, buf, n > CHUNK ? CHUNK : (int)n);
    if (r <= 0) die("read");
    n -= r;
  }
}

static void write_all(WOLFSSL *ssl, const char *buf, long long n) {
  while (n > 0) {
    int w = n > CHUNK ? CHUNK : (int)n;
    if (wolfSSL_write(ssl, buf, w) != w) die("write");
    n -= w;
  }
}

/* ---- server ---------------------------------------------------------------------- */

static void serve(const Opts *o) {
  static char buf[CHUNK];
  WOLFSSL_CTX *ctx = make_ctx(o);
  int ls = tcp_listen(o->port), n = 0;
  long rss0 = 0;
  size_t heap0 = 0;
  WOLFSSL **idle = NULL;
  if (strcmp(o->mode, "idle") == 0) idle = calloc((size_t)(o->base + o->conns), sizeof *idle);
  printf("ready %d\n", tcp_port(ls));
  fflush(stdout);
  for (;;) {
    int fd = accept(ls, NULL, NULL), one = 1;
    WOLFSSL *ssl;
    if (fd < 0) continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ssl = ssl_on(ctx, fd, 0);
    if (wolfSSL_accept(ssl) != WOLFSSL_SUCCESS) {
      ssl_close(ssl);
      continue;
    }
    if (strcmp(o->mode, "up") == 0) {
      read_exact(ssl, buf, o->bytes);
      write_all(ssl, "k", 1);
    } else if (strcmp(o->mode, "down") == 0) {
      read_exact(ssl, buf, 1);
      write_all(ssl, buf, o->bytes);
    } else { /* hs, resume, idle: one byte each way proves both ends finished */
      if (wolfSSL_read(ssl, buf, 1) != 1) {
        ssl_close(ssl);
        continue;
      }
      write_all(ssl, "k", 1);
    }
    if (idle) {
      if (o->free_arrays == 1) wolfSSL_FreeArrays(ssl);
      if (o->free_arrays == 2) wolfSSL_FreeHandshakeResources(ssl);
      idle[n++] = ssl;
      if (n == o->base) {
        rss0 = rss_bytes();
        heap0 = mallinfo2().uordblks;
      }
      if (n == o->base + o->conns) {
        printf("result %.0f bytes\n", (double)(rss_bytes() - rss0) / o->conns);
        printf("heap %.0f bytes\n", (double)(mallinfo2().uordblks - heap0) / o->conns);
        fflush(stdout);
        exit(0);
      }
      continue;
    }
    /* wait for the client to close, so the next accept does not race its handshake */
    wolfSSL_read(ssl, buf, 1);
    ssl_close(ssl);
  }
}

/* ---- client ---------------------------------------------------------------------- */

static WOLFSSL *client_conn(WOLFSSL_CTX *ctx, const Opts *o, WOLFSSL_SESSION *sess) {
  char b;
  WOLFSSL *ssl = ssl_on(ctx, tcp_connect(o->port), 1);
  if (sess && wolfSSL_set_session(ssl, sess) != WOLFSSL_SUCCESS) die("set_session");
  if (wolfSSL_connect(ssl) != WOLFSSL_SUCCESS) die("connect");
  write_all(ssl, "p", 1);
  if (wolfSSL_read(ssl, &b, 1) != 1) die("pong");
  return ssl;
}

static void client(const Opts *o) {
  WOLFSSL_CTX *ctx = make_ctx(o);
  static char buf[CHUNK];
  if (strcmp(o->mode, "hs") == 0 || strcmp(o->mode, "resume") == 0) {
    int resume = strcmp(o->mode, "resume") == 0;
    WOLFSSL_SESSION *sess = NULL;
    long count = 0, resumed = 0;
    double t0, t;
    clock_t c0;
    if (resume) { /* the first full handshake gives the session (a ticket in 1.3) */
      WOLFSSL *ssl = client_conn(ctx, o, NULL);
      sess = wolfSSL_get1_session(ssl);
      ssl_close(ssl);
    }
    t0 = now();
    c0 = clock();
    do {
      WOLFSSL *ssl = client_conn(ctx, o, sess);
      if (resume) {
        resumed += wolfSSL_session_reused(ssl);
        wolfSSL_SESSION_free(sess); /* chain the newest session, as a real client does */
        sess = wolfSSL_get1_session(ssl);
      }
      ssl_close(ssl);
      count++;
      t = now();
    } while (t - t0 < o->duration);
    if (resume && resumed != count) die("not every handshake resumed");
    wolfSSL_SESSION_free(sess);
    printf("result %.1f hs/s\n", count / (t - t0));
    printf("cpu %.6f count %ld\n", (double)(clock() - c0) / CLOCKS_PER_SEC, count);
  } else if (strcmp(o->mode, "up") == 0 || strcmp(o->mode, "down") == 0) {
    WOLFSSL *ssl = ssl_on(ctx, tcp_connect(o->port), 1);
    double t0;
    clock_t c0;
    memset(buf, 'x', sizeof buf);
    if (wolfSSL_connect(ssl) != WOLFSSL_SUCCESS) die("connect");
    t0 = now();
    c0 = clock();
    if (strcmp(o->mode, "up") == 0) {
      write_all(ssl, buf, o->bytes);
      read_exact(ssl, buf, 1);
    } else {
      write_all(ssl, "g", 1);
      read_exact(ssl, buf, o->bytes);
    }
    printf("result %.2f MB/s\n", o->bytes / 1e6 / (now() - t0));
    printf("cpu %.6f count %.3f\n", (double)(clock() - c0) / CLOCKS_PER_SEC, o->bytes / 1e6);
    ssl_close(ssl);
  } else if (strcmp(o->mode, "idle") == 0) {
    int i, total = o->base + o->conns;
    WOLFSSL **conns = calloc((size_t)total, sizeof *conns);
    for (i = 0; i < total; i++) conns[i] = client_conn(ctx, o, NULL);
    /* the server exits once it has measured: wait for that */
    wolfSSL_read(conns[0], buf, 1);
    printf("result done\n");
  }
  fflush(stdout);
}

int main(int argc, char **argv) {
  Opts o;
  int i;
  memset(&o, 0, sizeof o);
  if (argc < 4) die("usage: raw server|client PORT MODE [options]");
  o.role = argv[1];
  o.port = atoi(argv[2]);
  o.mode = argv[3];
  o.tls = 13;
  o.group = "X25519";
  o.duration = 2;
  o.bytes = 1 << 20;
  o.conns = 1000;
  o.base = 100;
  for (i = 4; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    if (strcmp(a, "--free-arrays") == 0) { o.free_arrays = 1; continue; }
    if (strcmp(a, "--free-handshake") == 0) { o.free_arrays = 2; continue; }
    if (strcmp(a, "--cert") == 0) o.cert = v;
    else if (strcmp(a, "--key") == 0) o.key = v;
    else if (strcmp(a, "--ca") == 0) o.ca = v;
    else if (strcmp(a, "--cipher") == 0) o.cipher = v;
    else if (strcmp(a, "--group") == 0) o.group = v;
    else if (strcmp(a, "--tls") == 0) o.tls = strcmp(v, "1.2") == 0 ? 12 : 13;
    else if (strcmp(a, "--duration") == 0) o.duration = atof(v);
    else if (strcmp(a, "--bytes") == 0) o.bytes = atoll(v);
    else if (strcmp(a, "--conns") == 0) o.conns = atoi(v);
    else if (strcmp(a, "--base") == 0) o.base = atoi(v);
    else die("unknown option");
    i++;
  }
  wolfSSL_Init();
  if (strcmp(o.role, "server") == 0) serve(&o);
  else client(&o);
  return 0;
}
