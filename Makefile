# rnnc top-level build. `make demo` and `make test` are the README's two commands.
CC      ?= cc
CXX     ?= g++
CFLAGS  ?= -O2 -g
LDFLAGS ?=
WARN    := -std=c99 -Wall -Wextra -Werror -pedantic
LUA     ?= lua5.4
BUILD   ?= build
RNNC    := $(LUA) bin/rnnc

# The runtime is two libraries: librnnc (what a unit and a program embedding
# it need: kernels, initializers, losses, optimizers, weight and data files,
# the fit loop) and librnnc_ref (the reference runtime, and the command-line
# driver whose diff runs it). `make runtime` builds both with CFLAGS for the
# tests; `make install` builds them again at -O3 (release objects below).
REF_SRC     := $(sort $(wildcard runtime/reference/*.c runtime/driver*.c))
LIB_SRC     := $(filter-out $(REF_SRC),$(sort $(wildcard runtime/*.c)))
RUNTIME_SRC := $(LIB_SRC) $(REF_SRC)
LIB_OBJ     := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
REF_OBJ     := $(REF_SRC:%.c=$(BUILD)/obj/%.o)
RUNTIME_HDR := $(wildcard runtime/*.h runtime/reference/*.h)
RUNTIME_LIBS = $(BUILD)/librnnc_ref.a $(BUILD)/librnnc.a
CTEST_SRC   := $(sort $(wildcard tests/c/test_*.c))
CTEST_BIN   := $(CTEST_SRC:tests/c/%.c=$(BUILD)/tests/%)

# Installation (make install PREFIX=... DESTDIR=...). The installed libraries
# are compiled with RELEASE_CFLAGS: -O3 for the compiler's default target,
# which is portable; MARCH=native (or another -march value) builds for a
# given machine instead.
VERSION    := 0.1.0
SOVERSION  := 0
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
MARCH      ?=
RELEASE_CFLAGS ?= -O3 $(if $(MARCH),-march=$(MARCH))
RELEASE    := $(BUILD)/release
REL_LIB_OBJ := $(LIB_SRC:%.c=$(RELEASE)/obj/%.o)
REL_REF_OBJ := $(REF_SRC:%.c=$(RELEASE)/obj/%.o)
PUBLIC_HDR := runtime/rnnc.h runtime/rnnc_catalog.h runtime/rnnc_kernels.h runtime/reference/rnnc_ref.h

# Example models whose generated C is committed under generated/<model>/.
GENERATED_MODELS := examples/tagger.lua examples/lstm_tagger.lua examples/gru_tagger.lua examples/padded_tagger.lua \
                    examples/sum_regression.lua examples/functional/rnn_state.lua \
                    examples/functional/initial_state.lua \
                    $(filter-out examples/seeds/seed11.lua,$(sort $(wildcard examples/seeds/seed*.lua)))
# -O0: with -g, gcc's -O1 and -O2 take minutes on large generated functions
# under the sanitizers; the checks are the same.
SANITIZE := -O0 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: bench sizes all deps deps-demo runtime release install uninstall test-install demo test test-lua test-c \
        test-random test-cli test-sanitize sanitize-runtime $(SANITIZE_SUITES:test-%=test-sanitize-%) \
        test-conformance conformance-vectors check-generated generated catalog format lint clean fuzz fuzz-models \
        fuzz-explore fuzz-explore-models fuzz-explore-loaders \
        importer test-import test-import-files import-fixtures fuzz-import deps-import test-mpi deps-mpi test-lua-import test-fuzzers example-seq2seq

all: runtime

# Installs what is missing (as root through apt-get), or says what to install:
# deps-demo what `make demo` needs (Lua, a C compiler, clang-format), deps
# that and the test tools (luacheck, cmocka, clang's libFuzzer, CMake, g++,
# pkg-config).
DEPS_CHECK = missing=""; \
	command -v $(LUA) >/dev/null 2>&1 || missing="$$missing lua5.4"; \
	command -v $(CC) >/dev/null 2>&1 || missing="$$missing gcc"; \
	command -v make >/dev/null 2>&1 || missing="$$missing make"; \
	command -v clang-format >/dev/null 2>&1 || missing="$$missing clang-format"
DEPS_INSTALL = if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing:$$missing -- run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

deps-demo:
	@$(DEPS_CHECK); $(DEPS_INSTALL)

deps:
	@$(DEPS_CHECK); \
	command -v luacheck >/dev/null 2>&1 || missing="$$missing lua-check"; \
	[ -f /usr/include/cmocka.h ] || missing="$$missing libcmocka-dev"; \
	command -v cmake >/dev/null 2>&1 || missing="$$missing cmake"; \
	command -v $(CXX) >/dev/null 2>&1 || missing="$$missing g++"; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkgconf"; \
	command -v $(FUZZ_CC) >/dev/null 2>&1 || missing="$$missing clang"; \
	probe=$$(mktemp); \
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' | \
	  $(FUZZ_CC) -fsanitize=fuzzer -x c - -o $$probe >/dev/null 2>&1 || missing="$$missing libclang-rt-14-dev"; \
	rm -f $$probe; \
	$(DEPS_INSTALL)

# What rnnc import and its tests need beyond deps (make demo does not).
deps-import:
	@missing=""; \
	[ -f /usr/include/hdf5/serial/hdf5.h ] || [ -f /usr/include/hdf5.h ] || missing="$$missing libhdf5-dev"; \
	[ -f /usr/include/zip.h ] || missing="$$missing libzip-dev"; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkgconf"; \
	$(LUA) -e 'require("cjson")' >/dev/null 2>&1 || missing="$$missing lua-cjson"; \
	$(DEPS_INSTALL)

# What make test-mpi needs (Open MPI): installed as root, else a note; without
# it everything else builds and passes, and test-mpi says it skipped.
deps-mpi:
	@if command -v mpicc >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing: openmpi-bin libopenmpi-dev"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openmpi-bin libopenmpi-dev \
	    >/dev/null || echo "deps-mpi: could not install Open MPI: test-mpi will skip"; \
	else echo "note: make test-mpi needs Open MPI: sudo apt-get install -y openmpi-bin libopenmpi-dev"; fi

runtime: $(RUNTIME_LIBS)

# The runtime's square roots (the optimizers') are of values never negative:
# without errno the update loops vectorise, with the same results.
RUNTIME_FLAGS := -fno-math-errno

$(BUILD)/obj/%.o: %.c $(RUNTIME_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(RUNTIME_FLAGS) $(WARN) -Iruntime -Iruntime/reference -c $< -o $@

$(BUILD)/librnnc.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/librnnc_ref.a: $(REF_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: tests/c/%.c $(wildcard tests/c/*.h) $(RUNTIME_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Iruntime -Iruntime/reference $< $(RUNTIME_LIBS) $(LDFLAGS) -lcmocka -lm -o $@

# ---------------------------------------------------------------- release libraries and install
# One set of position-independent objects serves the static and the shared
# library.
$(RELEASE)/obj/%.o: %.c $(RUNTIME_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(RELEASE_CFLAGS) $(RUNTIME_FLAGS) -fPIC $(WARN) -Iruntime -Iruntime/reference -c $< -o $@

$(RELEASE)/librnnc.a: $(REL_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(RELEASE)/librnnc_ref.a: $(REL_REF_OBJ)
	rm -f $@ && ar rcs $@ $^

$(RELEASE)/librnnc.so.$(VERSION): $(REL_LIB_OBJ)
	$(CC) -shared -Wl,-soname,librnnc.so.$(SOVERSION) $^ -lm -pthread -o $@

$(RELEASE)/librnnc_ref.so.$(VERSION): $(REL_REF_OBJ) $(RELEASE)/librnnc.so.$(VERSION)
	$(CC) -shared -Wl,-soname,librnnc_ref.so.$(SOVERSION) $(REL_REF_OBJ) -L$(RELEASE) \
	  -l:librnnc.so.$(VERSION) -lm -o $@

RELEASE_LIBS := $(RELEASE)/librnnc.a $(RELEASE)/librnnc_ref.a $(RELEASE)/librnnc.so.$(VERSION) \
                $(RELEASE)/librnnc_ref.so.$(VERSION)
release: $(RELEASE_LIBS)

# @NAME@ of a template -> its value (pkg-config files, the CMake package).
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
  -e 's|@SOVERSION@|$(SOVERSION)|g'
SHARE_DIRS := generator generator/layers generator/cwriter generator/import templates runtime runtime/reference \
              runtime/mpi tools

install: $(RELEASE_LIBS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/cmake/rnnc \
	  $(DESTDIR)$(INCLUDEDIR)/rnnc $(addprefix $(DESTDIR)$(DATADIR)/rnnc/,$(SHARE_DIRS))
	install -m 755 bin/rnnc $(DESTDIR)$(BINDIR)/rnnc
	for d in $(SHARE_DIRS); do \
	  install -m 644 $$(find $$d -maxdepth 1 -type f -name '*.*') $(DESTDIR)$(DATADIR)/rnnc/$$d/ || exit 1; \
	done
	install -m 644 .clang-format $(DESTDIR)$(DATADIR)/rnnc/.clang-format
	install -m 644 $(PUBLIC_HDR) $(DESTDIR)$(INCLUDEDIR)/rnnc/
	install -m 644 $(RELEASE)/librnnc.a $(RELEASE)/librnnc_ref.a $(DESTDIR)$(LIBDIR)/
	for l in librnnc librnnc_ref; do \
	  install -m 755 $(RELEASE)/$$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/ && \
	  ln -sf $$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$l.so.$(SOVERSION) && \
	  ln -sf $$l.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/$$l.so || exit 1; \
	done
	$(SUBST) cmake/rnnc.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/rnnc.pc
	$(SUBST) cmake/rnnc_ref.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/rnnc_ref.pc
	$(SUBST) cmake/rnncConfig.cmake.in >$(DESTDIR)$(LIBDIR)/cmake/rnnc/rnncConfig.cmake
	$(SUBST) cmake/rnncConfigVersion.cmake.in >$(DESTDIR)$(LIBDIR)/cmake/rnnc/rnncConfigVersion.cmake
	@echo "installed rnnc $(VERSION) under $(DESTDIR)$(PREFIX)"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rnnc
	rm -rf $(DESTDIR)$(DATADIR)/rnnc $(DESTDIR)$(INCLUDEDIR)/rnnc $(DESTDIR)$(LIBDIR)/cmake/rnnc
	for l in librnnc librnnc_ref; do \
	  rm -f $(DESTDIR)$(LIBDIR)/$$l.a $(DESTDIR)$(LIBDIR)/$$l.so $(DESTDIR)$(LIBDIR)/$$l.so.$(SOVERSION) \
	    $(DESTDIR)$(LIBDIR)/$$l.so.$(VERSION); \
	done
	rm -f $(DESTDIR)$(LIBDIR)/pkgconfig/rnnc.pc $(DESTDIR)$(LIBDIR)/pkgconfig/rnnc_ref.pc
	-rmdir $(DESTDIR)$(LIBDIR)/cmake $(DESTDIR)$(LIBDIR)/pkgconfig 2>/dev/null

# The installed tree as a user has it: make install into a temporary prefix,
# then the examples (examples/c with Make and pkg-config, examples/cmake with
# CMake), each in C and C++; a forward-only program that links no training
# code; make uninstall leaves nothing behind.
test-install:
	@echo "== make install into a temporary prefix, the examples built and run against it"
	@BUILD="$(BUILD)" CC="$(CC)" CXX="$(CXX)" bash tests/install/run.sh

# The default example, end to end: summary, generate + compile, train, predict.
demo: deps-demo
	@echo "== rnnc summary examples/tagger.lua"
	@$(RNNC) summary examples/tagger.lua
	@echo "== rnnc build examples/tagger.lua -o $(BUILD)/demo"
	@$(RNNC) build examples/tagger.lua -o $(BUILD)/demo
	@$(BUILD)/demo/tagger init --seed 1 --out $(BUILD)/demo/initial.safetensors
	@echo "== training: 2000 epochs of Adam, sparse categorical crossentropy (every 100th epoch shown)"
	@$(BUILD)/demo/tagger fit --weights $(BUILD)/demo/initial.safetensors \
	  --x examples/data/tagger_x.npy --y examples/data/tagger_y.npy \
	  --epochs 2000 --batch-size 32 --seed 1 --log-every 100 --out $(BUILD)/demo/trained.safetensors
	@echo "== predictions for [John loves Jane] and [Jane loves John] (tags S=0 V=1 O=2)"
	@$(BUILD)/demo/tagger predict --weights $(BUILD)/demo/trained.safetensors \
	  --x examples/data/tagger_x.npy --out $(BUILD)/demo/predictions.npy

# The sequence-to-sequence example (examples/seq2seq/README.md): the addition
# task's data, training through the driver (Keras's fit with teacher forcing),
# then greedy decoding in C with the encoder and decoder units, which load
# the training model's weight file. S2S_THREADS: fit --threads (the same
# weights for any number).
S2S         := $(BUILD)/seq2seq
S2S_TRAIN   ?= 80000
S2S_EPOCHS  ?= 30
S2S_THREADS ?= 2
example-seq2seq: deps-demo runtime
	@mkdir -p $(S2S)
	@echo "== the data: examples/seq2seq/make_data.lua"
	@$(LUA) examples/seq2seq/make_data.lua $(S2S) --train $(S2S_TRAIN) --heldout 1000 --seed 1
	@echo "== rnnc build examples/seq2seq/train.lua -o $(S2S)"
	@$(RNNC) build examples/seq2seq/train.lua -o $(S2S)
	@echo "== the encoder and decoder units (rnnc generate --batch 1) and decode.c"
	@$(RNNC) generate examples/seq2seq/encoder.lua -o $(S2S) --batch 1
	@$(RNNC) generate examples/seq2seq/decoder.lua -o $(S2S) --batch 1
	$(CC) -O3 -march=native $(WARN) -DRNNC_INFERENCE_ONLY -Iruntime -I$(S2S) examples/seq2seq/decode.c \
	  $(S2S)/encoder.c $(S2S)/decoder.c $(BUILD)/librnnc.a -lm -o $(S2S)/decode
	@$(S2S)/train init --seed 1 --out $(S2S)/initial.safetensors
	@echo "== training: $(S2S_EPOCHS) epochs of RMSprop, batch 64, validation_split 0.2 (every 5th epoch shown)"
	@start=$$(date +%s); \
	$(S2S)/train fit --weights $(S2S)/initial.safetensors --x encoder_inputs=$(S2S)/train_encoder_input.npy \
	  --x decoder_inputs=$(S2S)/train_decoder_input.npy --y $(S2S)/train_decoder_target.npy \
	  --epochs $(S2S_EPOCHS) --batch-size 64 --validation-split 0.2 --seed 1 --threads $(S2S_THREADS) \
	  --log-every 5 --out $(S2S)/trained.safetensors && \
	echo "training took $$(( $$(date +%s) - start )) s"
	@echo "== greedy decoding of the held-out sums (examples/seq2seq/decode.c)"
	@$(S2S)/decode $(S2S)/trained.safetensors $(S2S)/heldout_encoder_input.npy $(S2S)/heldout_decoder_target.npy

# Every suite, two at a time (-j2: this machine's two cores), each on one
# core (JOBS=1: the random and conformance suites would otherwise compile on
# both, and a one-core suite beside them got a third of the machine and
# ended last), in the order of TEST_SUITES: the most CPU time first, so that
# the short ones fill in at the end (on the 2-core VM of the README's Tests
# section: 1164 s one suite after the other, 960 to 1000 s two at a time
# with the suites' own parallelism, 890 s this way with the cuts of
# 2026-12-06: README, Tests). Each suite's output is printed when it
# ends (--output-sync). The suites share no files (each has its own
# directory under $(BUILD), the sanitizer pass build/sanitize), and no
# verdict depends on the timing: every bound is CPU time or a count.
# What the suites build before they run, built first: make queues a suite's
# own recipe behind every job already waiting once its prerequisites need
# work, so a suite with a prerequisite to build or a phony one with a recipe
# ran last.
TEST_PREBUILD = runtime importer sanitize-runtime $(CTEST_BIN) $(UNIT_TESTS) \
  $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%) $(IMPORT_READER_ASAN)
TEST_SUITES := test-random test-cli test-conformance test-import-files test-sanitize-random \
  test-sanitize-cli test-sanitize-conformance fuzz-models fuzz test-c test-mpi test-install \
  test-lua fuzz-import test-sanitize-c check-generated lint
test: deps deps-import deps-mpi
	@$(MAKE) --no-print-directory -j2 $(TEST_PREBUILD)
	@JOBS=1 $(MAKE) --no-print-directory -j2 --output-sync=target $(TEST_SUITES)
	@echo "make test: all suites passed"

# The pairs earlier versions of make test ran side by side.
test-lua-import:
	@$(MAKE) --no-print-directory -j1 test-lua test-import
test-fuzzers:
	@$(MAKE) --no-print-directory -j1 fuzz fuzz-models

test-lua:
	@echo "== Lua tests (generator)"
	@$(LUA) tests/lua/run.lua

UNIT_TESTS := $(patsubst tests/units/%.c,$(BUILD)/units/%,$(sort $(wildcard tests/units/test_*.c)))

test-c: $(CTEST_BIN) $(UNIT_TESTS)
	@for t in $(CTEST_BIN); do echo "== $$t"; (cd tests/c && ../../$$t) || exit 1; done
	@for t in $(UNIT_TESTS) $(BUILD)/units/test_kernels_native; do echo "== $$t"; $$t || exit 1; done

# The product kernels against plain loops (no generated unit): with the
# default flags, and with -O3 -march=native, where the kernels use the
# target's widest vectors and multiply-adds, with contraction on as in every
# generated unit (-DRNNC_TEST_CONTRACT: each row must then be the plain
# loops' separate sums or their fused sums, the same for all). Under the
# sanitizers the native build stays at -O0 like the rest: the same vector
# code paths, and 2 s to compile instead of 90 to 120 (ASan on -O3's inlined kernels).
KERNELS_NATIVE_O := $(if $(findstring -fsanitize,$(CFLAGS)),,-O3)
$(BUILD)/units/test_kernels: tests/units/test_kernels.c runtime/rnnc_kernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Iruntime $< $(LDFLAGS) -lcmocka -lm -o $@
	$(CC) $(CFLAGS) $(KERNELS_NATIVE_O) -march=native -DRNNC_TEST_CONTRACT $(WARN) -Iruntime $< $(LDFLAGS) -lcmocka -lm -o $@_native

# Tests of one generated unit: the unit is generated into the build tree.
$(BUILD)/units/test_%: tests/units/test_%.c tests/units/%.lua $(RUNTIME_LIBS) $(wildcard generator/*.lua generator/*/*.lua templates/*)
	@mkdir -p $(dir $@)
	@$(RNNC) generate tests/units/$*.lua -o $(BUILD)/units/$* --dtype float64 --batch 8 2>/dev/null
	$(CC) $(CFLAGS) $(WARN) -Iruntime -Iruntime/reference -I$(BUILD)/units/$* $< $(BUILD)/units/$*/$*.c $(RUNTIME_LIBS) $(LDFLAGS) -lcmocka -lm -o $@

# models per random run (and a third as many graphs; the sanitizer pass takes
# fewer). Compiling them is most of make test's time: 45 keep it under 15
# minutes on two cores; exploration draws more with other seeds.
RANDOM_COUNT ?= 45
# The random and conformance units compile without -g (a third of their
# compile time; rebuild a failing one by hand to debug it), except under a
# sanitizer, whose reports need the lines; and without forced inlining
# (-DRNNC_NO_FORCE_INLINE: half the compile time at -O2, the same results:
# inlining does not change IEEE arithmetic). The CLI, MPI and install suites
# compile the kernels as rnnc build does for users.
UNIT_CFLAGS = $(if $(findstring -fsanitize,$(CFLAGS)),$(CFLAGS),$(filter-out -g,$(CFLAGS)))
# The random models compile at -O1 (a quarter less compile time than -O2;
# the conformance suite keeps -O2, the command-line suite users' -O3), the
# sanitizer pass at its -O0. The plain-C pass, there for the kernels'
# fallback loops, at -O0 (a quarter of -O1's compile time; GCC fuses no
# multiply-add below -O2, so its sums are the same).
RANDOM_OPT = $(if $(findstring -fsanitize,$(CFLAGS)),,-O1)
# Which random units rnnc formats with clang-format (tests/random/run.sh's
# FORMAT): the float64 ones in the main pass, as users get them; none in the
# plain-C and sanitizer passes, there for other things (formatting is most
# of a unit's generation: 0.44 of 0.53 s).
RANDOM_FORMAT ?= f64
test-random: runtime
	@echo "== random models: generated code vs the reference runtime and finite differences"
	@CC="$(CC)" CFLAGS="$(UNIT_CFLAGS) $(RANDOM_OPT) -DRNNC_NO_FORCE_INLINE" LDFLAGS="$(LDFLAGS)" BUILD="$(BUILD)" \
	  FORMAT=$(RANDOM_FORMAT) bash tests/random/run.sh $(BUILD)/random 20240611 $(RANDOM_COUNT)
ifneq ($(RANDOM_PLAIN),0)
	@echo "== random models with the product kernel's plain-C fallback (-DRNNC_PLAIN_C)"
	@CC="$(CC)" CFLAGS="$(UNIT_CFLAGS) -O0 -DRNNC_PLAIN_C" LDFLAGS="$(LDFLAGS)" BUILD="$(BUILD)" \
	  FORMAT=none bash tests/random/run.sh $(BUILD)/random-plain 11 16
endif

test-cli: runtime
	@echo "== command line: rnnc and the generated driver, as a user runs them"
	@BUILD="$(BUILD)" CC="$(CC)" CFLAGS="$(filter -O0 -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS))" \
	  RNNC_RUNTIME_LIB="$(BUILD)/librnnc.a" RNNC_CACHE_DIR="$(BUILD)/cli-cache" bash tests/cli/run.sh

# Data-parallel training on MPI (tests/mpi/run.sh): the driver of `rnnc build
# --mpi` under mpirun -np 2, 3 and 7 against one process, bit for bit.
# Skipped, with a note, without Open MPI's mpicc and mpirun.
test-mpi: runtime
	@echo "== MPI: mpirun -np N against one process, bit for bit"
	@if command -v mpicc >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1; then \
	  BUILD="$(BUILD)" RNNC_RUNTIME_LIB="$(BUILD)/librnnc.a" RNNC_CACHE_DIR="$(BUILD)/cli-cache" \
	    bash tests/mpi/run.sh; \
	else echo "test-mpi: skipped (no mpicc and mpirun: apt-get install openmpi-bin libopenmpi-dev)"; fi

# rnnc import's reader of Keras files (tools/keras_read.c: HDF5, zip), built
# only for import and its tests: make demo does not need its libraries.
IMPORT_READER := $(BUILD)/import/rnnc-keras-read
importer: $(IMPORT_READER)

$(IMPORT_READER): tools/keras_read.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $$(pkg-config --cflags hdf5 libzip) $< -o $@ $(LDFLAGS) $$(pkg-config --libs hdf5 libzip) -lm

# rnnc import on the real Keras files (refused), the synthetic fixtures of
# every writer (predictions, resume) and broken files (tests/import/run.sh),
# then the importer's fuzzer for a fixed number of cases.
test-import: deps-import test-import-files
	@$(MAKE) --no-print-directory fuzz-import
test-import-files: runtime importer
	@echo "== rnnc import: real Keras files, synthetic files of every writer, broken files"
	@BUILD="$(BUILD)" CC="$(CC)" RNNC_KERAS_READ="$(IMPORT_READER)" RNNC_RUNTIME_LIB="$(BUILD)/librnnc.a" \
	  bash tests/import/run.sh

# The importer's fuzzer (tests/import/fuzz.lua) with the reader built with
# ASan + UBSan: FUZZ_IMPORT_CASES cases from FUZZ_IMPORT_SEED (fixed: the
# same verdict every run). A long run with a fresh seed:
#   make fuzz-import FUZZ_IMPORT_SEED=$$RANDOM FUZZ_IMPORT_SECONDS=3600
FUZZ_IMPORT_SEED    ?= 1
FUZZ_IMPORT_CASES   ?= 250
FUZZ_IMPORT_SECONDS ?= 0
IMPORT_READER_ASAN  := $(BUILD)/import/rnnc-keras-read-asan

$(IMPORT_READER_ASAN): tools/keras_read.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer $(WARN) \
	  $$(pkg-config --cflags hdf5 libzip) $< -o $@ $$(pkg-config --libs hdf5 libzip) -lm

fuzz-import: $(IMPORT_READER_ASAN)
	@echo "== importer fuzzer: seed $(FUZZ_IMPORT_SEED), $(FUZZ_IMPORT_CASES) cases (or $(FUZZ_IMPORT_SECONDS) s)"
	@RNNC_KERAS_READ="$(IMPORT_READER_ASAN)" ASAN_OPTIONS=detect_leaks=0:exitcode=99 UBSAN_OPTIONS=exitcode=99 \
	  $(LUA) tests/import/fuzz.lua $(BUILD)/fuzz-import $(FUZZ_IMPORT_SEED) $(FUZZ_IMPORT_CASES) $(FUZZ_IMPORT_SECONDS)

# The synthetic fixtures and their golden vectors (needs python3-h5py and
# python3-torch); the committed ones are checked without Python.
import-fixtures:
	$(CONFORMANCE_PYTHON) tests/import/make_fixtures.py

# Golden vectors from PyTorch (tests/conformance/README.md): the committed
# vectors are checked without torch; regenerating them needs python3-torch.
CONFORMANCE_PYTHON ?= /usr/bin/python3

test-conformance: runtime
	@echo "== conformance: generated code (float64, float32) and the reference runtime against PyTorch"
	@BUILD="$(BUILD)" CC="$(CC)" CFLAGS="$(UNIT_CFLAGS) -DRNNC_NO_FORCE_INLINE" LDFLAGS="$(LDFLAGS)" \
	  bash tests/conformance/run.sh $(BUILD)/conformance $(CONFORMANCE_CASES)

conformance-vectors:
	$(CONFORMANCE_PYTHON) tests/conformance/selftest.py
	$(CONFORMANCE_PYTHON) tests/conformance/golden.py

# The C suites again under AddressSanitizer and UndefinedBehaviorSanitizer.
# Under the sanitizers the conformance suite runs one case per code path
# (every layer, the fused and unfused losses, sequences, states, variable
# length, training-mode layers); all cases run unsanitized in test-conformance.
# Compiling the units at -O0 with ASan is what takes the time.
SANITIZE_CONFORMANCE := dense_mse_sgd dense_softmax_cce_fused dense_sparse_from_logits \
  simple_rnn_seq_relu_nobias lstm_seq_backwards gru_before_seq_backwards_nobias lstm_gru_stack_schedule \
  bidir_lstm_concat_seq bidir_lstm_none_state lstm_initial_state gru_initial_state_return_state \
  variable_length_gru dense_activations_more activation_layers activation_softmax_fused \
  loss_categorical_hinge opt_ftrl_cosine_warmup conv1d_causal_dilated_lstm \
  conv1d_same_groups_strides_flatten depthwise_separable_global_average pooling_max_average_global_max \
  padding_cropping_upsampling_permute_reshape lstm_autoencoder_repeat_vector layer_normalization_rms \
  batch_normalization_conv_lstm masking_zero_output_stack attention_masked attention_dropout

# The sanitizer pass draws 20 random models (and the other kinds in
# proportion; the unsanitized pass keeps 45): memory errors of generated
# code show on any model that has the layer, and 30 took a minute more of
# make test's 15 on two cores.
SANITIZE_MAKE = $(MAKE) --no-print-directory BUILD=build/sanitize CFLAGS="$(SANITIZE)" RANDOM_PLAIN=0 \
  RANDOM_COUNT=20 RANDOM_FORMAT=none LDFLAGS="-fsanitize=address,undefined" CONFORMANCE_CASES="$(SANITIZE_CONFORMANCE)"
SANITIZE_SUITES := test-c test-random test-cli test-conformance
test-sanitize:
	@echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
	+@$(SANITIZE_MAKE) -j1 $(SANITIZE_SUITES)

# One suite under the sanitizers. make test runs the four beside the others
# and builds their runtime first (sanitize-runtime); not a prerequisite here,
# where make would run it as a job of its own and start the next suite in
# its place.
sanitize-runtime:
	+@$(SANITIZE_MAKE) runtime
$(SANITIZE_SUITES:test-%=test-sanitize-%): test-sanitize-%:
	+@echo "== test-$* under AddressSanitizer + UndefinedBehaviorSanitizer"; $(SANITIZE_MAKE) test-$*

# libFuzzer targets over the file loaders (tests/fuzz/). In make test each
# runs FUZZ_RUNS inputs from seed FUZZ_SEED over the committed seed corpus,
# collecting new inputs in a fresh directory: the same inputs, and so the
# same verdict, on every run. A failing input is written to
# $(BUILD)/fuzz/crash-*; fixed ones become cases in tests/c/test_io.c.
FUZZ_CC      ?= clang
FUZZ_RUNS    ?= 200000
FUZZ_SEED    ?= 1
FUZZ_TARGETS := safetensors npy
FUZZ_SAN     := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LIB_SRC := $(RUNTIME_SRC) generated/seed10/seed10.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o)

# The runtime (and seed10's unit, whose descriptor the weights fuzzer loads
# into) instrumented once for coverage and the sanitizers.
$(BUILD)/fuzz/obj/%.o: %.c $(RUNTIME_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(WARN) -Iruntime -Iruntime/reference -c $< -o $@

.SECONDARY: $(FUZZ_LIB_OBJ)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $(WARN) -Iruntime -Igenerated/seed10 $< \
	  $(FUZZ_LIB_OBJ) -lm -o $@

# One libFuzzer run per target: $(1) the options that bound it, $(2) the
# corpus directory new inputs go to (emptied first when $(3) is "fresh").
define run_loader_fuzzers
	@for t in $(FUZZ_TARGETS); do \
	  corpus=$(BUILD)/fuzz/$(2)_$$t; \
	  if [ "$(3)" = fresh ]; then rm -rf $$corpus; fi; mkdir -p $$corpus; \
	  echo "== fuzz_$$t $(1)"; \
	  $(BUILD)/fuzz/fuzz_$$t $(1) -dict=tests/fuzz/$$t.dict \
	    -artifact_prefix=$(BUILD)/fuzz/ -print_final_stats=1 \
	    $$corpus tests/fuzz/corpus/$$t 2>$(BUILD)/fuzz/fuzz_$$t.log; \
	  rc=$$?; grep -E '^INFO: Seed:|^stat::(number_of_executed_units|new_units_added|peak_rss_mb)|^#[0-9]+[[:space:]]+DONE' \
	    $(BUILD)/fuzz/fuzz_$$t.log; \
	  if [ $$rc -ne 0 ]; then \
	    seed=$$(sed -n 's/^INFO: Seed: \([0-9]*\).*/\1/p' $(BUILD)/fuzz/fuzz_$$t.log); \
	    echo "FINDING in fuzz_$$t (seed $$seed): replay with: $(BUILD)/fuzz/fuzz_$$t $$(ls -t $(BUILD)/fuzz/crash-* \
	      $(BUILD)/fuzz/leak-* $(BUILD)/fuzz/timeout-* $(BUILD)/fuzz/oom-* 2>/dev/null | head -1)"; \
	    tail -40 $(BUILD)/fuzz/fuzz_$$t.log; exit 1; \
	  fi; \
	done
endef

fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
	$(call run_loader_fuzzers,-runs=$(FUZZ_RUNS) -seed=$(FUZZ_SEED),run,fresh)

# The model-description fuzzer (tests/fuzz/models/): mutated example models,
# random layer stacks and hostile Lua through `rnnc generate`, then compile and
# diff against the reference. make test runs cases 1..FUZZ_MODELS_CASES of
# seed FUZZ_MODELS_SEED and every regression case in
# tests/fuzz/models/regressions/ (findings since fixed); fails on any finding,
# kept in $(BUILD)/fuzz-models/findings/.
FUZZ_MODELS_CASES ?= 100
FUZZ_MODELS_SEED  ?= 20261204
fuzz-models:
	@echo "== model-description fuzzer: cases 1..$(FUZZ_MODELS_CASES) of seed $(FUZZ_MODELS_SEED), then the regressions"
	@CC="$(CC)" LUA="$(LUA)" bash tests/fuzz/models/run.sh $(BUILD)/fuzz-models \
	  --seed $(FUZZ_MODELS_SEED) --cases $(FUZZ_MODELS_CASES)
	@CC="$(CC)" LUA="$(LUA)" bash tests/fuzz/models/run.sh $(BUILD)/fuzz-models-regressions \
	  --replay tests/fuzz/models/regressions

# Exploration, apart from make test: every fuzzer on fresh seeds (the time's),
# each for FUZZ_EXPLORE_SECONDS, corpora kept in $(BUILD)/fuzz/corpus_*. Each
# finding is printed with its seed and the one command that replays it.
FUZZ_EXPLORE_SECONDS ?= 600
fuzz-explore: fuzz-explore-models fuzz-explore-loaders

fuzz-explore-models:
	@seed=$${FUZZ_EXPLORE_SEED:-$$(date +%s)}; \
	echo "== model-description fuzzer: seed $$seed for $(FUZZ_EXPLORE_SECONDS) s"; \
	CC="$(CC)" LUA="$(LUA)" bash tests/fuzz/models/run.sh $(BUILD)/fuzz-explore --seed $$seed \
	  --seconds $(FUZZ_EXPLORE_SECONDS)

fuzz-explore-loaders: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
	$(call run_loader_fuzzers,-max_total_time=$(FUZZ_EXPLORE_SECONDS) -seed=$${FUZZ_EXPLORE_SEED:-0},corpus,keep)

# Regenerates generated/ (and the catalog header) into a temporary tree and
# fails on any difference.
check-generated:
	@rm -rf $(BUILD)/check-generated && mkdir -p $(BUILD)/check-generated
	@$(MAKE) --no-print-directory GENERATED_DIR=$(BUILD)/check-generated generated >/dev/null
	@diff -r generated $(BUILD)/check-generated && echo "generated/ is up to date"
	@$(LUA) generator/catalog_c.lua | clang-format --assume-filename=runtime/rnnc_catalog.h | \
	  diff runtime/rnnc_catalog.h - && echo "runtime/rnnc_catalog.h is up to date (make catalog)"

# runtime/rnnc_catalog.h: generator/catalog.lua as the runtime's X-macro lists.
catalog:
	@mkdir -p $(BUILD)
	$(LUA) generator/catalog_c.lua | clang-format --assume-filename=runtime/rnnc_catalog.h >$(BUILD)/rnnc_catalog.h
	mv $(BUILD)/rnnc_catalog.h runtime/rnnc_catalog.h

GENERATED_DIR ?= generated
generated:
	@for m in $(GENERATED_MODELS); do \
	  base=$$(basename $$m .lua); \
	  $(RNNC) generate $$m -o $(GENERATED_DIR)/$$base 2>/dev/null || exit 1; \
	done

# Speed against the reference runtime, naive C, PyTorch and OpenBLAS, and the
# cost of generation (bench/README.md); writes build/bench/results.md.
bench:
	@bash bench/run.sh

# Generation time, lines, compile time and object size of every seed model
# at the default --unroll.
sizes:
	@bash bench/generation.sh default

format:
	clang-format -i $$(git ls-files '*.c' '*.h' | grep -v '^generated/')

lint:
	@echo "== luacheck and clang-format"
	@luacheck -q generator bin/rnnc tests/lua tests/random tests/fuzz/models tests/import
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h') && echo "clang-format: clean"

clean:
	rm -rf build
