# lib.sh — shared by the bench scripts (source it; not a command).
#
# Every script keeps its data directory, and the Go benchmarks their
# temporary directories, under $TMPDIR (default /tmp). Writing the outbox
# costs what creating and syncing files costs on that file system.
#
# Deleting files. On ext4 without a journal (the CI machine's root file
# system: /proc/fs/jbd2 is empty), allocating an inode skips every inode
# of its group freed in the last 60 s, or 360 s while the freed inode's
# table block is not yet written back, and the scan costs more the more
# were freed (recently_deleted() in the kernel's fs/ext4/ialloc.c). After a run deleted
# 8,000 files, creating and syncing one took 0.45-1.1 ms of CPU instead
# of 0.16 ms; a 10,000-member post after the previous post's copies were
# deleted scanned them all for every copy. So the scripts and the Go
# benchmarks (internal/app/benchdir_test.go) move delivered copies aside
# and delete them only at the end, and two benchmark runs minutes apart
# can still differ when something else deleted many files in between. A
# journalled ext4, XFS or tmpfs has no such scan.
#
#   micro_bench              sets DV_NS, SIGN_NS, ENC_NS: median ns/op of
#                            BenchmarkDecryptVerify, BenchmarkSignOnce and
#                            BenchmarkEncryptTo/cv25519 (internal/crypto/pgp);
#                            ENC_PQ_NS, ENC_BYTES and ENC_PQ_BYTES: the
#                            ns/op of BenchmarkEncryptTo/pq (a copy to an
#                            RFC 9980 ML-KEM-768+X25519 subkey) and the
#                            size of one copy of each
#   lower_bound_ns N         the cryptographic lower bound of one post to N
#                            members: decrypt+verify once + sign once +
#                            encrypt per member × N / cores
#   make_list BIN DATA N     a list team@lists.example.org of N members in
#                            DATA: member 1's key made by gpg (it signs the
#                            posts), the others by bench/keygen (seconds
#                            for 10,000; gpg would take an hour)
#   make_post FILE I BODY    post number I from member 1 with the text in
#                            the file BODY, signed and encrypted by gpg
#                            (with the options in GPG_COMPRESS, if set)
#
# Needs: go, gpg, and for make_list/make_post the variable GNUPGHOME_BENCH
# (a gpg home directory the caller removes).

LIST=team@lists.example.org
SENDER=m1@example.org
CORES=${CORES:-$(nproc)}

# median of numbers on stdin.
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }

micro_bench() {
  local out
  out=$(go test -run '^$' -bench '^Benchmark(DecryptVerify|SignOnce|EncryptTo)$' -count 5 ./internal/crypto/pgp/ | grep '^Benchmark')
  echo "$out"
  DV_NS=$(echo "$out" | awk '$1 ~ /^BenchmarkDecryptVerify-/ {print $3}' | median)
  SIGN_NS=$(echo "$out" | awk '$1 ~ /^BenchmarkSignOnce-/ {print $3}' | median)
  ENC_NS=$(echo "$out" | awk '$1 ~ /^BenchmarkEncryptTo\/cv25519-/ {print $3}' | median)
  ENC_PQ_NS=$(echo "$out" | awk '$1 ~ /^BenchmarkEncryptTo\/pq-/ {print $3}' | median)
  ENC_BYTES=$(echo "$out" | awk '$1 ~ /^BenchmarkEncryptTo\/cv25519-/ {for (i = 3; i < NF; i++) if ($(i+1) == "bytes/copy") print $i}' | median)
  ENC_PQ_BYTES=$(echo "$out" | awk '$1 ~ /^BenchmarkEncryptTo\/pq-/ {for (i = 3; i < NF; i++) if ($(i+1) == "bytes/copy") print $i}' | median)
}

lower_bound_ns() {
  awk -v n="$1" -v dv="$DV_NS" -v s="$SIGN_NS" -v e="$ENC_NS" -v c="$CORES" 'BEGIN {printf "%.0f", dv + s + e*n/c}'
}

print_lower_bound() {
  awk -v n="$1" -v dv="$DV_NS" -v s="$SIGN_NS" -v e="$ENC_NS" -v c="$CORES" -v lb="$(lower_bound_ns "$1")" 'BEGIN {
    printf "lower bound for %d members: decrypt+verify %.3f ms + sign %.3f ms + encrypt %.3f ms × %d / %d cores = %.1f ms\n",
      n, dv/1e6, s/1e6, e/1e6, n, c, lb/1e6 }'
}

gb() { gpg --homedir "$GNUPGHOME_BENCH" --batch --yes --no-tty --pinentry-mode loopback --passphrase '' --trust-model always "$@"; }

make_list() {
  local bin=$1 data=$2 n=$3 keys
  mkdir -p -m 700 "$GNUPGHOME_BENCH"
  "$bin" --data "$data" list create "$LIST" --owner owner@example.org >/dev/null
  "$bin" --data "$data" list key "$LIST" | gb --import 2>/dev/null
  gb --quick-generate-key "m1 <$SENDER>" future-default default never 2>/dev/null
  gb --export "$SENDER" | "$bin" --data "$data" member add "$LIST" "$SENDER" --key - >/dev/null
  [ "$n" -gt 1 ] || return 0
  keys=$data/../member-keys
  go run ./bench/keygen -n $((n - 1)) -per 1 -out "$keys" 2>/dev/null
  # One `member add` per key, as an administrator would, on every core.
  seq 0 $((n - 2)) | xargs -P "$CORES" -I{} sh -c '
    k=$(printf %07d {})
    "$1" --data "$2" member add "$3" "user-$k@bench.example" --key "$4/keys-$k.pgp" >/dev/null' _ "$bin" "$data" "$LIST" "$keys"
  # The key files stay until the caller removes its work directory:
  # deleting 10,000 files now would slow the outbox that follows (see
  # "Deleting files" above).
}

make_post() {
  local file=$1 i=$2 body=$3
  { printf 'Content-Type: text/plain\r\nFrom: %s\r\nTo: %s\r\nSubject: post %d\r\n\r\n' "$SENDER" "$LIST" "$i"; cat "$body"; } |
    gb ${GPG_COMPRESS:-} -u "$SENDER" -r "$LIST" --armor --sign --encrypt -o "$file.asc" 2>/dev/null
  {
    printf 'From: %s\r\nTo: %s\r\nSubject: ...\r\nMessage-ID: <bench-%d-%s@example.org>\r\nMIME-Version: 1.0\r\n' "$SENDER" "$LIST" "$i" "$RANDOM$RANDOM"
    printf 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"\r\n\r\n'
    printf -- '--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n'
    cat "$file.asc"
    printf '\r\n--b--\r\n'
  } > "$file"
  rm -f "$file.asc"
}

# process_post BIN DATA FILE: runs `sealpost process` on FILE and prints
# "seconds peak-RSS-KiB".
process_post() {
  /usr/bin/time -f '%e %M' -o "$3.time" "$1" --data "$2" process "$LIST" --sender "$SENDER" < "$3" >/dev/null
  cat "$3.time"
}
