# sqlml: linear regression inside SQLite.  See README.md.
#
#   make          build dist/sqlml.so
#   make demo     build, then run examples/demo.sql in the sqlite3 shell
#   make test     build, then run every test
#   make asan     the tests again, under address and undefined-behaviour sanitizers
#   make bench    speed and memory against the floor and the pandas pipeline (bench/)
#
# Missing Debian packages are installed when run as root (tools/need-debs);
# otherwise the exact apt-get command is printed.

VERSION := $(shell cat VERSION)
OPT ?= -O2 -g
XCFLAGS = -std=c11 -Wall -Wextra -fPIC -fvisibility=hidden -DSQLML_VERSION='"$(VERSION)"'
LDLIBS = -llapacke -lm

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
DEBS_TEST = python3 python3-mpmath r-base-core

EXT_SRC = $(wildcard ext/*.c)
EXT_OBJ = $(patsubst ext/%.c,$(B)/ext/%.o,$(EXT_SRC)) $(B)/gen/registry_sql.o
CORE_SRC = ext/lsq.c ext/model.c ext/json.c ext/strbuf.c ext/dist.c
UNIT_SRC = $(wildcard tests/unit/*.c)

.PHONY: all deps deps-test demo test unit sql py nist ref asan bench bench-quick clean

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

test: deps-test unit sql py nist ref

$(B)/unit/test_core: $(UNIT_SRC) $(CORE_SRC) $(wildcard ext/*.h) $(wildcard tests/unit/*.h) | deps
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) -Iext -o $@ $(UNIT_SRC) $(CORE_SRC) $(LDLIBS)

unit: $(B)/unit/test_core
	$(RUN_ENV) $(B)/unit/test_core

sql: $(SO)
	$(RUN_ENV) $(PYTHON) tests/run_sql.py --sqlite3 $(SQLITE3) --ext $(SO) tests/sql/*.sql

# Each tests/py/test_*.py takes --ext and --sqlite3, prints what it checked,
# and exits nonzero on a failure.
py: $(SO)
	@for t in tests/py/test_*.py; do \
	  echo "$(PYTHON) $$t"; $(RUN_ENV) $(PYTHON) $$t --ext $(SO) --sqlite3 $(SQLITE3) || exit 1; done

nist: $(SO)
	$(RUN_ENV) $(PYTHON) tests/nist/nist.py --ext $(SO)

# Against R (Debian r-base-core): p-value functions, then whole fits.
$(B)/ref/dist_check: tests/ref/dist_check.c ext/dist.c ext/dist.h | deps
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) -Iext -o $@ tests/ref/dist_check.c ext/dist.c -lm

ref: $(SO) $(B)/ref/dist_check
	@if command -v Rscript >/dev/null; then Rscript tests/ref/dist.R | $(RUN_ENV) $(B)/ref/dist_check; \
	 else echo "dist: SKIPPED: Rscript not found (Debian r-base-core)"; fi
	$(RUN_ENV) $(PYTHON) tests/ref/lm_vs_r.py --ext $(SO)

# The shell and Python are not instrumented, so the sanitizer runtime is
# preloaded into them; leaks are checked in the C unit tests, where all
# memory is ours.
ASAN_LIB = $(shell $(CC) -print-file-name=libasan.so)
asan:
	$(MAKE) test B=build/asan SO=build/asan/sqlml.so \
	  OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  RUN_ENV="LD_PRELOAD=$(ASAN_LIB) ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1"

# Benchmarks (bench/bench.py): sqlml against the floor scan and the pandas +
# scikit-learn pipeline, as ratios; results in $(B)/bench/results.md.
# bench-quick runs the same cases on small data, to check that each one runs.
DEBS_BENCH = python3 python3-pandas python3-sklearn time
BENCH = $(PYTHON) bench/bench.py --ext $(SO) --sqlite3 $(SQLITE3) --out $(B)/bench \
	--lsq-bench $(B)/bench/lsq_bench

$(B)/bench/lsq_bench: bench/lsq_bench.c $(CORE_SRC) tests/unit/mem_libc.c $(wildcard ext/*.h) | deps
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) -Iext -Itests/unit -o $@ $< $(CORE_SRC) \
	  tests/unit/mem_libc.c $(LDLIBS)

bench bench-quick: $(SO) $(B)/bench/lsq_bench
	@tools/need-debs $(DEBS_BENCH)
	$(BENCH) --command "make $@" $(if $(filter bench-quick,$@),--quick)

clean:
	rm -rf build dist
