# Developer shortcuts. The tests themselves are `go test ./...` (see README).

FUZZTIME ?= 60s
# How long each minimisation may run. The default 60s of `go test` makes a
# target that finds new inputs often (FuzzVerify) spend its whole
# FUZZTIME minimising them; 0 turns minimisation off. To minimise a
# crasher, rerun its target alone with e.g. FUZZMINIMIZETIME=60s.
FUZZMINIMIZETIME ?= 0

# The packages whose tests define a fuzz target; `go test -list` then names
# every target in them, so a new one is fuzzed without being listed here.
FUZZ_PACKAGES = $(shell grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '/testdata/' | xargs -n1 dirname | sort -u)

.PHONY: test fuzz fuzz-list bench

test:
	go test ./...

# Print every fuzz target as package:Target.
fuzz-list:
	@set -e; for pkg in $(FUZZ_PACKAGES); do \
		names=$$(go test -list '^Fuzz' $$pkg); \
		for name in $$names; do case $$name in Fuzz*) echo "$$pkg:$$name";; esac; done; \
	done

# Run each fuzz target for FUZZTIME (default 60s); stops at the first crash.
fuzz:
	@set -e; targets=$$($(MAKE) -s --no-print-directory fuzz-list); \
	for t in $$targets; do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg) for $(FUZZTIME)"; \
		go test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) $$pkg; \
	done

bench:
	bench/fanout.sh
