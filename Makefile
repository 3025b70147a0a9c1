# lua-wolfssl. `make` builds wolfssl/core.so for LUA (5.4 | 5.3 | 5.1 | luajit).
LUA ?= 5.4

ifeq ($(LUA),luajit)
  LUA_BIN ?= luajit
  LUA_PC ?= luajit
  LUA_ABI := 5.1
else
  LUA_BIN ?= lua$(LUA)
  LUA_PC ?= lua$(LUA)
  LUA_ABI := $(LUA)
endif
# LuaRocks passes LUA_INCDIR; otherwise pkg-config knows where Debian put the headers.
LUA_INCDIR ?=
LUA_CFLAGS ?= $(if $(LUA_INCDIR),-I$(LUA_INCDIR),$(shell pkg-config --cflags $(LUA_PC) 2>/dev/null))
WOLFSSL_INCDIR ?= /usr/include
WOLFSSL_LIBDIR ?=

CC ?= cc
OPT ?= -O2
CFLAGS_BASE = $(OPT) -g -fPIC -fvisibility=hidden -std=c99 -D_GNU_SOURCE \
  -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes
ALL_CFLAGS = $(CFLAGS_BASE) $(LUA_CFLAGS) -I$(WOLFSSL_INCDIR) $(CFLAGS)
LIBS = $(if $(WOLFSSL_LIBDIR),-L$(WOLFSSL_LIBDIR)) -lwolfssl

SRC = $(wildcard csrc/*.c)
HDR = $(wildcard csrc/*.h)
BUILD ?= build/$(LUA)
CORE = $(BUILD)/wolfssl/core.so

PREFIX ?= /usr/local
LUADIR ?= $(PREFIX)/share/lua/$(LUA_ABI)
CMODDIR ?= $(PREFIX)/lib/lua/$(LUA_ABI)

# The tests run against this tree: Lua modules from lua/, the core from $(BUILD).
TEST_ENV = LW_LUA=$(LUA_BIN) LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/?.lua;;" \
  LUA_CPATH="$(CURDIR)/$(BUILD)/?.so;;"
BUSTED ?= busted
BUSTED_ARGS ?=
SPEC ?= spec

ASAN_LIB = $(shell $(CC) -print-file-name=libasan.so)
ASAN_ENV = LD_PRELOAD=$(ASAN_LIB) \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_odr_violation=0 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/.ci/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all test test-only asan install setup demo clean FORCE bench bench-plot fuzz fuzz-smoke valgrind

all: $(CORE)

# Rebuild when the compile command changes, not only the sources: the same BUILD
# directory can be built for another Lua (LuaRocks passes its LUA_INCDIR).
COMPILE = $(CC) $(ALL_CFLAGS) -shared -o $(CORE) $(SRC) $(LIBS)
FLAGS_STAMP = $(BUILD)/.compile
$(FLAGS_STAMP): FORCE
	@mkdir -p $(BUILD)
	@echo '$(COMPILE)' | cmp -s - $@ || echo '$(COMPILE)' > $@

$(CORE): $(SRC) $(HDR) Makefile $(FLAGS_STAMP)
	@test -n "$(LUA_CFLAGS)" || { echo "no Lua $(LUA) headers: run 'make setup'"; exit 1; }
	@mkdir -p $(dir $@)
	$(COMPILE)

FORCE:

test: $(CORE)
	$(TEST_ENV) $(BUSTED) --lua=$(LUA_BIN) $(BUSTED_ARGS) $(SPEC)

# The whole suite against a core built with AddressSanitizer + UBSan. The interpreter is
# not instrumented, so the ASan runtime is preloaded.
asan:
	$(MAKE) BUILD=build/asan-$(LUA) OPT="-O1" \
	  CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  build/asan-$(LUA)/wolfssl/core.so
	$(ASAN_ENV) WOLFSSL_SPEC_ASAN=1 $(MAKE) --no-print-directory BUILD=build/asan-$(LUA) test-only

test-only:
	$(TEST_ENV) $(BUSTED) --lua=$(LUA_BIN) $(BUSTED_ARGS) $(SPEC)

# ---- benchmarks (bench/README in the README's Performance section) -------------------
# `make bench` runs every workload against every implementation (about 8 minutes);
# `make bench QUICK=1` the same shapes in about 2 minutes. Both print the table.
BENCH_ARGS ?= $(if $(QUICK),--quick)
build/bench/raw: bench/raw.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -I$(WOLFSSL_INCDIR) -o $@ bench/raw.c $(LIBS)

bench: $(CORE) build/bench/raw
	$(TEST_ENV) $(LUA_BIN) bench/run.lua $(BENCH_ARGS)

bench-plot:
	@test -f build/bench/results.txt || { echo "no build/bench/results.txt: run 'make bench' first"; exit 1; }
	$(LUA_BIN) bench/plot.lua build/bench/results.txt bench/results.png

install: $(CORE)
	install -d $(DESTDIR)$(LUADIR)/wolfssl $(DESTDIR)$(CMODDIR)/wolfssl
	install -m 644 lua/wolfssl/*.lua $(DESTDIR)$(LUADIR)/wolfssl/
	install -m 755 $(CORE) $(DESTDIR)$(CMODDIR)/wolfssl/core.so

# Every Debian package the build, the tests and the demo need.
setup:
	sh .ci/deps.sh
	@echo "setup done: now 'make demo' and 'make test'"

demo: $(CORE)
	$(TEST_ENV) $(LUA_BIN) examples/demo.lua

clean:
	rm -rf build
