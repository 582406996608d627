#!/usr/bin/env bash
# cluster.sh — posts per second to a 100-member list through 1, 2 and 3
# `sealpost serve` nodes on one PostgreSQL database, and through one node
# on SQLite, in the same run (BenchmarkCluster in cmd/sealpost: posts over
# SMTP, each timed until its 100 copies reached the nodes' relays).
#
#   bench/cluster.sh            POSTS=50 posts per configuration, COUNT=1 run
#
# PostgreSQL is a private server the benchmark starts (internal/pgtest:
# Debian's postgresql must be installed; no system cluster is used). On
# one machine the nodes, the database and the senders share its cores, so
# more nodes add no cores: read the rows as what the shared database costs
# a node (the postgres/nodes=1 row against the sqlite row), not as how a
# cluster of machines scales. The CPU columns say where the work was done:
# in the nodes (sealpost serve) or in the PostgreSQL server, per post.
set -euo pipefail
cd "$(dirname "$0")/.."
POSTS=${POSTS:-50}
COUNT=${COUNT:-1}

out=$(REQUIRE_INTEROP=1 go test -run '^$' -bench '^BenchmarkCluster$' -benchtime "${POSTS}x" -count "$COUNT" -timeout 60m ./cmd/sealpost | grep '^BenchmarkCluster')
echo "$out"
echo
# metric CFG UNIT: the median over the runs of CFG of the value before UNIT.
metric() {
  echo "$out" | awk -v c="BenchmarkCluster/$1-" -v u="$2" 'index($1, c) == 1 {for (i = 2; i <= NF; i++) if ($i == u) print $(i-1)}' |
    sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'
}
echo "configuration                 ms/post  posts/s   CPU ms/post: nodes  database  (database's share)"
for cfg in engine=sqlite/nodes=1 engine=postgres/nodes=1 engine=postgres/nodes=2 engine=postgres/nodes=3; do
  ms=$(metric "$cfg" ms/post)
  node=$(metric "$cfg" node-cpu-ms/post)
  db=$(metric "$cfg" db-cpu-ms/post)
  share=$(awk -v n="$node" -v d="$db" 'BEGIN {printf "%.0f%%", (n + d > 0) ? 100 * d / (n + d) : 0}')
  printf "%-29s %7s  %7.1f   %18s  %8s  (%s)\n" "$cfg" "$ms" "$(awk -v m="$ms" 'BEGIN {print (m > 0) ? 1000/m : 0}')" "$node" "$db" "$share"
  case $cfg in
    engine=sqlite/nodes=1) sqlite=$ms ;;
    engine=postgres/nodes=1) pg=$ms ;;
  esac
done
echo "(SQLite runs in the node: its database work is in the nodes' column.)"
awk -v s="$sqlite" -v p="$pg" 'BEGIN { if (s > 0) printf "\nPostgreSQL / SQLite, one node: %.2f× the time per post (goal: at most 1.5×)\n", p/s }'
