#!/usr/bin/env bash
# process.sh — what an MTA's pipe sees: the whole `sealpost process` of one
# post to a list of N members (default 100), start to exit, with delivery
# into the Maildir outbox, and the process's peak memory (RSS).
#
#   bench/process.sh            # 100 members, 4 KiB body, 5 posts
#   MEMBERS=10 POSTS=10 bench/process.sh
#   SEALPOST=/path/to/other/sealpost bench/process.sh   # another build, same members
#   PQ=1 bench/process.sh       # post-quantum: a --key-algo pq list, members with ML-KEM subkeys
#
# The members' keys and the posts are made by gpg (Ed25519/Cv25519), like
# bench/fanout.sh's baseline; each post is a new message (the same bytes
# again would be answered as a retry, without the work). With PQ=1 the
# list has a --key-algo pq key and every member but the poster (m1, whose
# key gpg makes, to sign the posts) has a key with an RFC 9980
# ML-KEM-768+X25519 subkey, made by bench/keygen (GnuPG 2.2 makes none),
# so that their copies are encrypted with ML-KEM.
set -euo pipefail
cd "$(dirname "$0")/.."

members=${MEMBERS:-100}
posts=${POSTS:-5}
algo=ed25519
[ "${PQ:-0}" = 1 ] && algo=pq
command -v gpg >/dev/null || { echo "process.sh: gpg is not installed (apt-get install -y gnupg)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "process.sh: /usr/bin/time is not installed (apt-get install -y time)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}"/process-bench.XXXXXX)
trap 'gpgconf --homedir "$work/gnupg" --kill all 2>/dev/null || true; rm -rf "$work"' EXIT
bin=${SEALPOST:-}
if [ -z "$bin" ]; then
  go build -o "$work/sealpost" ./cmd/sealpost
  bin=$work/sealpost
fi
data=$work/data
list=team@lists.example.org
mkdir -m 700 "$work/gnupg"
g() { gpg --homedir "$work/gnupg" --batch --yes --no-tty --pinentry-mode loopback --passphrase '' --trust-model always "$@"; }

"$bin" --data "$data" list create "$list" --owner owner@example.org --key-algo "$algo" >/dev/null
"$bin" --data "$data" list key "$list" | g --import 2>/dev/null
gpg_members=$members
if [ "$algo" = pq ]; then
  gpg_members=1
  go run ./bench/keygen -n "$((members - 1))" -per 1 -algo pq -out "$work/pqkeys" 2>/dev/null
  for f in "$work"/pqkeys/*.pgp; do
    n=$((10#$(basename "$f" .pgp | sed 's/keys-//')))
    "$bin" --data "$data" member add "$list" "$(printf 'user-%07d@bench.example' "$n")" --key "$f" --no-welcome >/dev/null
  done
fi
for i in $(seq 1 "$gpg_members"); do
  g --quick-generate-key "m$i <m$i@example.org>" future-default default never 2>/dev/null
  g --export "m$i@example.org" > "$work/m$i.pgp"
  "$bin" --data "$data" member add "$list" "m$i@example.org" --key "$work/m$i.pgp" --no-welcome >/dev/null
done
body=$(head -c 3072 /dev/urandom | base64 -w 76)
printf '%-8s %10s %12s\n' post seconds "peak RSS"
for p in $(seq 1 "$posts"); do
  inner=$(printf 'Content-Type: text/plain\r\nFrom: m1@example.org\r\nTo: %s\r\nSubject: post %d\r\n\r\n%s\r\n' "$list" "$p" "$body")
  armored=$(printf '%s' "$inner" | g -u m1@example.org -r "$list" --armor --sign --encrypt 2>/dev/null)
  {
    printf 'From: m1@example.org\r\nTo: %s\r\nSubject: ...\r\nMessage-ID: <bench-%d@example.org>\r\nMIME-Version: 1.0\r\n' "$list" "$p"
    printf 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"\r\n\r\n'
    printf -- '--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n'
    printf '%s\r\n--b--\r\n' "$armored"
  } > "$work/post.eml"
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" --data "$data" process "$list" --sender m1@example.org < "$work/post.eml" >/dev/null
  read -r secs kib < "$work/time"
  printf '%-8s %10s %9s MiB\n' "$p" "$secs" "$((kib / 1024))"
done
echo "copies in the outbox: $(ls "$data/outbox/new" | wc -l) (want $((members * posts)))"
