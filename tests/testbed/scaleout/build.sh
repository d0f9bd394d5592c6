#!/usr/bin/env bash
# Build the scale-out test bed's image: haproxy and redis-server from Debian 12's packages in a root
# file system made with debootstrap. One image, two names:
#   dockyard-test/haproxy:2.6  stand-in for the official haproxy image (what roles/registry_lb deploys):
#                            /usr/local/etc/haproxy/haproxy.cfg, entry point like the official one
#   dockyard-test/redis:7    redis-server 7.0 for the registry's blob descriptor cache
# Two cached steps, each skipped when its image carries the content hash of its inputs:
#   dockyard-test/scaleout-rootfs:bookworm  debootstrap + apt in a chroot (~1.5 min)
#   dockyard-test/scaleout:bookworm         Dockerfile and entry point (seconds), tagged as above
# Needs root, debootstrap, a running Docker engine and Debian's mirror. See docs/testbed.md.
#   bash tests/testbed/scaleout/build.sh [--force]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGE=dockyard-test/scaleout:bookworm
BASE_IMAGE=dockyard-test/scaleout-rootfs:bookworm
SUITE=bookworm
MIRROR=${SCALEOUT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=(haproxy redis-server ca-certificates)
TAGS=(dockyard-test/haproxy:2.6 dockyard-test/redis:7)

log() { printf '==> scaleout image: %s\n' "$*" >&2; }
die() { printf 'scaleout build.sh: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (debootstrap, chroot)"

# shellcheck source=tests/testbed/debian-image.sh
. "$HERE/../debian-image.sh"

# configure_rootfs ROOT: the official haproxy image's config directory.
configure_rootfs() {
  install -d -m 0755 "$1/usr/local/etc/haproxy"
}

CONTEXT_FILES=("$HERE/Dockerfile" "$HERE/docker-entrypoint.sh")
build_debian_image "$@"
for tag in "${TAGS[@]}"; do
  docker tag "$IMAGE" "$tag"
done
log "tagged ${TAGS[*]}"
