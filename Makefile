# Developer shortcuts. The tests themselves are `go test ./...` (see README).

FUZZTIME ?= 60s

# Every fuzz target, as package:Target.
FUZZ_TARGETS = \
	./internal/mime:FuzzParse \
	./internal/crypto/pgp:FuzzUnwrap \
	./internal/crypto/pgp:FuzzUnwrapInline \
	./internal/crypto/smime:FuzzBERToDER \
	./internal/crypto/smime:FuzzDecrypt \
	./internal/crypto/smime:FuzzVerify \
	./internal/crypto/smime:FuzzP12Decode \
	./internal/mail:FuzzParseAutocrypt \
	./internal/smtpserver:FuzzCheckAddress \
	./internal/smtpserver:FuzzSession \
	./internal/app:FuzzParseConfig

.PHONY: test fuzz bench

test:
	go test ./...

# Run each fuzz target for FUZZTIME (default 60s); stops at the first crash.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg) for $(FUZZTIME)"; \
		go test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

bench:
	bench/fanout.sh
