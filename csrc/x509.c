/* Certificate userdata over WOLFSSL_X509. Every Certificate owns its own parsed copy,
 * so one taken from a connection stays valid after that connection is closed or
 * collected (DESIGN.md bridge rule 5). */
#include <stdio.h>
#include <string.h>

#include "lwolfssl.h"

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

static const luaL_Reg x509_methods[] = {
  {"subject", x509_subject},
  {"issuer", x509_issuer},
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
  {NULL, NULL}
};

/* Leaves the methods table on the stack. */
void x509_open(lua_State *L) {
  luaL_newmetatable(L, LW_CERT);
  luaL_setfuncs(L, x509_meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, x509_methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__index");
  lua_remove(L, -2);
}
