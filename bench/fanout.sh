#!/usr/bin/env bash
# fanout.sh — what one post to N members costs in Sealpost, next to the same
# work done the way Schleuder and RT::Crypt do it: one gpg process per step.
#
#   bench/fanout.sh            # N=100 members, 4 KiB body
#   MEMBERS=10 bench/fanout.sh
#
# Sealpost is measured by BenchmarkFanout and BenchmarkFanoutSMIME
# (internal/app): spool, decrypt, verify, policy, sign once, encrypt per
# member, durable commit and delivery of every copy into the Maildir outbox. The gpg baseline runs, in the same
# session on the same machine, one `gpg --decrypt` of the post and then one
# `gpg --sign --encrypt` per member, as a gpg-per-step list server does.
#
# Then the ratio column of issue 17's table: each measured time divided by
# the cryptographic lower bound of one post to 100 members, computed from
# the micro-benchmarks BenchmarkDecryptVerify, BenchmarkSignOnce and
# BenchmarkEncryptTo (internal/crypto/pgp) of the same run:
# decrypt+verify once + sign once + encrypt × 100 / cores. Measured are
# BenchmarkFanout (in-process, to the 250 and to the outbox),
# BenchmarkSMTPFanout (over SMTP to `serve`: to the 250, to the outbox)
# and, unless PROCESS=0, bench/process.sh (the whole `sealpost process`).
# The rows that end in the outbox are also divided by that bound plus what
# the file system alone charges for 100 copies (BenchmarkDeliverAll,
# internal/maildir: create, write, fsync and name 100 files of 4 KiB, no
# cryptography), the floor no code above the file system can go below
# while each copy is its own fsynced file (DESIGN §3).
#
# Post-quantum rows: BenchmarkFanout/members=100/pq is the same post on a
# --key-algo pq list whose members have RFC 9980 ML-KEM-768+X25519
# subkeys (the post to the list's ML-KEM subkey, each copy to the
# member's), and BenchmarkEncryptTo/pq one copy to such a key; the last
# table sets them beside Cv25519, per recipient and in bytes per copy.
#
# Run time on a 2-core machine: about 3 minutes (1 of them process.sh's
# 100 gpg keys).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

members=${MEMBERS:-100}
command -v gpg >/dev/null || { echo "fanout.sh: gpg is not installed (apt-get install -y gnupg)" >&2; exit 1; }

echo "== Sealpost: one post to 100 members (and 10), 4 KiB body =="
echo "   BenchmarkFanout: OpenPGP, Ed25519/Cv25519 keys (members=100/pq: a --key-algo pq list, members with ML-KEM-768+X25519 subkeys);"
echo "   BenchmarkFanoutSMIME: S/MIME, RSA-2048, P-256 or ML-KEM-768 certificates"
out=$(go test -run '^$' -bench '^Benchmark(Fanout|FanoutSMIME|SMTPFanout)$' -benchtime 20x -count 3 ./internal/app/ | grep '^Benchmark')
echo "$out"
# Median ns/op of three runs.
bmedian() { echo "$out" | awk -v pat="$1" '$1 ~ pat {print $3}' | sort -n | sed -n 2p; }
ns=$(bmedian '^BenchmarkFanout/members=100-')
pq=$(bmedian '^BenchmarkFanout/members=100/pq-')
smime_rsa=$(bmedian '^BenchmarkFanoutSMIME/members=100/rsa2048-')
smime_p256=$(bmedian '^BenchmarkFanoutSMIME/members=100/p256-')
queued=$(bmedian '^BenchmarkFanout/members=100/until-queued-')
# BenchmarkSMTPFanout's metrics: ms to the 250 and ms to the outbox.
metric() { echo "$out" | awk -v pat="$1" -v unit="$2" '$1 ~ pat {for (i = 3; i < NF; i++) if ($(i+1) == unit) print $i}' | sort -n | sed -n 2p; }
smtp250=$(metric '^BenchmarkSMTPFanout-' ms-to-250)
smtpout=$(metric '^BenchmarkSMTPFanout-' ms-to-outbox)
bytes=$(metric '^BenchmarkFanout/members=100-' bytes/copy)
pq_bytes=$(metric '^BenchmarkFanout/members=100/pq-' bytes/copy)

echo
echo "== micro-benchmarks: the cryptographic lower bound =="
micro_bench
print_lower_bound 100
lb=$(lower_bound_ns 100)
files_out=$(go test -run '^$' -bench '^BenchmarkDeliverAll/files=100$' -count 5 ./internal/maildir/ | grep '^Benchmark')
echo "$files_out"
files_ns=$(echo "$files_out" | awk '{print $3}' | median)
printf 'the outbox'"'"'s 100 files alone (BenchmarkDeliverAll, median): %.1f ms\n' "$(awk -v f="$files_ns" 'BEGIN {print f/1e6}')"

proc=
if [ "${PROCESS:-1}" != 0 ]; then
  echo
  echo "== bench/process.sh: the whole \`sealpost process\`, 100 members =="
  pout=$(MEMBERS=100 POSTS=${POSTS:-5} bench/process.sh)
  echo "$pout"
  proc=$(echo "$pout" | awk '$1 ~ /^[0-9]+$/ {print $2}' | median)
fi

echo
echo "== gpg, one process per step, $members members =="
home=$(mktemp -d "${TMPDIR:-/tmp}"/fanout-gpg.XXXXXX)
trap 'gpgconf --homedir "$home" --kill all 2>/dev/null || true; rm -rf "$home"' EXIT
g() { gpg --homedir "$home" --batch --yes --no-tty --pinentry-mode loopback --passphrase '' --trust-model always "$@"; }
g --quick-generate-key "List <list@lists.example.org>" future-default default never 2>/dev/null
for i in $(seq 1 "$members"); do
  g --quick-generate-key "m$i <m$i@example.org>" future-default default never 2>/dev/null
done
body=$(mktemp "$home/body.XXXX")
{ printf 'Content-Type: text/plain\r\nTo: list@lists.example.org\r\n\r\n'; head -c 3072 /dev/urandom | base64 -w 76; } > "$body"
g -u m1@example.org -r list@lists.example.org --sign --encrypt -o "$body.post" "$body" 2>/dev/null

start=$(date +%s%N)
g -o "$body.plain" --decrypt "$body.post" 2>/dev/null
for i in $(seq 1 "$members"); do
  g -u list@lists.example.org -r "m$i@example.org" --sign --encrypt -o "$body.out" "$body.plain" 2>/dev/null
done
end=$(date +%s%N)
gpg_ns=$((end - start))
# S/MIME members with ML-KEM-768 certificates (issue 21): a KEMRecipientInfo per copy.
smime_kem=$(bmedian '^BenchmarkFanoutSMIME/members=100/mlkem768-')

awk -v s="$ns" -v g="$gpg_ns" -v n="$members" -v sr="$smime_rsa" -v sp="$smime_p256" -v pq="$pq" -v k="$smime_kem" 'BEGIN {
  printf "\n== Result for one post to %d members ==\n", n
  printf "Sealpost, OpenPGP:           %8.1f ms per post   %6.0f µs per recipient   %7.1f posts/s\n", s/1e6, s/1e3/n, 1e9/s
  printf "Sealpost, OpenPGP PQ:        %8.1f ms per post   %6.0f µs per recipient   %7.1f posts/s\n", pq/1e6, pq/1e3/100, 1e9/pq
  printf "Sealpost, S/MIME RSA-2048:   %8.1f ms per post   %6.0f µs per recipient   %7.1f posts/s\n", sr/1e6, sr/1e3/100, 1e9/sr
  printf "Sealpost, S/MIME P-256:      %8.1f ms per post   %6.0f µs per recipient   %7.1f posts/s\n", sp/1e6, sp/1e3/100, 1e9/sp
  printf "Sealpost, S/MIME ML-KEM-768: %8.1f ms per post   %6.0f µs per recipient   %7.1f posts/s\n", k/1e6, k/1e3/100, 1e9/k
  printf "gpg, one process per step:   %8.1f ms per post   %6.0f µs per recipient   %7.1f posts/s\n", g/1e6, g/1e3/n, 1e9/g
  printf "Sealpost (OpenPGP) needs %.2f%% of the gpg-per-step time (%.0fx faster),\n", 100*s/g, g/s
  printf "and %.2f%% of the ~18 s Schleuder 4.0.3 needs for one post to 100 subscribers.\n", 100*s/18e9
}'
awk -v lb="$lb" -v fl="$files_ns" -v q="$queued" -v o="$ns" -v s250="$smtp250" -v sout="$smtpout" -v p="$proc" -v g="$gpg_ns" -v n="$members" \
  -v dv="$DV_NS" -v sg="$SIGN_NS" -v e="$ENC_NS" -v c="$CORES" 'BEGIN {
  printf "\n== Ratio to the cryptographic lower bound, one 4 KiB post to 100 members (%.1f ms) ==\n", lb/1e6
  printf "   and, for the rows that end in the outbox, to that bound plus the 100 files alone (%.1f ms)\n", (lb+fl)/1e6
  printf "%-40s %10s %8s %10s\n", "", "time", "ratio", "+files"
  printf "%-40s %7.1f ms %7.1fx\n", "in-process, to the 250 (until-queued)", q/1e6, q/lb
  printf "%-40s %7.1f ms %7.1fx %9.1fx\n", "in-process, to the outbox", o/1e6, o/lb, o/(lb+fl)
  printf "%-40s %7.1f ms %7.1fx\n", "SMTP to serve, to the 250", s250, s250*1e6/lb
  printf "%-40s %7.1f ms %7.1fx %9.1fx\n", "SMTP to serve, to the outbox", sout, sout*1e6/lb, sout*1e6/(lb+fl)
  if (p != "") printf "%-40s %7.1f ms %7.1fx %9.1fx\n", "sealpost process, whole", p*1e3, p*1e9/lb, p*1e9/(lb+fl)
  # The gpg baseline against the lower bound for its own member count (MEMBERS).
  printf "%-40s %7.1f ms %7.1fx\n", sprintf("gpg per step, %d members", n), g/1e6, g/(dv + sg + e*n/c)
}'
awk -v e="$ENC_NS" -v ep="$ENC_PQ_NS" -v eb="$ENC_BYTES" -v epb="$ENC_PQ_BYTES" -v s="$ns" -v pq="$pq" -v b="$bytes" -v pb="$pq_bytes" 'BEGIN {
  printf "\n== Post-quantum (RFC 9980 ML-KEM-768+X25519) next to Cv25519, per recipient ==\n"
  printf "%-44s %12s %12s %8s\n", "", "Cv25519", "ML-KEM-768", "ratio"
  printf "%-44s %9.0f µs %9.0f µs %7.2fx\n", "encrypt one copy (BenchmarkEncryptTo)", e/1e3, ep/1e3, ep/e
  printf "%-44s %9.0f µs %9.0f µs %7.2fx\n", "one post to 100, per member (BenchmarkFanout)", s/1e3/100, pq/1e3/100, pq/s
  printf "%-44s %10.0f B %10.0f B %+7.0f B\n", "one encrypted copy (BenchmarkEncryptTo)", eb, epb, epb-eb
  printf "%-44s %10.0f B %10.0f B %+7.0f B\n", "one copy in the outbox (BenchmarkFanout)", b, pb, pb-b
}'
