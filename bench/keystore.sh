#!/usr/bin/env bash
# keystore.sh — the keyring at scale: import KEYS OpenPGP keys (default
# 1,000,000) through `sealpost key import`, then time lookups by address,
# fingerprint and key ID in the filled keyring (BenchmarkKeyLookup).
#
#   bench/keystore.sh              # 1,000,000 keys (about 1.5 GB of disk, some minutes)
#   KEYS=100000 bench/keystore.sh
#
# The keys are v4 Ed25519/Cv25519 public keys with one user ID each,
# written by bench/keygen as `gpg --export` writes them (binary,
# concatenated, 100,000 per file). The import parses, filters (third-party
# certifications, caps), verifies and indexes each key, like any import.
set -euo pipefail
cd "$(dirname "$0")/.."

keys=${KEYS:-1000000}
work=${WORK:-$(mktemp -d)}
echo "== keystore: $keys keys in $work =="

go build -o "$work/sealpost" ./cmd/sealpost
start=$(date +%s.%N)
go run ./bench/keygen -n "$keys" -out "$work/keys" 2>/dev/null
echo "generated $keys keys in $(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.0f') s"

start=$(date +%s.%N)
"$work/sealpost" --data "$work/data" key import -q "$work"/keys/*.pgp | tail -1
secs=$(echo "$(date +%s.%N) - $start" | bc)
printf 'imported in %.0f s: %.0f keys/s\n' "$secs" "$(echo "$keys / $secs" | bc -l)"
du -sh "$work/data" | awk '{print "data directory: " $1}'

echo
echo "== lookups in a keyring of $keys keys =="
SEALPOST_KEYSTORE_DB="$work/data/sealpost.db" go test -run '^$' -bench KeyLookup -benchtime 20000x ./internal/store/sqlstore/ | grep -E '^Benchmark'
echo
echo "== one lookup through the command line (process start included) =="
addr=user-$(printf '%07d' $((keys / 2)))@bench.example
start=$(date +%s.%N)
shown=$("$work/sealpost" --data "$work/data" key show "$addr")
echo "${shown%%$'\n'*}"
printf 'sealpost key show %s: %.0f ms\n' "$addr" "$(echo "($(date +%s.%N) - $start) * 1000" | bc)"
[ -n "${WORK:-}" ] || rm -rf "$work"
