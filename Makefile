# YesApp — see README.md.
#   make            build build/yesapp
#   make run        build and start the server
#   make test       build (release + ASan/UBSan + fuzz) and run every test
#   make bench      run every benchmark in full; make bench-quick: briefly
#   make fuzz       run each fuzz target for FUZZ_SECONDS (default 60)
#   make fresh-check  `make test` inside a bare Debian 12 made by debootstrap
#                   (root; opt-in; scripts/fresh-check.sh)
# Each top-level target first installs missing Debian/npm packages
# (scripts/deps.sh), then re-enters make with MODE set, so that pkg-config is
# only asked once the libraries are there.

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:

BUILD ?= build
MODE ?= release
FUZZ_SECONDS ?= 60
PORT ?= 3000

# libprotobuf-c must come before libsignal-protocol-c: the latter carries its
# own copy of the protobuf-c runtime, and the first definition wins (see
# docs/protobuf.md).
PKGS := libmicrohttpd libuv libwebsockets openssl libprotobuf-c libsignal-protocol-c \
	sqlite3 libcurl jansson libqrencode libpng zlib libarchive libsodium libbrotlienc \
	libjpeg libwebp opusfile opus openh264

ifeq ($(MODE),asan)
  CC := gcc
  OUT := $(BUILD)/asan
  MODE_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
  MODE_LDFLAGS := -fsanitize=address,undefined
else ifeq ($(MODE),fuzz)
  CC := clang
  OUT := $(BUILD)/fuzz
  MODE_CFLAGS := -O1 -g -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -DYESAPP_FUZZING
  MODE_LDFLAGS := -fsanitize=address,undefined,fuzzer
else
  CC := gcc
  OUT := $(BUILD)
  MODE_CFLAGS := -O2 -g
endif

# scripts/deps.sh unpacks Node 20 + npm 10 here when the system's are older.
export PATH := $(CURDIR)/build/node/bin:$(PATH)

GEN := $(BUILD)/gen
WARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wvla
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(WARN) $(MODE_CFLAGS) -Isrc -I$(GEN) \
	$(shell pkg-config --cflags $(PKGS)) -MMD -MP $(CFLAGS)
LIBS = $(shell pkg-config --libs $(PKGS)) -lpthread -lm

PROTOS := $(wildcard src/wa/proto/*.proto)
GEN_C := $(PROTOS:src/wa/proto/%.proto=$(GEN)/%.pb-c.c)
GEN_H := $(GEN_C:.c=.h)

# migrations/NNNN_*.sql are embedded into the binary (scripts/gen-migrations.sh).
MIGRATIONS := $(sort $(wildcard migrations/*.sql))

# The dashboard (web/, docs/dashboard.md): `npm run build` makes web/dist,
# scripts/gen-dashboard.sh embeds it. WEB=0 (the default for fuzz builds, and
# when there is no npm) embeds an empty table; web/dist is then used if it
# was built before.
ifeq ($(MODE),fuzz)
  WEB ?= 0
endif
WEB ?= $(if $(shell command -v npm 2>/dev/null),1,0)
WEB_SRCS := $(shell find web/src web/public -type f 2>/dev/null) web/index.html \
	web/package.json web/package-lock.json web/vite.config.ts web/tsconfig.json
WEB_STAMP := $(if $(filter 1,$(WEB)),$(BUILD)/web.stamp)

LIB_SRCS := $(sort $(shell find src -name '*.c' ! -path src/main.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(OUT)/obj/%.o) $(GEN_C:$(GEN)/%.c=$(OUT)/obj/gen/%.o) \
	$(OUT)/obj/gen/migrations.o $(OUT)/obj/gen/openapi.o $(OUT)/obj/gen/dashboard.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(OUT)/tests/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(OUT)/tools/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(OUT)/%)
BENCH_SRCS := $(wildcard bench/*/*.c)
BENCH_BINS := $(foreach s,$(BENCH_SRCS),$(OUT)/bench/$(notdir $(basename $(s))))

.PHONY: all run test test-only bench bench-quick fuzz fuzz-smoke fresh-check clean deps \
	_bin _tests _fuzz _bench

all:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory MODE=release _bin

run: all
	$(BUILD)/yesapp serve --port $(PORT)

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory MODE=release _bin _tests
	@$(MAKE) --no-print-directory MODE=asan _bin _tests
	@$(MAKE) --no-print-directory MODE=fuzz _fuzz
	@tests/run.sh $(BUILD)

# Runs the suite on what is already built (no install, no rebuild).
test-only:
	@tests/run.sh $(BUILD)

bench bench-quick:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory MODE=release _bin _tests _bench
	@bench/run.sh $(if $(filter bench-quick,$@),quick,full) $(BUILD)

fuzz:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory MODE=fuzz _fuzz
	@tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

# The README's set-up proved on a bare Debian 12 (debootstrap + chroot).
fresh-check:
	@scripts/fresh-check.sh

# --one-file-system: a fresh-check killed before it unmounted leaves /proc,
# /dev and /sys bound under build/fresh-root; never descend into them.
clean:
	rm -rf --one-file-system $(BUILD)

_bin: $(OUT)/yesapp
_tests: $(UNIT_BINS) $(TOOL_BINS)
_fuzz: $(FUZZ_BINS)
_bench: $(BENCH_BINS)

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: src/wa/proto/%.proto
	@mkdir -p $(GEN)
	protoc-c --proto_path=src/wa/proto --c_out=$(GEN) $<
# the headers are made beside the .c files, not named as targets anywhere
# else: without this make deletes them as intermediates after each build,
# and the next build regenerates them and recompiles whatever includes them
.SECONDARY: $(GEN_C:.c=.h)

$(GEN)/migrations.c: $(MIGRATIONS) scripts/gen-migrations.sh
	@mkdir -p $(GEN)
	scripts/gen-migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/web.stamp: $(WEB_SRCS)
	@mkdir -p $(BUILD)
	cd web && npm run --silent build
	@touch $@

$(GEN)/dashboard.c: $(WEB_STAMP) scripts/gen-dashboard.sh
	@mkdir -p $(GEN)
	scripts/gen-dashboard.sh $(if $(wildcard web/dist/index.html),web/dist) > $@.tmp && mv $@.tmp $@

# src/api/openapi.json, the API's OpenAPI document, is embedded the same way.
$(GEN)/openapi.c: src/api/openapi.json scripts/gen-openapi.sh
	@mkdir -p $(GEN)
	scripts/gen-openapi.sh src/api/openapi.json > $@.tmp && mv $@.tmp $@

$(OUT)/obj/gen/%.o: $(GEN)/%.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(OUT)/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(OUT)/libyesapp.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(OUT)/yesapp: $(OUT)/obj/src/main.o $(OUT)/libyesapp.a
	$(CC) $(MODE_LDFLAGS) -o $@ $^ $(LIBS)

$(OUT)/tests/%: tests/unit/%.c $(OUT)/libyesapp.a | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit $(MODE_LDFLAGS) -o $@ $< $(OUT)/libyesapp.a $(LIBS)

$(OUT)/tools/%: tests/tools/%.c $(OUT)/libyesapp.a | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(MODE_LDFLAGS) -o $@ $< $(OUT)/libyesapp.a $(LIBS)

$(OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(OUT)/libyesapp.a | $(GEN_H)
	$(CC) $(CFLAGS_ALL) $(MODE_LDFLAGS) -o $@ $< $(OUT)/libyesapp.a $(LIBS)

.SECONDEXPANSION:
$(OUT)/bench/%: $$(wildcard bench/*/%.c) $(OUT)/libyesapp.a | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(MODE_LDFLAGS) -o $@ $< $(OUT)/libyesapp.a $(LIBS)
# The bench programs' dependency files must not match the rule above.
$(OUT)/bench/%.d: ;

-include $(shell find $(OUT) -path $(BUILD)/fresh-root -prune -o -name '*.d' -type f -print 2>/dev/null)
