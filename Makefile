# replicator: build, test and install with GNU make and pkg-config.
# `make` builds bin/replicator and bin/esdb-emu; `make check` installs what is
# missing (make deps), builds and runs every test.  SANITIZE=1 builds with
# ASan + UBSan into build/sanitize/; WERROR=1 turns warnings into errors.

PREFIX = /usr/local
BINDIR = $(PREFIX)/bin
DATADIR = $(PREFIX)/share
MANDIR = $(DATADIR)/man
DESTDIR =
PKG_CONFIG = pkg-config
PYTHON = python3

PKGS = lua5.4 lua5.4-cjson libcurl libprotobuf-c
TEST_PKGS = check
EMU_PKGS = libnghttp2 libprotobuf-c
PROTOC_C = protoc-c

ifeq ($(SANITIZE),1)
VARIANT = sanitize
OUT = build/sanitize/bin
else
VARIANT = default
OUT = bin
endif
B = build/$(VARIANT)

WARN = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wold-style-definition -Wpointer-arith \
	-Wcast-qual -Wwrite-strings -Wformat=2 -Wundef -Wvla \
	-Wdouble-promotion -Wnull-dereference -Wimplicit-fallthrough
RP_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -g $(WARN) -MMD -MP \
	-DRP_LUA_DIR='"$(DATADIR)/replicator/lua"' -Isrc -I$(B)/proto -pthread
RP_LDFLAGS = -pthread
ifeq ($(SANITIZE),1)
RP_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
RP_LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(WERROR),1)
RP_CFLAGS += -Werror
endif

# pkg-config runs only when a target needs it, so `make deps` works on a
# machine that lacks the -dev packages.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
CHECK_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)
EMU_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(EMU_PKGS) 2>/dev/null)
EMU_LIBS = $(shell $(PKG_CONFIG) --libs $(EMU_PKGS) 2>/dev/null)

ALL_CFLAGS = $(RP_CFLAGS) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(RP_LDFLAGS) $(LDFLAGS)

CORE_SRC = $(filter-out src/main.c,$(wildcard src/*.c))
CORE_OBJ = $(CORE_SRC:%.c=$(B)/%.o)
MAIN_OBJ = $(B)/src/main.o
TEST_SRC = $(wildcard tests/test_*.c)
TEST_OBJ = $(TEST_SRC:%.c=$(B)/%.o) $(B)/tests/main.o $(B)/tests/testutil.o
TEST_RUNNER = $(B)/tests/runner
EMU_SRC = $(wildcard tests/emu/*.c)
EMU_OBJ = $(EMU_SRC:%.c=$(B)/%.o)
# The emulator shares the plain-C helpers of the core, nothing that needs
# Lua or libcurl.
EMU_CORE_OBJ = $(B)/src/util.o $(B)/src/json.o
# The gRPC messages (proto/*.proto) become C at build time: protoc-c writes
# $(B)/proto/<name>.pb-c.[ch], included as "streams.pb-c.h" and so on.
PROTO_SRC = $(wildcard proto/*.proto proto/google/*/*.proto)
PROTO_GEN = $(PROTO_SRC:proto/%.proto=$(B)/proto/%.pb-c.c)
PROTO_HDR = $(PROTO_GEN:.c=.h)
PROTO_OBJ = $(PROTO_GEN:.c=.o)

.PHONY: all check test unit e2e valgrind install uninstall format \
	format-check clean deps demo bench fuzz fuzz-replay

all: $(OUT)/replicator $(if $(EMU_SRC),$(OUT)/esdb-emu)

$(OUT)/replicator: $(MAIN_OBJ) $(CORE_OBJ) $(PROTO_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS) -lm

$(OUT)/esdb-emu: $(EMU_OBJ) $(EMU_CORE_OBJ) $(PROTO_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(EMU_LIBS) -lm -lpthread

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/tests/emu/%.o: tests/emu/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(EMU_CFLAGS) -c -o $@ $<

# One protoc-c run makes both files.  The generated initialiser macros cast
# away const (use the generated _init() functions instead).
$(B)/proto/%.pb-c.c $(B)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(B)/proto
	$(PROTOC_C) --c_out=$(B)/proto -Iproto $<

$(B)/proto/%.pb-c.o: $(B)/proto/%.pb-c.c
	$(CC) $(ALL_CFLAGS) -Wno-cast-qual -c -o $@ $<

# Every object may include a generated header: make them all first.
$(CORE_OBJ) $(MAIN_OBJ) $(TEST_OBJ) $(EMU_OBJ) $(PROTO_OBJ): | $(PROTO_HDR)

# tests/main.c runs every suite: the list comes from the test_*.c file names,
# test_<module>.c defining Suite *<module>_suite(void).
$(B)/tests/suites.h: $(TEST_SRC) Makefile
	@mkdir -p $(@D)
	@for f in $(TEST_SRC); do m=$${f#tests/test_}; \
	  echo "RP_SUITE($${m%.c})"; done > $@.tmp && mv $@.tmp $@

$(B)/tests/main.o: tests/main.c $(B)/tests/suites.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -I$(B)/tests -c -o $@ $<

$(B)/tests/test%.o: tests/test%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

$(TEST_RUNNER): $(TEST_OBJ) $(CORE_OBJ) $(PROTO_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS) $(CHECK_LIBS) -lm

# The test environment: where the binaries, the sources and the scratch space
# are.  Tests never use the network, only 127.0.0.1.
TEST_ENV = RP_BIN_DIR=$(CURDIR)/$(OUT) RP_SRC_DIR=$(CURDIR) \
	RP_SANITIZE=$(SANITIZE)

check: deps
	$(MAKE) test

test: unit e2e fuzz-replay

unit: all $(TEST_RUNNER)
	$(TEST_ENV) $(TEST_RUNNER)

e2e: all
	$(TEST_ENV) $(PYTHON) tests/pyrun.py tests/e2e tests/emu

# The unit tests, then the end-to-end tests that run every command under
# valgrind (tests/e2e/test_valgrind.py: a replication into the emulator).
valgrind: all $(TEST_RUNNER)
	$(TEST_ENV) CK_FORK=no valgrind --leak-check=full --error-exitcode=1 \
	  --errors-for-leak-kinds=definite $(TEST_RUNNER)
	$(TEST_ENV) RP_TEST_FILTER=test_valgrind $(PYTHON) tests/pyrun.py tests/e2e

# Fuzzing (tests/fuzz/README.md): a target per tests/fuzz/fuzz_<name>.c,
# its seeds in tests/fuzz/corpus/<name>/.  `make fuzz` builds the targets
# with clang's libFuzzer, ASan and UBSan into build/fuzz/ and runs each for
# FUZZ_SECONDS; `make fuzz-replay` runs each target once over its corpus,
# built like everything else (part of `make test`).
FUZZ_TARGETS = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS = 60
FUZZ_FLAGS =
FUZZ_CC = clang
FB = build/fuzz
FUZZ_CFLAGS = $(RP_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) \
	-fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CORE_OBJ = $(CORE_SRC:%.c=$(FB)/%.o)
FUZZ_OBJ = $(FUZZ_TARGETS:%=$(FB)/tests/fuzz/fuzz_%.o) \
	$(FB)/tests/fuzz/fuzzutil.o
REPLAY_OBJ = $(FUZZ_TARGETS:%=$(B)/tests/fuzz/fuzz_%.o) \
	$(B)/tests/fuzz/fuzzutil.o $(B)/tests/fuzz/replay.o

$(FB)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# The generated gRPC messages are linked as $(CC) built them: they are
# tables; the parsing is libprotobuf-c's.
$(FB)/fuzz_%: $(FB)/tests/fuzz/fuzz_%.o $(FB)/tests/fuzz/fuzzutil.o \
		$(FUZZ_CORE_OBJ) $(PROTO_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(RP_LDFLAGS) \
	  $(PKG_LIBS) -lm

$(B)/tests/fuzz/replay_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay.o \
		$(B)/tests/fuzz/fuzzutil.o $(CORE_OBJ) $(PROTO_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS) -lm

$(FUZZ_CORE_OBJ) $(FUZZ_OBJ) $(REPLAY_OBJ): | $(PROTO_HDR)

.SECONDARY: $(FUZZ_CORE_OBJ) $(FUZZ_OBJ) $(REPLAY_OBJ)

# Each run starts from the committed corpus and keeps what it finds in
# $(FB)/corpus/<name>/; a finding goes to $(FB)/<name>-crash-* and stops.
fuzz: $(FUZZ_TARGETS:%=$(FB)/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FB)/corpus/$$t || exit 1; \
	  dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	  flags=$$(cat tests/fuzz/$$t.flags 2>/dev/null); \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  $(FB)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FB)/$$t- $$dict $$flags $(FUZZ_FLAGS) \
	    $(FB)/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

fuzz-replay: $(FUZZ_TARGETS:%=$(B)/tests/fuzz/replay_%)
	@for t in $(FUZZ_TARGETS); do \
	  $(B)/tests/fuzz/replay_$$t tests/fuzz/corpus/$$t || exit 1; \
	done

deps:
	@sh tools/deps.sh

demo: deps
	$(MAKE) all
	sh tools/demo.sh

bench: deps
	$(MAKE) all
	$(PYTHON) bench/run.py

install: $(OUT)/replicator
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/replicator/lua \
	  $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(OUT)/replicator $(DESTDIR)$(BINDIR)/replicator
	install -m 644 lua/*.lua $(DESTDIR)$(DATADIR)/replicator/lua/
	install -m 644 man/replicator.1 $(DESTDIR)$(MANDIR)/man1/replicator.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/replicator $(DESTDIR)$(MANDIR)/man1/replicator.1
	rm -rf $(DESTDIR)$(DATADIR)/replicator

FORMAT_SRC = $(wildcard src/*.[ch] tests/*.[ch] tests/emu/*.[ch] \
	tests/fuzz/*.[ch])

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

clean:
	rm -rf build bin

-include $(CORE_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(EMU_OBJ:.o=.d) \
	$(PROTO_OBJ:.o=.d)
-include $(FUZZ_CORE_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d) $(REPLAY_OBJ:.o=.d)
