#!/usr/bin/env bash
# bench-http.sh: the end-to-end figures of docs/benchmarks.md, in one run on this machine:
#   1. generate the benchmark city (50,000 cells, 1,000,000 components, 100,000 query points);
#   2. import it into a fresh embedded store with the real CLI (timed per kind);
#   3. start `citygrid serve` on that store (time to /readyz = start-up with 1 M components);
#   4. single-point GET /api/v1/lookup throughput at 2 connections with wrk (p50/p99);
#   5. the same points against PostGIS ST_Contains + GiST through pgbench at 2 clients,
#      when a PostgreSQL server with PostGIS answers (CITYGRID_TEST_PG).
# Usage: scripts/bench-http.sh [DURATION_SECONDS]   (env: BENCH_DIR, RUNS, CELLS, COMPONENTS)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
RUNS=${RUNS:-3}
CELLS=${CELLS:-50000}
COMPONENTS=${COMPONENTS:-1000000}
DIR=${BENCH_DIR:-.cache/bench}
PG=${CITYGRID_TEST_PG:-postgres://postgres@127.0.0.1:5432/postgres}
mkdir -p "$DIR"
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y wrk >/dev/null; }

go build -o bin/citygrid ./cmd/citygrid
BIN=bin/citygrid
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

echo "== machine: $(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//'), $(go version | cut -d' ' -f3)"
if [ ! -f "$DIR/fx/components.csv" ] || [ ! -f "$DIR/fx/points.csv" ]; then
  t0=$(now)
  $BIN fixtures -out "$DIR/fx" -cells "$CELLS" -components "$COMPONENTS" -points 100000
  echo "fixtures generated in $(secs "$t0" "$(now)") s"
fi
rm -f "$DIR/bench.db"
for kind in cells units rules; do
  f=$DIR/fx/$kind.geojson; [ -f "$f" ] || f=$DIR/fx/$kind.json
  t0=$(now); $BIN import -db "$DIR/bench.db" -kind "$kind" "$f" >/dev/null
  echo "import $kind: $(secs "$t0" "$(now)") s"
done
t0=$(now); $BIN import -db "$DIR/bench.db" -kind components "$DIR/fx/components.csv" >/dev/null
echo "RESULT import_components_s=$(secs "$t0" "$(now)") (target <= 11 s; PostGIS COPY + GiST reference 5.5 s)"
ls -l "$DIR/bench.db" | awk '{printf "store file: %.0f MiB\n", $5/1048576}'

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
t0=$(now)
$BIN serve -db "$DIR/bench.db" -addr "127.0.0.1:$PORT" 2>"$DIR/serve.log" &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.05; kill -0 $SERVE; done
echo "RESULT startup_to_ready_s=$(secs "$t0" "$(now)") (target <= 5 s)"
grep -o 'heap[^ ]*' "$DIR/serve.log" | head -3 || true

for i in $(seq "$RUNS"); do
  POINTS="$DIR/fx/points.csv" wrk -t2 -c2 -d"${DUR}s" -s scripts/lookup.lua "http://127.0.0.1:$PORT" | grep RESULT | sed 's/^RESULT/RESULT citygrid_lookup_c2/'
done
kill $SERVE; wait $SERVE 2>/dev/null || true; trap - EXIT

if psql "$PG" -Atqc 'select 1' >/dev/null 2>&1; then
  DB=citygrid_bench_$$
  psql "$PG" -qc "create database $DB" >/dev/null
  PGDB=${PG%/*}/$DB
  trap 'psql "$PG" -qc "drop database if exists $DB with (force)" >/dev/null' EXIT
  psql "$PGDB" -qc 'create extension if not exists postgis' >/dev/null
  python3 scripts/geojson2csv.py "$DIR/fx/cells.geojson" > "$DIR/cells.csv"
  psql "$PGDB" -q <<SQL
create table cells (code text primary key, geom geometry(MultiPolygon, 4326) not null);
create temp table cells_in (code text, geojson text);
\copy cells_in from '$DIR/cells.csv' with (format csv)
insert into cells select code, ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326) from cells_in;
create index on cells using gist (geom);
create table pts (id int primary key, geom geometry(Point, 4326));
create temp table pts_in (lon float8, lat float8);
\copy pts_in from '$DIR/fx/points.csv' with (format csv)
insert into pts select row_number() over (), ST_SetSRID(ST_MakePoint(lon, lat), 4326) from pts_in;
analyze;
SQL
  n=$(wc -l < "$DIR/fx/points.csv")
  printf '\\set i random(1, %d)\nSELECT c.code FROM pts p JOIN cells c ON ST_Contains(c.geom, p.geom) WHERE p.id = :i;\n' "$n" > "$DIR/lookup.sql"
  for i in $(seq "$RUNS"); do
    rm -f "$DIR"/pgbench_log.*
    (cd "$DIR" && pgbench -n -c 2 -j 2 -T "$DUR" -f lookup.sql -l --log-prefix=pgbench_log "$PGDB" > pgbench.out 2>&1)
    tps=$(grep -o 'tps = [0-9.]*' "$DIR/pgbench.out" | head -1 | cut -d' ' -f3)
    cat "$DIR"/pgbench_log.* | awk '{print $3}' | sort -n | awk -v tps="$tps" '{a[NR]=$1} END {printf "RESULT postgis_st_contains_c2 rps=%.0f p50_ms=%.3f p99_ms=%.3f\n", tps, a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}'
  done
else
  echo "PostgreSQL not reachable at $PG: PostGIS comparison skipped"
fi
