#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL (15 when installed, else the newest) on 127.0.0.1
# and CENTRALINO_TEST_PG_URL pointing at an empty database `centralino_test` in it. The cluster
# is stopped and removed afterwards; the command's exit code is passed on. Installs PostgreSQL
# with apt-get when missing. Usage: scripts/with-postgres.sh cargo test -p pbx-server --test store
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: $0 command [args...]" >&2
  exit 2
fi

find_pgbin() {
  if [ -x /usr/lib/postgresql/15/bin/initdb ]; then echo /usr/lib/postgresql/15/bin; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true
}
PGBIN=$(find_pgbin)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(find_pgbin)
fi

# A free TCP port on 127.0.0.1: ask the kernel when python3 is there, else probe.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    return
  fi
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free port found" >&2
  return 1
}

dir=$(mktemp -d /tmp/centralino-pg.XXXXXX)
port=$(free_port)
# PostgreSQL refuses to run as root: use the postgres system user (created if missing).
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi
as_pg() { if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
cleanup() { as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
# -F: no fsync, the cluster is thrown away; the socket lives in the temp dir.
as_pg "$PGBIN/pg_ctl" -D "$dir/data" -o "-h 127.0.0.1 -p $port -k $dir -F" -l "$dir/log" -w start >/dev/null
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres centralino_test
export CENTRALINO_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/centralino_test"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
"$@"
