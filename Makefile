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

# The whole suite under valgrind memcheck, against the normal build: zero definite leaks
# and zero memory errors, or the run fails (exit 99). Children the specs start (openssl,
# Lua peers) are not traced. Specs shrink their loop counts under WOLFSSL_SPEC_VALGRIND.
# Suppressions: third-party only, each explained in .ci/valgrind.supp.
VALGRIND = valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --error-exitcode=99 --trace-children=no \
  --num-callers=40 --keep-debuginfo=yes --suppressions=$(CURDIR)/.ci/valgrind.supp
BUSTED_SCRIPT ?= $(shell command -v $(BUSTED))

valgrind: $(CORE)
	$(TEST_ENV) WOLFSSL_SPEC_VALGRIND=1 $(VALGRIND) $(LUA_BIN) $(BUSTED_SCRIPT) $(BUSTED_ARGS) $(SPEC)

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

# ---- fuzzing: libFuzzer harness with clang (fuzz/harness.c, fuzz/targets.lua) ---------
# `make fuzz` runs each target FUZZ_SECONDS (default 60) from a corpus seeded with real
# handshakes; `make fuzz-smoke` is CI's 60-second run (15 s per target). A crash, a
# sanitizer report or a Lua error escaping a target fails the run; libFuzzer leaves the
# input as build/fuzz/crash-* (reproduce: FUZZ_TARGET=t build/fuzz/fuzz FILE). Inputs that
# once crashed live in fuzz/regress/<target> and seed every run.
FUZZ_CC ?= $(shell command -v clang-14 || command -v clang)
FUZZ_DIR = build/fuzz
FUZZ_TARGETS ?= server client cert record
FUZZ_SECONDS ?= 60
FUZZ_LUA_CFLAGS = $(shell pkg-config --cflags lua5.4)
FUZZ_LUA_LIBS = $(shell pkg-config --libs lua5.4)

$(FUZZ_DIR)/fuzz: $(SRC) $(HDR) fuzz/harness.c Makefile
	@test -n "$(FUZZ_CC)" || { echo "no clang: run 'make setup'"; exit 1; }
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -std=c99 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -fno-omit-frame-pointer -fvisibility=hidden \
	  -DLW_ROOT='"$(CURDIR)"' $(FUZZ_LUA_CFLAGS) -I$(WOLFSSL_INCDIR) \
	  -o $@ $(SRC) fuzz/harness.c $(FUZZ_LUA_LIBS) $(LIBS)

$(FUZZ_DIR)/seeds/.done: fuzz/seeds.lua build/5.4/wolfssl/core.so
	$(MAKE) --no-print-directory LUA=5.4 all
	$(TEST_ENV) lua5.4 fuzz/seeds.lua $(FUZZ_DIR)
	@touch $@

fuzz: $(FUZZ_DIR)/fuzz $(FUZZ_DIR)/seeds/.done
	@for t in $(FUZZ_TARGETS); do \
	  echo "=== fuzz target $$t ($(FUZZ_SECONDS) s, log $(FUZZ_DIR)/$$t.log)"; \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t; \
	  if FUZZ_TARGET=$$t FUZZ_CERTS=$(CURDIR)/$(FUZZ_DIR)/certs \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(FUZZ_DIR)/fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crash-$$t- \
	    $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/seeds/$$t $$(test -d fuzz/regress/$$t && echo fuzz/regress/$$t) \
	    >$(FUZZ_DIR)/$$t.log 2>&1; then \
	    grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' $(FUZZ_DIR)/$$t.log; \
	    grep -E '^#[0-9]+.*cov:' $(FUZZ_DIR)/$$t.log | tail -n 1; \
	  else \
	    tail -n 60 $(FUZZ_DIR)/$$t.log; echo "!!! fuzz target $$t failed"; exit 1; \
	  fi; \
	done

fuzz-smoke:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=15

install: $(CORE)
	install -d $(DESTDIR)$(LUADIR)/wolfssl $(DESTDIR)$(CMODDIR)/wolfssl
	install -m 644 lua/wolfssl/*.lua $(DESTDIR)$(LUADIR)/wolfssl/
	install -m 755 $(CORE) $(DESTDIR)$(CMODDIR)/wolfssl/core.so

# Every Debian package the build, the tests and the demo need (.ci/packages).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
setup:
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$(grep -v '^#' .ci/packages)
	@echo "setup done: now 'make demo' and 'make test'"

demo: $(CORE)
	$(TEST_ENV) $(LUA_BIN) examples/demo.lua

clean:
	rm -rf build
