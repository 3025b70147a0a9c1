rockspec_format = "3.0"
package = "lua-wolfssl"
version = "scm-1"
source = {
  url = "git+https://github.com/lua-wolfssl/lua-wolfssl.git",
}
description = {
  summary = "TLS for Lua over the system wolfSSL, with the handshake as primitives",
  detailed = [[
    Contexts and connections for TLS 1.2 and 1.3 clients and servers over any
    transport (sans-I/O memory buffers, or a file descriptor), with verification that
    is on by default and the handshake exposed to Lua.
  ]],
  license = "MIT",
  labels = { "tls", "ssl", "crypto", "wolfssl" },
}
dependencies = {
  "lua >= 5.1, < 5.5",
}
external_dependencies = {
  WOLFSSL = {
    header = "wolfssl/ssl.h",
    library = "wolfssl",
  },
}
build = {
  -- the project's Makefile, so the rock gets the same flags as `make`
  -- (only luaopen_wolfssl_core exported)
  type = "make",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    WOLFSSL_INCDIR = "$(WOLFSSL_INCDIR)",
    WOLFSSL_LIBDIR = "$(WOLFSSL_LIBDIR)",
    BUILD = "build/rock",
  },
  -- the same compile variables again: `make install` rebuilds if the command differs
  install_variables = {
    CFLAGS = "$(CFLAGS)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    WOLFSSL_INCDIR = "$(WOLFSSL_INCDIR)",
    WOLFSSL_LIBDIR = "$(WOLFSSL_LIBDIR)",
    BUILD = "build/rock",
    LUADIR = "$(LUADIR)",
    CMODDIR = "$(LIBDIR)",
  },
}
