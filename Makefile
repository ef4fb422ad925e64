# proctor — build, test, install.  GNU make.
#
#   make                 build the release binary (target/release/proctor)
#   make check           build, run unit and integration tests, fail on leftover processes
#   make demo            build, run proctor on the bundled examples/ suite
#   make install         install binary and man pages (PREFIX, DESTDIR, BINDIR, MANDIR)
#   make uninstall       remove what install put there
#   make debian-check    unit tests with Debian 12's cargo/rustc 1.63 and librust-*-dev crates
#   make man-check       lint man pages (man -l, mandoc -T lint when installed), and
#                        check them as rendered against proctor's --help (.ci/man-render-check)
#   make examples-check  run the demo suite under prove(1), to keep it honest
#   make package-check   vendored, offline, locked build installed into a DESTDIR and removed
#   make bench           run bench/run, when there is one
#   make differential    verdicts against prove's on random TAP (SEED, COUNT)
#   make clean           remove target/

CARGO ?= cargo
INSTALL ?= install

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
# Shell completions, written by hand in src/completions/.
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d

BIN := target/release/proctor
DEBUG_BIN := target/debug/proctor
SOURCES := Cargo.toml Cargo.lock $(shell find src -name '*.rs' 2>/dev/null)
MAN1 := $(wildcard man/*.1)
MAN7 := $(wildcard man/*.7)

# Flags for `make demo`, e.g. make demo DEMO_FLAGS='-j4 --log -'
DEMO_FLAGS ?=
# Extra arguments for cargo test in `make check`, e.g. CHECK_FLAGS='-- --nocapture'
CHECK_FLAGS ?=

.PHONY: all check demo install uninstall debian-check man-check examples-check package-check bench differential clean

all:
	$(CARGO) build --release

# install depends on the file, not on `all`, so `make && sudo make install`
# does not need cargo in root's PATH when the binary is already up to date.
$(BIN): $(SOURCES)
	$(CARGO) build --release

# Every process the tests start inherits PROCTOR_CHECK_TAG; .ci/strays fails
# the check (and kills them) if any is still alive once cargo test returns.
check:
	$(CARGO) build
	@tag="proctor-check-$$$$-$$(date +%s)"; st=0; \
	echo "PROCTOR_CHECK_TAG=$$tag $(CARGO) test $(CHECK_FLAGS)"; \
	PROCTOR_CHECK_TAG=$$tag $(CARGO) test $(CHECK_FLAGS) || st=$$?; \
	.ci/strays "$$tag" || { [ $$st -ne 0 ] || st=1; }; \
	exit $$st

# make itself exits 2 whenever a recipe fails; the line below names proctor's
# own status (1 test failure, 2 usage, 3 harness failure).
demo: all
	@st=0; (cd examples && $(CURDIR)/$(BIN) test $(DEMO_FLAGS)) || st=$$?; \
	if [ $$st -ne 0 ]; then echo "make demo: proctor exited with status $$st" >&2; fi; \
	page=$$(cd examples && $(CURDIR)/$(BIN) report) && echo "make demo: the run as a page: $$page"; \
	exit $$st

install: $(BIN)
	$(INSTALL) -d $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 755 $(BIN) $(DESTDIR)$(BINDIR)/proctor
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
ifneq ($(MAN7),)
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man7
	$(INSTALL) -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/
endif
	$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	$(INSTALL) -m 644 src/completions/proctor.bash $(DESTDIR)$(BASHCOMPDIR)/proctor
	$(INSTALL) -m 644 src/completions/_proctor $(DESTDIR)$(ZSHCOMPDIR)/_proctor
	$(INSTALL) -m 644 src/completions/proctor.fish $(DESTDIR)$(FISHCOMPDIR)/proctor.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/proctor
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
ifneq ($(MAN7),)
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7)))
endif
	rm -f $(DESTDIR)$(BASHCOMPDIR)/proctor
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_proctor
	rm -f $(DESTDIR)$(FISHCOMPDIR)/proctor.fish

# Debian 12's /usr/bin/cargo and rustc 1.63, librust-*-dev crates, offline, in a
# scratch copy under target/debian (see the script for why a copy).
debian-check:
	.ci/debian-check --bins

$(DEBUG_BIN): $(SOURCES)
	$(CARGO) build

# Lint finds bad requests; only the rendered text shows a missing line break or
# a paragraph glued to the one before, so the pages are rendered and read too.
man-check: $(DEBUG_BIN)
	@for m in $(MAN1) $(MAN7); do \
	  echo "man -l $$m"; \
	  out=$$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$$m" 2>&1 >/dev/null) || exit 1; \
	  if [ -n "$$out" ]; then echo "$$out" >&2; exit 1; fi; \
	  if command -v mandoc >/dev/null; then \
	    echo "mandoc -T lint $$m"; mandoc -T lint "$$m" || exit 1; \
	  else echo "mandoc not installed: skipping its lint" >&2; fi; \
	done
	.ci/man-render-check $(DEBUG_BIN) $(MAN1) $(MAN7)

examples-check:
	prove examples/t

# What a distribution does: vendor every crate, build offline from the lock,
# install into a scratch DESTDIR, check what landed, and uninstall it again.
PKG := $(CURDIR)/target/package
package-check:
	rm -rf $(PKG) && mkdir -p $(PKG)
	$(CARGO) vendor --locked $(PKG)/vendor > $(PKG)/config.toml
	$(CARGO) build --release --offline --locked --config $(PKG)/config.toml --target-dir $(PKG)/build
	$(MAKE) install BIN=$(PKG)/build/release/proctor DESTDIR=$(PKG)/root PREFIX=/usr
	test -x $(PKG)/root/usr/bin/proctor
	test -f $(PKG)/root/usr/share/man/man1/proctor.1
	test -f $(PKG)/root/usr/share/man/man7/proctor-stage.7
	test -f $(PKG)/root/usr/share/bash-completion/completions/proctor
	$(PKG)/root/usr/bin/proctor --version
	$(MAKE) uninstall DESTDIR=$(PKG)/root PREFIX=/usr
	test ! -e $(PKG)/root/usr/bin/proctor
	test -z "$$(find $(PKG)/root -type f)"

bench:
	@if [ -x bench/run ]; then bench/run $(BENCH_FLAGS); else echo "bench: no bench/run yet"; fi

# make check compares a fixed set of 300 streams; this one any seed and count,
# e.g. make differential SEED=7 COUNT=5000 (about 20 s a thousand streams).
SEED ?= 21
COUNT ?= 300
differential:
	PROCTOR_DIFF_SEED=$(SEED) PROCTOR_DIFF_COUNT=$(COUNT) $(CARGO) test --test it differential -- --nocapture

clean:
	$(CARGO) clean
