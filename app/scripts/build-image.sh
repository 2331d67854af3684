#!/usr/bin/env bash
# Build the resume-service image without any container registry.
#
#  1. Base image: a Debian bookworm rootfs made with debootstrap (python3 + python3-venv),
#     `docker import`ed as resume-base:bookworm-<recipe hash>. The hash covers the recipe
#     below, so the base is rebuilt only when the recipe changes (cached otherwise).
#  2. Wheels: the pinned runtime dependencies are downloaded on the host with the host's
#     pip configuration into app/wheels/ (the image build itself needs no network).
#  3. docker build --network none --build-arg BASE_IMAGE=<base> --build-arg PIP_NO_INDEX=1
#
# Usage: app/scripts/build-image.sh [IMAGE_TAG]      (default resume-service:local)
# Env:   DEBIAN_MIRROR (default: first URI of /etc/apt/sources(.list.d), else deb.debian.org)
#        FORCE_BASE=1 rebuilds the base even when cached.
# Needs root (debootstrap, chroot) and a running Docker engine.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
APP_DIR="$(cd "${SCRIPT_DIR}/.." && pwd)"
IMAGE="${1:-resume-service:local}"

# ---- the base image recipe (everything here goes into the hash) ----
SUITE="bookworm"
VARIANT="minbase"
PACKAGES="python3,python3-venv,ca-certificates"
RECIPE_VERSION="1"
RECIPE="suite=${SUITE};variant=${VARIANT};include=${PACKAGES};v=${RECIPE_VERSION}"
RECIPE_HASH="$(printf '%s' "${RECIPE}" | sha256sum | cut -c1-12)"
BASE_IMAGE="resume-base:${SUITE}-${RECIPE_HASH}"

log() { echo "build-image: $*" >&2; }

default_mirror() {
    local uri=""
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
    fi
    if [[ -z "${uri}" && -f /etc/apt/sources.list ]]; then
        uri="$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list)"
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

command -v docker >/dev/null || { log "docker CLI not found"; exit 1; }
docker info >/dev/null 2>&1 || { log "no Docker engine reachable (is dockerd running?)"; exit 1; }

if [[ "${FORCE_BASE:-0}" != "1" ]] && docker image inspect "${BASE_IMAGE}" >/dev/null 2>&1; then
    log "base ${BASE_IMAGE} cached (recipe unchanged)"
else
    [[ "${EUID}" -eq 0 ]] || { log "building the base needs root (debootstrap)"; exit 1; }
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
    fi
    MIRROR="${DEBIAN_MIRROR:-$(default_mirror)}"
    ROOTFS="$(mktemp -d /tmp/resume-base-rootfs.XXXXXX)"
    trap 'rm -rf "${ROOTFS}"' EXIT
    log "debootstrap ${SUITE} (${VARIANT}, +${PACKAGES}) from ${MIRROR}"
    debootstrap --variant="${VARIANT}" --include="${PACKAGES}" "${SUITE}" "${ROOTFS}" "${MIRROR}" \
        >"${ROOTFS}.log" 2>&1 || { tail -n 30 "${ROOTFS}.log" >&2; exit 1; }
    chroot "${ROOTFS}" apt-get clean
    rm -rf "${ROOTFS}"/var/lib/apt/lists/* "${ROOTFS}"/var/cache/apt/*.bin "${ROOTFS}"/tmp/*
    log "importing ${BASE_IMAGE}"
    tar --numeric-owner -C "${ROOTFS}" -c . | docker import \
        --change "LABEL org.opencontainers.image.base.recipe=\"${RECIPE}\"" \
        --change "LABEL resume.base.recipe-hash=${RECIPE_HASH}" \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        - "${BASE_IMAGE}" >/dev/null
    rm -f "${ROOTFS}.log"
fi

log "downloading runtime wheels into ${APP_DIR}/wheels"
find "${APP_DIR}/wheels" -name '*.whl' -delete 2>/dev/null || true
python3 -m pip download --quiet --only-binary=:all: --python-version 3.11 \
    --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --implementation cp --abi cp311 \
    -r "${APP_DIR}/requirements-runtime.txt" -d "${APP_DIR}/wheels"

log "docker build ${IMAGE} FROM ${BASE_IMAGE} (no network)"
DOCKER_BUILDKIT=0 docker build --network none \
    --build-arg "BASE_IMAGE=${BASE_IMAGE}" \
    --build-arg PIP_NO_INDEX=1 \
    -t "${IMAGE}" "${APP_DIR}"
log "built ${IMAGE}"
