#!/usr/bin/env bash
# large.sh — issue 17's large-post rows, seen from outside: the whole
# `sealpost process` of one large post, start to exit, with delivery into
# the Maildir outbox, its time and peak RSS (/usr/bin/time), and what the
# data directory holds afterwards (database and outbox, apart).
#   - a 25 MB post (18.2 MB of random text, base64, signed, encrypted
#     and armoured by gpg) to 10 and to 100 members;
#   - a post that gpg compresses to about 160 KB and that inflates to
#     30 MB, to 40 members (the compression-bomb row).
#
#   bench/large.sh                      # all three rows, one post each
#   SIZES="10 100" BOMB=0 bench/large.sh
#   SIZE=5000000 bench/large.sh         # a smaller post (bytes of text; the post is ~1.37 times that)
#
# Run time on a 2-core machine with the code of issue 17's "now" column:
# about 15 s + 3 min for the 25 MB post to 10 and 100 members and about
# 3 min for the bomb; with the issue's targets, well under a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

sizes=${SIZES:-10 100}
size=${SIZE:-18200000}
command -v gpg >/dev/null || { echo "large.sh: gpg is not installed" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "large.sh: /usr/bin/time is not installed (apt-get install -y time)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}"/large-bench.XXXXXX)
trap 'for h in "$work"/gnupg-*; do gpgconf --homedir "$h" --kill all 2>/dev/null || true; done; rm -rf "$work"' EXIT
bin=${SEALPOST:-}
if [ -z "$bin" ]; then
  go build -o "$work/sealpost" ./cmd/sealpost
  bin=$work/sealpost
fi

# run ID NAME MEMBERS BODY: one post with the text in the file BODY to a
# new list of MEMBERS members through `sealpost process`.
run() {
  local id=$1 name=$2 members=$3 body=$4 data=$work/data-$1 post=$work/post-$1.eml
  export GNUPGHOME_BENCH=$work/gnupg-$id
  make_list "$bin" "$data" "$members"
  make_post "$post" 1 "$body"
  local post_bytes db_before
  post_bytes=$(stat -c %s "$post")
  db_before=$(du -sb "$data" --exclude outbox | cut -f1)
  read -r secs kib < <(process_post "$bin" "$data" "$post")
  local copies db outbox
  copies=$(find "$data/outbox/new" -type f | wc -l)
  db=$(( $(du -sb "$data" --exclude outbox | cut -f1) - db_before ))
  outbox=$(du -sb "$data/outbox" | cut -f1)
  printf '%-20s %7s %9.1f MB %8d %9.1f s %8d MiB %9.1f MB %9.1f MB\n' "$name" "$members" "$(awk -v b="$post_bytes" 'BEGIN {print b/1e6}')" \
    "$copies" "$secs" "$((kib / 1024))" "$(awk -v b="$db" 'BEGIN {print b/1e6}')" "$(awk -v b="$outbox" 'BEGIN {print b/1e6}')"
  [ "$copies" -eq "$members" ] || echo "  (want $members copies in the outbox; see $data)" >&2
  gpgconf --homedir "$GNUPGHOME_BENCH" --kill all 2>/dev/null || true
  rm -rf "$data" "$post" "$post.time"
}

# SIZE bytes of random text in CRLF lines of 76 characters (57 bytes each).
head -c $((size / 78 * 57)) /dev/urandom | base64 -w 76 | sed 's/$/\r/' > "$work/large.txt"
printf '%-20s %7s %12s %8s %11s %12s %12s %12s\n' post members "post size" copies time "peak RSS" "data growth" outbox
for n in $sizes; do
  run "large-$n" "$((size / 1000000)) MB text" "$n" "$work/large.txt"
done

if [ "${BOMB:-1}" != 0 ]; then
  # 30 MB of numbered 4 KiB blocks: deflate's 32 KiB window finds the
  # repetition. gpg compresses with ZLIB (RFC 9580 §5.6).
  block=$(head -c 3000 /dev/urandom | base64 -w 76 | sed 's/$/\r/')
  awk -v b="$block" 'BEGIN {for (i = 0; i < 7300; i++) printf "block %d\r\n%s\r\n", i, b}' > "$work/bomb.txt"
  GPG_COMPRESS="--compress-algo zlib" run bomb "inflates to $(($(stat -c %s "$work/bomb.txt") / 1000000)) MB" 40 "$work/bomb.txt"
fi
echo "(data growth: the data directory without the outbox, after the post less before it)"
