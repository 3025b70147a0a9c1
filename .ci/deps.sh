#!/bin/sh
# Every Debian package lua-wolfssl needs to build, test, benchmark and demo.
# Used by `make setup` and by .ci/run. Nothing is downloaded at build time.
# nginx + libnginx-mod-http-lua (LuaJIT; it pulls in lua-resty-core, which the module
# loads at start) run spec/ngx_spec.lua; lua-sec is LuaSec itself, which
# spec/luasec_compat_spec.lua runs against wolfssl.socket.
set -e
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
  build-essential pkg-config ca-certificates git \
  libwolfssl-dev \
  lua5.4 liblua5.4-dev lua5.3 liblua5.3-dev lua5.1 liblua5.1-0-dev \
  luajit2 libluajit2-5.1-dev \
  lua-busted lua-socket luarocks \
  openssl gnutls-bin \
  nginx libnginx-mod-http-lua lua-sec \
  valgrind clang-14 libclang-rt-14-dev gnuplot-nox
