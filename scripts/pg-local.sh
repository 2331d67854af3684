#!/usr/bin/env bash
# pg-local.sh — a private, local PostgreSQL cluster for development, tests,
# benchmarks and (later) the project's emulated RDS endpoint.
#
#   scripts/pg-local.sh start    # install (apt) if needed, initdb once, start (idempotent)
#   scripts/pg-local.sh stop     # stop this cluster only
#   scripts/pg-local.sh status   # exit 0 when running, 3 when not
#   scripts/pg-local.sh env      # print shell exports: eval "$(scripts/pg-local.sh env)"
#
# Environment:
#   STATE_DIR       state root (default: <repo>/.state); the cluster lives in $STATE_DIR/postgres
#   PG_LOCAL_PORT   TCP port on 127.0.0.1 (default: 55432)
#   PG_LOCAL_MAX_CONNECTIONS  max_connections written at initdb time (default: 200)
#
# Layout under $STATE_DIR/postgres:
#   data/               PGDATA (owned by the `postgres` OS user when run as root)
#   run/                unix socket directory
#   postgres.log        server log
#   superuser.password  generated once, mode 0600 (superuser `postgres`)
#   pgpass              libpq password file (mode 0600) for PGPASSFILE
#
# Authentication: scram-sha-256 for every connection (TCP and socket).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
STATE_DIR="${STATE_DIR:-${REPO_ROOT}/.state}"
PG_PORT="${PG_LOCAL_PORT:-55432}"
PG_HOST="127.0.0.1"
PG_SUPERUSER="postgres"
PG_MAX_CONNECTIONS="${PG_LOCAL_MAX_CONNECTIONS:-200}"

PG_ROOT="${STATE_DIR}/postgres"
PGDATA_DIR="${PG_ROOT}/data"
RUN_DIR="${PG_ROOT}/run"
LOG_FILE="${PG_ROOT}/postgres.log"
PW_FILE="${PG_ROOT}/superuser.password"
PGPASS_FILE="${PG_ROOT}/pgpass"
LOCK_FILE="${PG_ROOT}/.lock"

log() { echo "pg-local: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    echo "usage: $0 {start|stop|status|env}" >&2
    exit 2
}

# Run a command as the cluster owner: `postgres` when we are root (initdb
# refuses root), the current user otherwise.
as_owner() {
    if [[ "${EUID}" -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

find_bindir() {
    local d
    # Highest installed major version wins (version sort on the path component).
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "${d}/initdb" ]] && echo "${d}"
    done | sort -V | tail -n1
}

ensure_installed() {
    BIN_DIR="$(find_bindir)"
    if [[ -z "${BIN_DIR}" ]]; then
        [[ "${EUID}" -eq 0 ]] || die "PostgreSQL server binaries not found and not root: install Debian's 'postgresql' package"
        log "installing PostgreSQL from Debian (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >/dev/null
        BIN_DIR="$(find_bindir)"
        [[ -n "${BIN_DIR}" ]] || die "apt-get install postgresql did not provide initdb"
    fi
    if [[ "${EUID}" -eq 0 ]] && ! id -u postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
}

pg_running() {
    [[ -f "${PGDATA_DIR}/PG_VERSION" ]] || return 1
    as_owner "${BIN_DIR}/pg_ctl" -D "${PGDATA_DIR}" status >/dev/null 2>&1
}

check_traversable() {
    # The postgres OS user must be able to reach PGDATA.
    [[ "${EUID}" -eq 0 ]] || return 0
    if ! runuser -u postgres -- test -x "${PG_ROOT}"; then
        die "the postgres OS user cannot traverse ${PG_ROOT}; choose a STATE_DIR whose parents are world-executable"
    fi
}

init_cluster() {
    mkdir -p "${PG_ROOT}"
    # Keep runtime state out of git without touching the repo's .gitignore.
    [[ -e "${STATE_DIR}/.gitignore" ]] || echo '*' >"${STATE_DIR}/.gitignore"
    chmod 0755 "${PG_ROOT}"
    if [[ ! -s "${PW_FILE}" ]]; then
        (umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"${PW_FILE}")
        log "generated superuser password in ${PW_FILE}"
    fi
    chmod 0600 "${PW_FILE}"
    local pw
    pw="$(cat "${PW_FILE}")"
    (umask 077 && printf '%s:%s:*:%s:%s\n' "${PG_HOST}" "${PG_PORT}" "${PG_SUPERUSER}" "${pw}" >"${PGPASS_FILE}")
    (umask 077 && printf 'localhost:%s:*:%s:%s\n' "${PG_PORT}" "${PG_SUPERUSER}" "${pw}" >>"${PGPASS_FILE}")
    chmod 0600 "${PGPASS_FILE}"

    mkdir -p "${RUN_DIR}"
    if [[ "${EUID}" -eq 0 ]]; then
        chown postgres: "${RUN_DIR}"
        touch "${LOG_FILE}"
        chown postgres: "${LOG_FILE}"
    fi
    check_traversable

    if [[ -f "${PGDATA_DIR}/PG_VERSION" ]]; then
        return 0
    fi
    log "initialising cluster in ${PGDATA_DIR}"
    mkdir -p "${PGDATA_DIR}"
    chmod 0700 "${PGDATA_DIR}"
    local tmp_pw
    tmp_pw="$(mktemp)"
    chmod 0600 "${tmp_pw}"
    cat "${PW_FILE}" >"${tmp_pw}"
    if [[ "${EUID}" -eq 0 ]]; then
        chown -R postgres: "${PGDATA_DIR}"
        chown postgres: "${tmp_pw}"
    fi
    if ! as_owner "${BIN_DIR}/initdb" -D "${PGDATA_DIR}" -U "${PG_SUPERUSER}" --pwfile="${tmp_pw}" \
        --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"${PG_ROOT}/initdb.log" 2>&1; then
        rm -f "${tmp_pw}"
        cat "${PG_ROOT}/initdb.log" >&2
        rm -rf "${PGDATA_DIR}"
        die "initdb failed"
    fi
    rm -f "${tmp_pw}"
    cat >>"${PGDATA_DIR}/postgresql.conf" <<EOF

# --- pg-local.sh ---
listen_addresses = '${PG_HOST}'
port = ${PG_PORT}
unix_socket_directories = '${RUN_DIR}'
max_connections = ${PG_MAX_CONNECTIONS}
password_encryption = 'scram-sha-256'
EOF
}

sync_port() {
    # The port is part of the config; rewrite if PG_LOCAL_PORT differs.
    local conf="${PGDATA_DIR}/postgresql.conf"
    if ! grep -q "^port = ${PG_PORT}\$" "${conf}"; then
        sed -i "s/^port = [0-9]*\$/port = ${PG_PORT}/" "${conf}"
    fi
}

cmd_start() {
    ensure_installed
    mkdir -p "${PG_ROOT}"
    exec 9>"${LOCK_FILE}"
    flock -w 120 9 || die "timed out waiting for ${LOCK_FILE}"
    init_cluster
    if pg_running; then
        log "already running (port ${PG_PORT})"
        return 0
    fi
    sync_port
    # A stale postmaster.pid from a killed server is handled by pg_ctl itself.
    # 9>&- : the server must not inherit the lock descriptor.
    if ! as_owner "${BIN_DIR}/pg_ctl" -D "${PGDATA_DIR}" -l "${LOG_FILE}" -w -t 60 start >/dev/null 9>&-; then
        tail -n 30 "${LOG_FILE}" >&2 || true
        die "server failed to start (log: ${LOG_FILE})"
    fi
    log "started on ${PG_HOST}:${PG_PORT} (data: ${PGDATA_DIR})"
}

cmd_stop() {
    BIN_DIR="$(find_bindir)"
    if [[ -z "${BIN_DIR}" ]] || ! pg_running; then
        log "not running"
        return 0
    fi
    as_owner "${BIN_DIR}/pg_ctl" -D "${PGDATA_DIR}" -m fast -w -t 60 stop >/dev/null
    log "stopped"
}

cmd_status() {
    BIN_DIR="$(find_bindir)"
    if [[ -n "${BIN_DIR}" ]] && pg_running; then
        echo "running: ${PG_HOST}:${PG_PORT} data=${PGDATA_DIR} pid=$(head -n1 "${PGDATA_DIR}/postmaster.pid")"
        return 0
    fi
    echo "stopped: data=${PGDATA_DIR}"
    return 3
}

cmd_env() {
    [[ -f "${PGPASS_FILE}" ]] || die "no cluster yet: run '$0 start' first"
    BIN_DIR="$(find_bindir)"
    printf 'export PGHOST=%q\n' "${PG_HOST}"
    printf 'export PGPORT=%q\n' "${PG_PORT}"
    printf 'export PGUSER=%q\n' "${PG_SUPERUSER}"
    printf 'export PGDATABASE=%q\n' "postgres"
    printf 'export PGPASSFILE=%q\n' "${PGPASS_FILE}"
    printf 'export PG_LOCAL_PASSWORD_FILE=%q\n' "${PW_FILE}"
    printf 'export PG_LOCAL_BINDIR=%q\n' "${BIN_DIR}"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
*) usage ;;
esac
