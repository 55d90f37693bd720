# rnnc top-level build. `make demo` and `make test` are the README's two commands.
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c99 -Wall -Wextra -Werror -pedantic
LUA     ?= lua5.4
BUILD   := build

RUNTIME_SRC := $(sort $(wildcard runtime/*.c runtime/reference/*.c))
RUNTIME_OBJ := $(RUNTIME_SRC:%.c=$(BUILD)/obj/%.o)
RUNTIME_HDR := $(wildcard runtime/*.h runtime/reference/*.h)
CTEST_SRC   := $(sort $(wildcard tests/c/test_*.c))
CTEST_BIN   := $(CTEST_SRC:tests/c/%.c=$(BUILD)/tests/%)

.PHONY: all runtime test-c
all: runtime

runtime: $(BUILD)/librnnc.a

$(BUILD)/obj/%.o: %.c $(RUNTIME_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Iruntime -Iruntime/reference -c $< -o $@

$(BUILD)/librnnc.a: $(RUNTIME_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: tests/c/%.c $(BUILD)/librnnc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Iruntime -Iruntime/reference $< $(BUILD)/librnnc.a -lcmocka -lm -o $@

test-c: $(CTEST_BIN)
	@for t in $(CTEST_BIN); do echo "== $$t"; (cd tests/c && ../../$$t) || exit 1; done
