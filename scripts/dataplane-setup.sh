#!/usr/bin/env bash
# dataplane-setup.sh — make this machine able to run the local cloud's data plane:
# test hosts as Docker containers built from a locally made Debian image.
# Idempotent; `make up` and `make test` call it.
#
#   1. apt-get install docker.io debootstrap openssh-client nftables (only what is missing;
#      nft enforces the security groups, localcloud/firewall.py)
#   2. start dockerd by hand when no daemon answers (no systemd here): pid and log
#      under $STATE_DIR/docker, storage driver overlay2, else vfs
#   3. let nftables see traffic between containers of one Docker network (the security groups,
#      unless LOCALCLOUD_SECURITY_GROUPS=off): modprobe br_netfilter (Docker >= 27.3 no longer
#      loads it, moby/moby#48492; a kernel with it built in needs no module) and
#      net.bridge.bridge-nf-call-iptables=1
#   4. build the base image from localcloud/images/ unless the image of the current
#      recipe is already there (python -m localcloud image)
#
# Environment: STATE_DIR (default <repo>/.state), DOCKER_STORAGE_DRIVER (skip the probe),
# LOCALCLOUD_SECURITY_GROUPS (off: skip step 3).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$PWD
STATE_DIR=${STATE_DIR:-$REPO_ROOT/.state}
DOCKER_STATE=$STATE_DIR/docker
PY=${PY:-$REPO_ROOT/.venv/bin/python}

log() { echo "dataplane-setup: $*" >&2; }
die() { log "error: $*"; exit 1; }

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v ssh >/dev/null && command -v ssh-keyscan >/dev/null || missing+=(openssh-client)
command -v nft >/dev/null || missing+=(nftables)
if ((${#missing[@]})); then
  [[ $EUID -eq 0 ]] || die "need root to install: ${missing[*]}"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

docker_up() { docker info >/dev/null 2>&1; }

start_dockerd() {
  local driver=$1
  mkdir -p "$DOCKER_STATE"
  log "starting dockerd (storage driver $driver, log $DOCKER_STATE/dockerd.log)"
  # setsid: the daemon outlives this script and `make`; its pid file is the handle to stop it.
  setsid dockerd --storage-driver "$driver" --pidfile "$DOCKER_STATE/dockerd.pid" \
    >>"$DOCKER_STATE/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    docker_up && return 0
    kill -0 $! 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}

if ! docker_up; then
  [[ $EUID -eq 0 ]] || die "no Docker daemon answers and starting one needs root"
  if [[ -n ${DOCKER_STORAGE_DRIVER:-} ]]; then
    start_dockerd "$DOCKER_STORAGE_DRIVER" || die "dockerd did not start; see $DOCKER_STATE/dockerd.log"
  elif ! start_dockerd overlay2; then
    log "overlay2 failed; retrying with vfs"
    [[ -f $DOCKER_STATE/dockerd.pid ]] && kill "$(cat "$DOCKER_STATE/dockerd.pid")" 2>/dev/null || true
    sleep 1
    start_dockerd vfs || die "dockerd did not start; see $DOCKER_STATE/dockerd.log"
  fi
  log "dockerd running (pid $(cat "$DOCKER_STATE/dockerd.pid"))"
fi

BRIDGE_NF=/proc/sys/net/bridge/bridge-nf-call-iptables
if [[ ${LOCALCLOUD_SECURITY_GROUPS:-on} != off && $(cat "$BRIDGE_NF" 2>/dev/null) != 1 ]]; then
  [[ $EUID -eq 0 ]] || die "security groups need $BRIDGE_NF = 1, which needs root (or LOCALCLOUD_SECURITY_GROUPS=off)"
  modprobe br_netfilter 2>/dev/null || log "modprobe br_netfilter failed (built into the kernel?); trying the sysctl"
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 \
    || die "could not set net.bridge.bridge-nf-call-iptables=1: traffic between containers would bypass the security groups"
  log "bridged traffic goes through nftables (net.bridge.bridge-nf-call-iptables=1)"
fi

"$PY" -m localcloud image
