# sqlml: linear regression inside SQLite.  See README.md.
#
#   make          build dist/sqlml.so, and dist/libsqlml.a and dist/sqlml.h to link it statically
#   make deps     install the Debian packages the build needs (make itself installs nothing)
#   make demo     build, then run examples/demo.sql in the sqlite3 shell
#   make test     build, then run every test
#   make asan     the tests again, under address and undefined-behaviour sanitizers
#   make install  (PREFIX=/usr/local, DESTDIR) the extension, libsqlml.a, sqlml.h, sqlml.pc
#   make uninstall
#   make deb      dist/sqlml_VERSION_ARCH.deb, a Debian binary package
#   make python-package  dist/sqlml-VERSION-py3-none-linux_MACHINE.whl, for pip
#   make npm-package     dist/sqlml-VERSION.tgz, for npm
#   make bench    speed and memory against the floor and the pandas pipeline (bench/)
#   make valgrind the C tests and the SQL tests under valgrind's memcheck
#   make fuzz     each libFuzzer target for FUZZ_SECONDS (fuzz-ci: 15 s each)
#   make cluster  build/cluster/sqlml-node: a dqlite node with sqlml (docs/scale-out.md)
#   make cluster-demo  3 nodes on 127.0.0.1: train on the leader, kill it, predict on the next
#
# make deps, demo and test install missing Debian packages when run as root
# (tools/need-debs); otherwise they print the exact apt-get command.

VERSION := $(shell cat VERSION)
OPT ?= -O2 -g
XCFLAGS = -std=c11 -pthread -Wall -Wextra -fPIC -fvisibility=hidden -DSQLML_VERSION='"$(VERSION)"' $(DEP_CFLAGS)
# LAPACKE, BLAS and SQLite's headers and libraries, as pkg-config knows them
# (override on the command line: make LDLIBS=... SQLITE_LIBS=...).
PKG_CONFIG ?= pkg-config
DEP_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags sqlite3 lapacke blas 2>/dev/null)
LDLIBS ?= $(or $(shell $(PKG_CONFIG) --libs lapacke blas 2>/dev/null),-llapacke -lblas) -lm -pthread
SQLITE_LIBS ?= $(or $(shell $(PKG_CONFIG) --libs sqlite3 2>/dev/null),-lsqlite3)

# Build products; `make asan` points these elsewhere.
B ?= build
SO ?= dist/sqlml.so
LIB ?= dist/libsqlml.a
HDR = dist/sqlml.h
NODE_DIR = build/node
SQLITE3 ?= sqlite3
PYTHON ?= /usr/bin/python3
RUN_ENV ?=

# Where `make install` puts things (under $(DESTDIR), for staged installs).
# The loadable extension goes to a directory of its own, as Debian's
# sqlite3-pcre has /usr/lib/sqlite3/pcre.so, not among the libraries the
# linker searches.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
EXTDIR ?= $(LIBDIR)/sqlite3
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

# Debian packages: to build and run; to test (R, mpmath and scikit-learn compute
# reference values; dpkg-dev, pip, setuptools, wheel and venv build and
# install the packages; Go and mattn/go-sqlite3 build the Go example).
# OpenBLAS (serial: no thread pool inside the host application) is the BLAS
# under LAPACK; docs/internals.md says why.
DEBS_BUILD = gcc make binutils libsqlite3-dev liblapacke-dev libopenblas0-serial sqlite3
DEBS_TEST = python3 python3-mpmath python3-sklearn r-base-core r-cran-sandwich pkg-config \
	dpkg-dev python3-pip python3-setuptools python3-wheel python3-venv \
	golang-go golang-github-mattn-go-sqlite3-dev

EXT_SRC = $(wildcard ext/*.c)
EXT_OBJ = $(patsubst ext/%.c,$(B)/ext/%.o,$(EXT_SRC)) $(B)/gen/registry_sql.o
CORE_SRC = ext/lsq.c ext/sfac.c ext/blas_lock.c ext/cv.c ext/model.c ext/model_block.c ext/model_blob.c ext/crc32.c ext/model_json.c ext/json.c ext/strbuf.c ext/dist.c ext/glm.c ext/auc.c ext/profile.c \
	ext/formula.c ext/formula_parse.c ext/formula_design.c
UNIT_SRC = $(wildcard tests/unit/*.c)

.PHONY: cluster cluster-demo deps-cluster deps-shards deps-scale dqlite shards
.PHONY: all lib deps deps-test demo test unit regress oom sql py nist ref glm-guess embed asan valgrind \
	fuzz fuzz-ci install uninstall bench bench-quick clean deb python-package npm-package packages

all: $(SO) lib

lib: $(LIB) $(HDR)

deps:
	@tools/need-debs $(DEBS_BUILD)

deps-test: deps
	@tools/need-debs $(DEBS_TEST)

$(B)/ext/%.o: ext/%.c $(wildcard ext/*.h) VERSION
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

# The static library: the same sources built with -DSQLITE_CORE, so they call
# the application's SQLite directly instead of through the loader's table of
# routines.  The objects are linked into one (ld -r) whose hidden symbols
# objcopy makes local: the archive defines sqlite3_sqlml_init and nothing else
# an application could collide with (`nm -g --defined-only` shows it).
STATIC_OBJ = $(patsubst ext/%.c,$(B)/static/%.o,$(EXT_SRC)) $(B)/static/registry_sql.o
OBJCOPY ?= objcopy

$(B)/static/%.o: ext/%.c $(wildcard ext/*.h) VERSION
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -DSQLITE_CORE $(OPT) $(CFLAGS) -c $< -o $@

$(B)/static/registry_sql.o: $(B)/gen/registry_sql.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -DSQLITE_CORE $(OPT) $(CFLAGS) -c $< -o $@

$(LIB): $(STATIC_OBJ)
	@mkdir -p $(@D)
	$(LD) -r -o $(B)/libsqlml.o $(STATIC_OBJ)
	$(OBJCOPY) --localize-hidden $(B)/libsqlml.o
	rm -f $@
	$(AR) rcs $@ $(B)/libsqlml.o

$(HDR): ext/sqlml.h
	@mkdir -p $(@D)
	cp ext/sqlml.h $@

# demo and test install missing Debian packages first (as root; otherwise
# they print the apt-get command); plain make installs nothing.
demo: deps
	@$(MAKE) --no-print-directory $(SO)
	cd examples && $(SQLITE3) < demo.sql

# Every suite runs, past a failing one; the last line counts them
# (tests/run_suites.py).  Each tests/py/test_*.py is a suite of its own.
PY_SUITES = $(patsubst tests/py/%.py,py-%,$(wildcard tests/py/test_*.py))
# dqlite and shards run other engines over the extension (docs/scale-out.md);
# `make asan` leaves them out (SCALE_SUITES=): the C they reach is the
# C the other suites run under the sanitizers.
SCALE_SUITES = dqlite shards
SUITES = unit regress oom sql $(PY_SUITES) glm-guess nist ref embed packages $(SCALE_SUITES)
test: deps-test $(if $(SCALE_SUITES),deps-scale)
	@$(PYTHON) tests/run_suites.py --make "$(MAKE)" $(SUITES)

$(B)/unit/test_core: $(UNIT_SRC) $(CORE_SRC) $(wildcard ext/*.h) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) -Iext -o $@ $(UNIT_SRC) $(CORE_SRC) $(LDLIBS)

unit: $(B)/unit/test_core
	$(RUN_ENV) $(B)/unit/test_core

sql: $(SO)
	$(RUN_ENV) $(PYTHON) tests/run_sql.py --sqlite3 "$(SQLITE3)" --ext $(SO) tests/sql/*.sql

# Each tests/py/test_*.py takes --ext and --sqlite3, prints what it checked,
# and exits nonzero on a failure.
py: $(PY_SUITES)

py-%: $(SO)
	$(RUN_ENV) $(PYTHON) tests/py/$*.py --ext $(SO) --sqlite3 $(SQLITE3)

# IRLS built with every guess of its last pass wrong (ML_GLM_GUESS_WRONG,
# ext/train_glm.c): the passes that mend a wrong guess, tested against R.
$(B)/guess/train_glm.o: ext/train_glm.c $(wildcard ext/*.h) VERSION
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(OPT) $(CFLAGS) -DML_GLM_GUESS_WRONG -c $< -o $@

$(B)/guess/sqlml.so: $(filter-out $(B)/ext/train_glm.o,$(EXT_OBJ)) $(B)/guess/train_glm.o
	$(CC) $(OPT) $(LDFLAGS) -shared -o $@ $^ $(LDLIBS)

glm-guess: $(B)/guess/sqlml.so
	$(RUN_ENV) $(PYTHON) tests/py/test_glm.py --ext $(B)/guess/sqlml.so --sqlite3 $(SQLITE3)
	$(RUN_ENV) $(PYTHON) tests/ref/glm_vs_r.py --ext $(B)/guess/sqlml.so --no-speed --wrong-guesses

nist: $(SO)
	$(RUN_ENV) $(PYTHON) tests/nist/nist.py --ext $(SO)

# Against R (Debian r-base-core, r-cran-sandwich) and scikit-learn: p-value
# functions, whole fits, then every option.
$(B)/ref/dist_check: tests/ref/dist_check.c ext/dist.c ext/dist.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) -Iext -o $@ tests/ref/dist_check.c ext/dist.c -lm

FORMULA_SRC = ext/formula.c ext/formula_parse.c ext/formula_design.c ext/strbuf.c
$(B)/ref/formula_check: tests/ref/formula_check.c $(FORMULA_SRC) tests/unit/mem_libc.c $(wildcard ext/*.h)
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) -Iext -Itests/unit -o $@ tests/ref/formula_check.c \
	  $(FORMULA_SRC) tests/unit/mem_libc.c -lm

ref: $(SO) $(B)/ref/dist_check $(B)/ref/formula_check
	@if command -v Rscript >/dev/null; then Rscript tests/ref/dist.R | $(RUN_ENV) $(B)/ref/dist_check; \
	 else echo "dist: SKIPPED: Rscript not found (Debian r-base-core)"; fi
	$(RUN_ENV) $(PYTHON) tests/ref/lm_vs_r.py --ext $(SO)
	$(RUN_ENV) $(PYTHON) tests/ref/options_vs_r.py --ext $(SO)
	$(RUN_ENV) $(PYTHON) tests/ref/csv_vs_r.py --ext $(SO) --sqlite3 "$(SQLITE3)"
	$(RUN_ENV) $(PYTHON) tests/ref/glm_vs_r.py --ext $(SO)
	$(RUN_ENV) $(PYTHON) tests/ref/formula_vs_r.py --check $(B)/ref/formula_check
	$(RUN_ENV) $(PYTHON) tests/ref/formula_lm_vs_r.py --ext $(SO) --sqlite3 "$(SQLITE3)"

# Use from applications (docs/apps.md): the Python, Node, Go
# and C examples run and must print what exact arithmetic says; the C one is
# linked statically, then against a `make install` into a scratch DESTDIR.
# Go builds in GOPATH mode, offline, against Debian's mattn/go-sqlite3; its
# cache, like better-sqlite3, is shared by every build directory.
GO_CACHE = build/go/cache
embed: $(SO) $(LIB) $(HDR) $(NODE_DIR)/ready
	$(RUN_ENV) $(PYTHON) tests/embed/test_python.py --ext $(SO)
	$(RUN_ENV) $(PYTHON) tests/embed/test_node.py --ext $(SO) --node-modules $(NODE_DIR)/node_modules
	$(RUN_ENV) $(PYTHON) tests/embed/test_go.py --ext $(SO) --gocache $(GO_CACHE)
	$(RUN_ENV) $(PYTHON) tests/embed/test_c.py --ext $(SO) --lib $(LIB) --include $(dir $(HDR)) \
	  --cc "$(CC)" --cflags "$(OPT) $(CFLAGS)"
	$(RUN_ENV) $(PYTHON) tests/embed/test_install.py --ext $(SO) --make "$(MAKE)" \
	  --cc "$(CC)" --cflags "$(OPT) $(CFLAGS)"

# better-sqlite3 for the Node example, as examples/node/package-lock.json
# pins it, in build/node (whatever B is: one install serves `make asan` too),
# out of the source tree.  Node.js and npm come from Debian if missing;
# better-sqlite3 12 needs Node.js 20, without which the Node test is skipped.
$(NODE_DIR)/ready: examples/node/package.json examples/node/package-lock.json
	@command -v npm >/dev/null || tools/need-debs nodejs npm
	@mkdir -p $(NODE_DIR)
	cp examples/node/package.json examples/node/package-lock.json $(NODE_DIR)/
	@if node -e 'process.exit(+(process.versions.node.split(".")[0] < 20))'; then \
	  echo "cd $(NODE_DIR) && npm ci"; cd $(NODE_DIR) && npm ci --no-audit --no-fund && touch ready; \
	else echo "embed: Node.js $$(node --version) is older than 20, which better-sqlite3 12 needs"; fi

# The shell and Python are not instrumented, so the sanitizer runtime is
# preloaded into them; leaks are checked in the C unit tests, where all
# memory is ours.
ASAN_LIB = $(shell $(CC) -print-file-name=libasan.so)
# Under the sanitizers the OOM test fails every third allocation (--stride
# 3): the plain `make test` fails each one, and the sanitized run is there to
# catch memory errors on those paths, at a third of its 7 minutes.
asan:
	$(MAKE) test SCALE_SUITES= B=build/asan SO=build/asan/sqlml.so LIB=build/asan/libsqlml.a OOM_ARGS="--stride 3" \
	  OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  RUN_ENV="LD_PRELOAD=$(ASAN_LIB) ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1"

# Paths under PREFIX go into sqlml.pc as ${prefix}/..., so that pkg-config can
# relocate them (--define-prefix, --define-variable=prefix=...).
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

install: $(SO) $(LIB) $(HDR)
	install -d $(DESTDIR)$(EXTDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 $(SO) $(DESTDIR)$(EXTDIR)/sqlml.so
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libsqlml.a
	install -m 644 $(HDR) $(DESTDIR)$(INCLUDEDIR)/sqlml.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_path,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|' -e 's|@EXTDIR@|$(call pc_path,$(EXTDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' ext/sqlml.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/sqlml.pc

# Removes what install put there, and the extension's directory if now empty.
uninstall:
	rm -f $(DESTDIR)$(EXTDIR)/sqlml.so $(DESTDIR)$(LIBDIR)/libsqlml.a \
	      $(DESTDIR)$(INCLUDEDIR)/sqlml.h $(DESTDIR)$(PKGCONFIGDIR)/sqlml.pc
	rmdir $(DESTDIR)$(EXTDIR) 2>/dev/null || true

# ---- packages (docs/apps.md) ----

# Each package is written next to the extension it ships: dist/, or
# build/asan/ under `make asan`.  Each is made from a copy under $(B), so
# nothing generated lands in the source tree.
PKG_OUT = $(patsubst %/,%,$(dir $(SO)))

# The Debian binary package, from a `make install` staged with Debian's paths:
# the extension in /usr/lib/sqlite3 (as sqlite3-pcre's pcre.so), the static
# library and sqlml.pc in the multiarch directory, where pkg-config looks.
# packaging/debian/ has the control file, changelog (whose top entry must be
# VERSION) and copyright; dpkg-shlibdeps derives the library dependencies,
# and OpenBLAS serial is put first among the BLASes that provide libblas.so.3.
# Binaries are stripped and the extension is not executable (mode 644), as
# dh_strip and dh_fixperms leave them in Debian's packages (sqlite3-pcre's).
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB = $(PKG_OUT)/sqlml_$(VERSION)_$(DEB_ARCH).deb
DEB_DIR = $(B)/deb
DEB_ROOT = $(DEB_DIR)/debian/sqlml
deb: $(DEB)

$(DEB): $(SO) $(LIB) $(HDR) ext/sqlml.pc.in $(wildcard packaging/debian/*) VERSION
	@tools/need-debs dpkg-dev binutils
	@v=$$(dpkg-parsechangelog -l packaging/debian/changelog -SVersion); [ "$$v" = "$(VERSION)" ] || \
	  { echo "packaging/debian/changelog: the top entry is $$v, VERSION is $(VERSION)" >&2; exit 1; }
	rm -rf $(DEB_DIR)
	umask 022 && $(MAKE) --no-print-directory -s install DESTDIR=$(CURDIR)/$(DEB_ROOT) PREFIX=/usr \
	  LIBDIR=/usr/lib/$$(dpkg-architecture -qDEB_HOST_MULTIARCH) EXTDIR=/usr/lib/sqlite3
	strip --strip-unneeded --remove-section=.comment --remove-section=.note $(DEB_ROOT)/usr/lib/sqlite3/sqlml.so
	strip --strip-debug --remove-section=.comment --enable-deterministic-archives \
	  $(DEB_ROOT)/usr/lib/*/libsqlml.a
	chmod 644 $(DEB_ROOT)/usr/lib/sqlite3/sqlml.so
	umask 022 && mkdir -p $(DEB_ROOT)/DEBIAN $(DEB_ROOT)/usr/share/doc/sqlml && \
	  cp packaging/debian/control packaging/debian/changelog $(DEB_DIR)/debian/ && \
	  install -m 644 packaging/debian/copyright $(DEB_ROOT)/usr/share/doc/sqlml/ && \
	  gzip -9n < packaging/debian/changelog > $(DEB_ROOT)/usr/share/doc/sqlml/changelog.gz
	cd $(DEB_DIR) && dpkg-shlibdeps -Tdebian/sqlml.substvars debian/sqlml/usr/lib/sqlite3/sqlml.so
	sed -i 's/libblas3 | libblas.so.3/libopenblas0-serial | &/' $(DEB_DIR)/debian/sqlml.substvars
	cd $(DEB_DIR) && dpkg-gencontrol -psqlml -Tdebian/sqlml.substvars -Pdebian/sqlml
	cd $(DEB_ROOT) && find usr -type f | LC_ALL=C sort | xargs md5sum > DEBIAN/md5sums
	chmod 644 $(DEB_ROOT)/DEBIAN/control $(DEB_ROOT)/DEBIAN/md5sums
	@mkdir -p $(@D)
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $@

# The Python package: bindings/python with the extension inside, as a wheel
# tagged py3-none-linux_<machine> (any Python 3 loads it through sqlite3),
# built offline by Debian's pip, setuptools and wheel.
WHEEL = $(PKG_OUT)/sqlml-$(VERSION)-py3-none-linux_$(shell uname -m).whl
python-package: $(WHEEL)

$(WHEEL): $(SO) $(wildcard bindings/python/* bindings/python/sqlml/*) VERSION
	@tools/need-debs python3-pip python3-setuptools python3-wheel binutils
	rm -rf $(B)/python && mkdir -p $(B)/python $(@D)
	cp -R bindings/python/. $(B)/python/
	cp VERSION $(B)/python/
	install -m 755 $(SO) $(B)/python/sqlml/sqlml.so
	strip --strip-unneeded $(B)/python/sqlml/sqlml.so
	cd $(B)/python && $(PYTHON) -m pip wheel -q --no-deps --no-build-isolation --no-index \
	  -w $(CURDIR)/$(@D) .

# The npm package: bindings/node with the extension inside, packed by npm;
# the copy's package.json gets sqlml's version and this machine's cpu.
NPM_TGZ = $(PKG_OUT)/sqlml-$(VERSION).tgz
npm-package: $(NPM_TGZ)
NPM_SET_VERSION = const fs = require("fs"), f = process.argv[1], p = JSON.parse(fs.readFileSync(f)); \
  fs.writeFileSync(f, JSON.stringify({ ...p, version: process.argv[2], cpu: [process.arch] }, null, 2) + "\n");

$(NPM_TGZ): $(SO) $(wildcard bindings/node/*) VERSION
	@command -v npm >/dev/null || tools/need-debs nodejs npm
	@tools/need-debs binutils
	rm -rf $(B)/npm && mkdir -p $(B)/npm $(@D)
	cp -R bindings/node/. $(B)/npm/
	install -m 755 $(SO) $(B)/npm/sqlml.so
	strip --strip-unneeded $(B)/npm/sqlml.so
	node -e '$(NPM_SET_VERSION)' $(B)/npm/package.json $(VERSION)
	cd $(B)/npm && npm pack --silent --pack-destination $(CURDIR)/$(@D) >/dev/null

# The packages built, inspected, installed into scratch places (never onto
# this machine) and used: tests/embed/test_deb.py, test_pypkg.py, test_npmpkg.py.
packages: $(SO) $(DEB) $(WHEEL) $(NPM_TGZ) $(NODE_DIR)/ready
	$(RUN_ENV) $(PYTHON) tests/embed/test_deb.py --ext $(SO) --deb $(DEB) --sqlite3 "$(SQLITE3)" \
	  --cc "$(CC)" --cflags "$(OPT) $(CFLAGS)"
	$(RUN_ENV) $(PYTHON) tests/embed/test_pypkg.py --ext $(SO) --wheel $(WHEEL)
	$(RUN_ENV) $(PYTHON) tests/embed/test_npmpkg.py --ext $(SO) --tgz $(NPM_TGZ) \
	  --node-modules $(NODE_DIR)/node_modules

# Benchmarks (bench/bench.py): sqlml against the floor scan and the pandas +
# scikit-learn pipeline, as ratios; results in $(B)/bench/results.md.
# bench-quick runs the same cases on small data, to check that each one runs.
DEBS_BENCH = python3 python3-pandas python3-sklearn python3-statsmodels time
BENCH = $(PYTHON) bench/bench.py --ext $(SO) --sqlite3 $(SQLITE3) --out $(B)/bench \
	--lsq-bench $(B)/bench/lsq_bench --predict-loop $(B)/bench/predict_loop

$(B)/bench/lsq_bench: bench/lsq_bench.c $(CORE_SRC) tests/unit/mem_libc.c $(wildcard ext/*.h)
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) -Iext -Itests/unit -o $@ $< $(CORE_SRC) \
	  tests/unit/mem_libc.c $(LDLIBS)

$(B)/bench/predict_loop: bench/predict_loop.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) $(DEP_CFLAGS) -o $@ $< $(SQLITE_LIBS)

bench bench-quick: $(SO) $(B)/bench/lsq_bench $(B)/bench/predict_loop
	@tools/need-debs $(DEBS_BENCH)
	$(BENCH) --command "make $@" $(if $(filter bench-quick,$@),--quick)

# ---- scale-out (docs/scale-out.md) ----

# A dqlite node that registers the static library with sqlite3_auto_extension,
# built offline from Debian's go-dqlite sources (GOPATH mode: no module proxy).
# Dask, psutil for the sharded fits and their test.
DEBS_CLUSTER = libdqlite-dev golang-go golang-github-canonical-go-dqlite-dev
DEBS_SHARDS = python3-distributed python3-psutil
CLUSTER_NODE = build/cluster/sqlml-node
GO ?= go
GO_ENV = GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH=$(CURDIR)/build/gopath:/usr/share/gocode \
  GOCACHE=$(CURDIR)/build/go-cache CGO_CFLAGS="-I$(CURDIR)/$(dir $(HDR)) $(DEP_CFLAGS)" \
  CGO_LDFLAGS="$(CURDIR)/$(LIB) $(LDLIBS)" CGO_LDFLAGS_ALLOW='-Wl,-z,now'

deps-cluster:
	@tools/need-debs $(DEBS_CLUSTER)

deps-shards:
	@tools/need-debs $(DEBS_SHARDS)

deps-scale:
	@tools/need-debs $(DEBS_CLUSTER) $(DEBS_SHARDS)

cluster: $(CLUSTER_NODE)

# Go's build cache does not look into the archive CGO_LDFLAGS names: the
# archive's hash, given to the linker, makes go build link again when it changes.
$(CLUSTER_NODE): cluster/node/main.go $(LIB) $(HDR) | deps-cluster
	@mkdir -p $(@D)
	cd cluster/node && $(GO_ENV) $(GO) build \
	  -ldflags "-X main.libsqlmlHash=$$(sha256sum < $(CURDIR)/$(LIB) | cut -c1-64)" -o $(CURDIR)/$@ .

cluster-demo: cluster
	$(PYTHON) cluster/demo.py --node $(CLUSTER_NODE)

# 3 nodes on 127.0.0.1: replication, failover, catch-up, refused autocommit writes.
dqlite: $(CLUSTER_NODE)
	$(RUN_ENV) $(PYTHON) tests/cluster/test_dqlite.py --node $(CLUSTER_NODE)

# 4 shards fitted on a Dask LocalCluster bound to 127.0.0.1, merged, against one fit.
shards: $(SO) | deps-shards
	$(RUN_ENV) $(PYTHON) tests/shards/test_shards.py --ext $(SO)

# ---- hardening (docs/testing.md) ----

# The fuzz replays and the OOM test link the static library's objects (built
# with -DSQLITE_CORE) against the system libsqlite3 (fuzz/fuzz.h says why);
# the libFuzzer targets compile the sources again with clang's instrumentation.
FUZZ_TARGETS = model split train sql registry nest

# Every committed fuzz input and every input that once crashed a target
# (tests/regress/<target>/), replayed by a plain main.
$(B)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/fuzz.h fuzz/replay.c $(STATIC_OBJ) $(wildcard ext/*.h)
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) $(DEP_CFLAGS) -DSQLITE_CORE -Iext \
	  -o $@ $< fuzz/replay.c $(STATIC_OBJ) $(SQLITE_LIBS) $(LDLIBS)

regress: $(patsubst %,$(B)/fuzz/replay_%,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  $(RUN_ENV) $(B)/fuzz/replay_$$t fuzz/corpus/$$t tests/regress/$$t || exit 1; done

# Out-of-memory at every allocation of each scenario (tests/oom/oom.c).
$(B)/oom/oom: tests/oom/oom.c $(STATIC_OBJ) $(wildcard ext/*.h)
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra $(OPT) $(CFLAGS) $(DEP_CFLAGS) -DSQLITE_CORE -Iext \
	  -o $@ tests/oom/oom.c $(STATIC_OBJ) $(SQLITE_LIBS) $(LDLIBS)

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
comma := ,
FUZZ_CC ?= clang
FUZZ_FLAGS = -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -DSQLITE_CORE -DSQLML_VERSION='"$(VERSION)"' -Iext

# The extension's objects are compiled once for every target, as the
# replays and the OOM test link theirs.
FUZZ_OBJ_FLAGS = $(subst -fsanitize=fuzzer$(comma),-fsanitize=fuzzer-no-link$(comma),$(FUZZ_FLAGS))
FUZZ_OBJ = $(patsubst ext/%.c,build/fuzz/obj/%.o,$(EXT_SRC)) build/fuzz/obj/registry_sql.o

.SECONDARY: $(FUZZ_OBJ)

build/fuzz/obj/%.o: ext/%.c $(wildcard ext/*.h) VERSION
	@tools/need-debs clang libclang-rt-dev
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_OBJ_FLAGS) -c -o $@ $<

build/fuzz/obj/registry_sql.o: build/gen/registry_sql.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_OBJ_FLAGS) -c -o $@ $<

build/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_OBJ) $(wildcard ext/*.h)
	@tools/need-debs clang libclang-rt-dev
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_OBJ) $(SQLITE_LIBS) $(LDLIBS)

fuzz: $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do mkdir -p build/fuzz/corpus/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=4096 \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/crash-$$t- \
	    build/fuzz/corpus/$$t fuzz/corpus/$$t 2>build/fuzz/$$t.log || \
	    { tail -40 build/fuzz/$$t.log; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|^stat::peak_rss' build/fuzz/$$t.log; done

fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=15

clean:
	rm -rf build dist
