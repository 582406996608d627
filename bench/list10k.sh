#!/usr/bin/env bash
# list10k.sh — issue 17's large-list row: one 4 KiB post to a list of
# 10,000 members, seen from outside, with the ratio to the cryptographic
# lower bound measured in the same run:
#   - `sealpost serve`, one post over SMTP (curl): time to the 250 and to
#     all copies in the Maildir outbox, peak RSS of the server;
#   - `sealpost process`, the whole process to the outbox, peak RSS;
#   - in-process BenchmarkFanoutList10k (to the 250 / to the outbox).
#
#   bench/list10k.sh                   # 10,000 members, 3 posts each way
#   MEMBERS=1000 POSTS=5 bench/list10k.sh
#   WORK=/tmp/l10k bench/list10k.sh    # keep the list for the next run
#   INPROCESS=0 bench/list10k.sh       # skip the testing.B part (~1 min)
#
# Run time on a 2-core machine: setting up the list about 4 minutes (the
# keys by bench/keygen in seconds, then one `sealpost member add` each;
# skipped when WORK holds a list already), the posts about 1 minute per
# post and way, BenchmarkFanoutList10k about 1 minute.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

members=${MEMBERS:-10000}
posts=${POSTS:-3}
command -v gpg >/dev/null || { echo "list10k.sh: gpg is not installed" >&2; exit 1; }
command -v curl >/dev/null || { echo "list10k.sh: curl is not installed" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "list10k.sh: /usr/bin/time is not installed (apt-get install -y time)" >&2; exit 1; }

work=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}"/list10k.XXXXXX)}
mkdir -p "$work"
export GNUPGHOME_BENCH=$work/gnupg
cleanup() {
  [ -z "${server:-}" ] || kill "$server" 2>/dev/null || true
  gpgconf --homedir "$GNUPGHOME_BENCH" --kill all 2>/dev/null || true
  rm -rf "$work/delivered"
  [ -n "${WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
bin=${SEALPOST:-}
if [ -z "$bin" ]; then
  go build -o "$work/sealpost" ./cmd/sealpost
  bin=$work/sealpost
fi
data=$work/data
if [ ! -e "$work/members-$members" ]; then
  rm -rf "$data" "$GNUPGHOME_BENCH"
  start=$(date +%s)
  make_list "$bin" "$data" "$members"
  touch "$work/members-$members"
  echo "list of $members members set up in $(($(date +%s) - start)) s"
fi
body=$work/body.txt
head -c 3072 /dev/urandom | base64 -w 76 | sed 's/$/\r/' > "$body"

echo "== micro-benchmarks (internal/crypto/pgp) =="
micro_bench
print_lower_bound "$members"
lb=$(lower_bound_ns "$members")

outbox=$data/outbox/new
count() { find "$outbox" -maxdepth 1 -type f | wc -l; }
# Delivered copies are moved aside, not deleted, until the end: see
# "Deleting files" in lib.sh.
parked=0
clear_outbox() {
  parked=$((parked + 1))
  mkdir -p "$work/delivered"
  mv "$outbox" "$work/delivered/$parked"
  mkdir "$outbox"
}

echo
echo "== sealpost serve: one post over SMTP to $members members =="
port=${PORT:-$((20000 + RANDOM % 20000))}
clear_outbox
"$bin" --data "$data" serve --smtp "127.0.0.1:$port" 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
printf '%-6s %12s %14s\n' post "to 250 (s)" "to outbox (s)"
smtp250=() smtpout=()
for p in $(seq 1 "$posts"); do
  make_post "$work/post.eml" "$p" "$body"
  start=$(date +%s%N)
  curl -sS "smtp://127.0.0.1:$port" --mail-from "$SENDER" --mail-rcpt "$LIST" --upload-file "$work/post.eml"
  t250=$(($(date +%s%N) - start))
  while [ "$(count)" -lt "$members" ]; do sleep 0.05; done
  tout=$(($(date +%s%N) - start))
  awk -v p="$p" -v a="$t250" -v b="$tout" 'BEGIN {printf "%-6s %12.3f %14.3f\n", p, a/1e9, b/1e9}'
  smtp250+=("$t250") smtpout+=("$tout")
  clear_outbox
done
serve_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$server/status")
kill -TERM "$server"
wait "$server" || true
server=
m250=$(printf '%s\n' "${smtp250[@]}" | median)
mout=$(printf '%s\n' "${smtpout[@]}" | median)

echo
echo "== sealpost process: whole process, one post to $members members =="
printf '%-6s %10s %12s\n' post seconds "peak RSS"
procs=() rss=()
for p in $(seq 1 "$posts"); do
  make_post "$work/post.eml" "$((100 + p))" "$body"
  read -r secs kib < <(process_post "$bin" "$data" "$work/post.eml")
  printf '%-6s %10s %9s MiB\n' "$p" "$secs" "$((kib / 1024))"
  [ "$(count)" -eq "$members" ] || { echo "outbox has $(count) copies, want $members" >&2; exit 1; }
  procs+=("$secs") rss+=("$kib")
  clear_outbox
done
mproc=$(printf '%s\n' "${procs[@]}" | median)
mrss=$(printf '%s\n' "${rss[@]}" | median)

if [ "${INPROCESS:-1}" != 0 ]; then
  echo
  echo "== in-process: BenchmarkFanoutList10k (internal/app) =="
  out=$(go test -run '^$' -bench '^BenchmarkFanoutList10k$' -benchtime 1x -timeout 30m ./internal/app/ | grep '^Benchmark')
  echo "$out"
  inq=$(echo "$out" | awk '$1 ~ /until-queued/ {print $3}')
  inout=$(echo "$out" | awk '$1 ~ /outbox/ {print $3}')
fi

awk -v n="$members" -v lb="$lb" -v s250="$m250" -v sout="$mout" -v pr="$mproc" -v rss="$mrss" -v srss="$serve_kib" \
  -v iq="${inq:-}" -v io="${inout:-}" 'BEGIN {
  printf "\n== Result for one 4 KiB post to %d members (medians; lower bound %.1f ms) ==\n", n, lb/1e6
  printf "%-38s %10s %8s\n", "", "time", "ratio"
  if (iq != "") printf "%-38s %8.0f ms %7.1fx\n", "in-process, to the 250", iq/1e6, iq/lb
  if (io != "") printf "%-38s %8.0f ms %7.1fx\n", "in-process, to the outbox", io/1e6, io/lb
  printf "%-38s %8.0f ms %7.1fx\n", "serve, SMTP to the 250", s250/1e6, s250/lb
  printf "%-38s %8.0f ms %7.1fx   peak RSS %d MiB (serve, all posts)\n", "serve, SMTP to all copies in the outbox", sout/1e6, sout/lb, srss/1024
  printf "%-38s %8.0f ms %7.1fx   peak RSS %d MiB\n", "process, whole", pr*1e3, pr*1e9/lb, rss/1024
}'
