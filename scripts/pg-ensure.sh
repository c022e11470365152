#!/usr/bin/env bash
# pg-ensure.sh makes a PostgreSQL 15 server with PostGIS available for `make test`.
#
#   eval "$(scripts/pg-ensure.sh)"      # prints: export CITYGRID_TEST_PG=…
#   go test ./...
#   sh "${CITYGRID_PG_STOP_FILE:-/tmp/citygrid-pg-stop.sh}" 2>/dev/null || true   # at the end
#
# 1. Installs postgresql-15-postgis-3 (which pulls in the server) when it is missing and we
#    are root.
# 2. If a server answers at $CITYGRID_TEST_PG (default postgres://postgres@127.0.0.1:5432/postgres),
#    uses it.
# 3. Else, for the default local port, starts the Debian cluster 15/main.
# 4. Else starts a throw-away cluster (initdb in a temp dir, a free port, trust auth, run as
#    the postgres user since initdb refuses root) and writes the command that stops and
#    removes it to $CITYGRID_PG_STOP_FILE (default /tmp/citygrid-pg-stop.sh). A throw-away
#    cluster left running by an earlier run is reused.
#
# Only `export …` lines go to stdout; progress goes to stderr.
set -euo pipefail

DEFAULT_URL=postgres://postgres@127.0.0.1:5432/postgres
URL=${CITYGRID_TEST_PG:-$DEFAULT_URL}
STOP_FILE=${CITYGRID_PG_STOP_FILE:-${TMPDIR:-/tmp}/citygrid-pg-stop.sh}
PG_VERSION=15
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
POSTGIS_PKG=postgresql-$PG_VERSION-postgis-3

say() { echo "pg-ensure: $*" >&2; }

answers() { # url
	command -v pg_isready >/dev/null 2>&1 || [ -x "$PG_BIN/pg_isready" ] || return 1
	local isready=pg_isready
	command -v pg_isready >/dev/null 2>&1 || isready=$PG_BIN/pg_isready
	"$isready" -q -t 3 -d "$1" >/dev/null 2>&1
}

emit() { # url
	printf 'export CITYGRID_TEST_PG=%q\n' "$1"
	printf 'export CITYGRID_PG_STOP_FILE=%q\n' "$STOP_FILE"
	if command -v psql >/dev/null 2>&1 &&
		[ "$(psql -X -Atq -d "$1" -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'" 2>/dev/null)" != 1 ]; then
		say "WARNING: the server at ${1%%\?*} has no PostGIS; PostgreSQL tests will skip (or fail under CI=true)"
	fi
}

# 1. Packages.
if ! dpkg-query -W -f='${Status}' "$POSTGIS_PKG" 2>/dev/null | grep -q 'install ok installed'; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		say "installing $POSTGIS_PKG"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null
		apt-get install -y -qq "$POSTGIS_PKG" >/dev/null
	else
		say "$POSTGIS_PKG is not installed and we are not root: install it, or set CITYGRID_TEST_PG"
	fi
fi

# 2. A server that answers already.
if answers "$URL"; then
	emit "$URL"
	exit 0
fi

# 3. The packaged cluster, when the default local server is wanted.
if [ "$URL" = "$DEFAULT_URL" ] && command -v pg_ctlcluster >/dev/null 2>&1 &&
	pg_lsclusters -h 2>/dev/null | awk '{print $1, $2}' | grep -qx "$PG_VERSION main"; then
	say "starting cluster $PG_VERSION/main"
	pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start >&2 || true
	for _ in $(seq 1 30); do
		answers "$URL" && break
		sleep 0.5
	done
	if answers "$URL"; then
		emit "$URL"
		exit 0
	fi
fi

# 4. A throw-away cluster: reuse the one an earlier run left, or start one.
if [ -f "$STOP_FILE" ]; then
	old=$(sed -n 's/^# url=//p' "$STOP_FILE")
	if [ -n "$old" ] && answers "$old"; then
		say "reusing the throw-away cluster at $old"
		emit "$old"
		exit 0
	fi
fi
if [ ! -x "$PG_BIN/initdb" ]; then
	say "no server answers at ${URL%%\?*} and $PG_BIN/initdb is missing"
	exit 1
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=55432
while ! port_free "$port"; do
	port=$((port + 1))
	[ "$port" -lt 55532 ] || { say "no free port in 55432-55531"; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/citygrid-pg.XXXXXX")
as_owner=()
if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || { say "initdb refuses root and there is no postgres user"; exit 1; }
	chown postgres: "$dir"
	chmod 700 "$dir"
	as_owner=(runuser -u postgres --)
fi
say "starting a throw-away cluster in $dir on port $port"
"${as_owner[@]}" "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
"${as_owner[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
	-o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null

new_url=postgres://postgres@127.0.0.1:$port/postgres
stop="${as_owner[*]} $PG_BIN/pg_ctl -D $dir/data -m fast -w stop >/dev/null; rm -rf $dir"
{
	echo "# citygrid throw-away PostgreSQL, started by scripts/pg-ensure.sh; run this file to stop it"
	echo "# url=$new_url"
	echo "$stop"
	echo "rm -f $STOP_FILE"
} >"$STOP_FILE"
say "stop it with: sh $STOP_FILE"
emit "$new_url"
