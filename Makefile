# sqlml: linear regression inside SQLite.  See README.md.
#
#   make          build dist/sqlml.so
#   make demo     build, then run examples/demo.sql in the sqlite3 shell
#   make test     build, then run every test
#   make asan     the tests again, under address and undefined-behaviour sanitizers
#   make valgrind the C tests and the SQL tests under valgrind's memcheck
#   make fuzz     each libFuzzer target for FUZZ_SECONDS (fuzz-ci: 20 s each)
#
# Missing Debian packages are installed when run as root (tools/need-debs);
# otherwise the exact apt-get command is printed.

VERSION := $(shell cat VERSION)
OPT ?= -O2 -g
XCFLAGS = -std=c11 -Wall -Wextra -fPIC -fvisibility=hidden -DSQLML_VERSION='"$(VERSION)"'
LDLIBS = -llapacke -lblas -lm

# Build products; `make asan` points these elsewhere.
B ?= build
SO ?= dist/sqlml.so
SQLITE3 ?= sqlite3
PYTHON ?= /usr/bin/python3
RUN_ENV ?=

# Debian packages: to build and run; to test (R and mpmath compute reference values).
# OpenBLAS (serial: no thread pool inside the host application) is the BLAS
# under LAPACK; the README says why.
DEBS_BUILD = gcc make libsqlite3-dev liblapacke-dev libopenblas0-serial sqlite3
DEBS_TEST = python3 python3-mpmath python3-sklearn r-base-core r-cran-sandwich

EXT_SRC = $(wildcard ext/*.c)
EXT_OBJ = $(patsubst ext/%.c,$(B)/ext/%.o,$(EXT_SRC)) $(B)/gen/registry_sql.o
CORE_SRC = ext/lsq.c ext/model.c ext/json.c ext/strbuf.c ext/dist.c
UNIT_SRC = $(wildcard tests/unit/*.c)

.PHONY: all deps deps-test demo test unit sql py nist ref asan clean regress oom valgrind fuzz fuzz-ci

all: $(SO)

deps:
	@tools/need-debs $(DEBS_BUILD)

deps-test: deps
	@tools/need-debs $(DEBS_TEST)

$(B)/ext/%.o: ext/%.c $(wildcard ext/*.h) VERSION | deps
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(OPT) $(CFLAGS) -c $< -o $@

# sql/registry.sql, embedded as the C string ml_registry_sql.
$(B)/gen/registry_sql.c: sql/registry.sql
	@mkdir -p $(@D)
	{ echo '/* Generated from sql/registry.sql by the Makefile. */'; \
	  echo 'const char ml_registry_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/  "/' -e 's/$$/\\n"/' $<; echo ';'; } > $@

$(B)/gen/%.o: $(B)/gen/%.c
	$(CC) $(XCFLAGS) $(OPT) $(CFLAGS) -c $< -o $@

$(SO): $(EXT_OBJ)
	@mkdir -p $(@D)
	$(CC) $(OPT) $(LDFLAGS) -shared -o $@ $(EXT_OBJ) $(LDLIBS)

demo: $(SO)
	cd examples && $(SQLITE3) < demo.sql

test: deps-test unit regress oom sql py nist ref

$(B)/unit/test_core: $(UNIT_SRC) $(CORE_SRC) $(wildcard ext/*.h) $(wildcard tests/unit/*.h) | deps
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) -Iext -o $@ $(UNIT_SRC) $(CORE_SRC) $(LDLIBS)

unit: $(B)/unit/test_core
	$(RUN_ENV) $(B)/unit/test_core

sql: $(SO)
	$(RUN_ENV) $(PYTHON) tests/run_sql.py --sqlite3 "$(SQLITE3)" --ext $(SO) tests/sql/*.sql

# Each tests/py/test_*.py takes --ext and --sqlite3, prints what it checked,
# and exits nonzero on a failure.
py: $(SO)
	@for t in tests/py/test_*.py; do \
	  echo "$(PYTHON) $$t"; $(RUN_ENV) $(PYTHON) $$t --ext $(SO) --sqlite3 $(SQLITE3) || exit 1; done

nist: $(SO)
	$(RUN_ENV) $(PYTHON) tests/nist/nist.py --ext $(SO)

# Against R (Debian r-base-core, r-cran-sandwich) and scikit-learn: p-value
# functions, whole fits, then every option.
$(B)/ref/dist_check: tests/ref/dist_check.c ext/dist.c ext/dist.h | deps
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) -Iext -o $@ tests/ref/dist_check.c ext/dist.c -lm

ref: $(SO) $(B)/ref/dist_check
	@if command -v Rscript >/dev/null; then Rscript tests/ref/dist.R | $(RUN_ENV) $(B)/ref/dist_check; \
	 else echo "dist: SKIPPED: Rscript not found (Debian r-base-core)"; fi
	$(RUN_ENV) $(PYTHON) tests/ref/lm_vs_r.py --ext $(SO)
	$(RUN_ENV) $(PYTHON) tests/ref/options_vs_r.py --ext $(SO)

# The shell and Python are not instrumented, so the sanitizer runtime is
# preloaded into them; leaks are checked in the C unit tests, where all
# memory is ours.
ASAN_LIB = $(shell $(CC) -print-file-name=libasan.so)
asan:
	$(MAKE) test B=build/asan SO=build/asan/sqlml.so \
	  OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  RUN_ENV="LD_PRELOAD=$(ASAN_LIB) ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1"

# ---- hardening (README: Testing) ----

# The fuzz targets and the OOM test build the extension's sources in, with
# -DSQLITE_CORE, against the system libsqlite3 (fuzz/fuzz.h says why).
CORE_BUILD_SRC = $(EXT_SRC) $(B)/gen/registry_sql.c
FUZZ_TARGETS = model split train sql registry

# Every committed fuzz input and every input that once crashed a target
# (tests/regress/<target>/), replayed by a plain main.
$(B)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/fuzz.h fuzz/replay.c $(CORE_BUILD_SRC) $(wildcard ext/*.h) | deps
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) -DSQLITE_CORE -DSQLML_VERSION='"$(VERSION)"' -Iext \
	  -o $@ $< fuzz/replay.c $(CORE_BUILD_SRC) -lsqlite3 $(LDLIBS)

regress: $(patsubst %,$(B)/fuzz/replay_%,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  $(RUN_ENV) $(B)/fuzz/replay_$$t fuzz/corpus/$$t tests/regress/$$t || exit 1; done

# Out-of-memory at every allocation of each scenario (tests/oom/oom.c).
$(B)/oom/oom: tests/oom/oom.c $(CORE_BUILD_SRC) $(wildcard ext/*.h) | deps
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) -DSQLITE_CORE -DSQLML_VERSION='"$(VERSION)"' -Iext \
	  -o $@ tests/oom/oom.c $(CORE_BUILD_SRC) -lsqlite3 $(LDLIBS)

oom: $(B)/oom/oom
	$(RUN_ENV) $(B)/oom/oom $(OOM_ARGS)
	$(RUN_ENV) $(B)/oom/oom --persistent $(OOM_ARGS)

# valgrind's memcheck on the C tests (unit, fuzz replay, OOM: every 17th
# allocation) and on the sqlite3 shell running the SQL tests.  Definite leaks
# and every memory error fail; tests/valgrind.supp says what is suppressed.
VALGRIND = valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite \
  --suppressions=$(CURDIR)/tests/valgrind.supp
valgrind:
	@tools/need-debs valgrind
	$(MAKE) unit regress oom B=build/valgrind RUN_ENV="$(VALGRIND)" OOM_ARGS="--stride 17"
	$(MAKE) sql SQLITE3="$(VALGRIND) $(SQLITE3)"

# libFuzzer: clang with -fsanitize=fuzzer,address,undefined.  New inputs go
# to build/fuzz/corpus/<target>; crashes to build/fuzz/crash-<target>-*.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS = -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -DSQLITE_CORE -DSQLML_VERSION='"$(VERSION)"' -Iext

build/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(EXT_SRC) build/gen/registry_sql.c $(wildcard ext/*.h)
	@tools/need-debs clang libclang-rt-dev
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(EXT_SRC) build/gen/registry_sql.c -lsqlite3 $(LDLIBS)

fuzz: $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do mkdir -p build/fuzz/corpus/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=4096 \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/crash-$$t- \
	    build/fuzz/corpus/$$t fuzz/corpus/$$t 2>build/fuzz/$$t.log || \
	    { tail -40 build/fuzz/$$t.log; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|^stat::peak_rss' build/fuzz/$$t.log; done

fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=20

clean:
	rm -rf build dist
