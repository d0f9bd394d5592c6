#!/usr/bin/env bash
# Build dockyard-test/ceph-rgw:reef, the test bed's S3 engine: Ceph RADOS Gateway from Debian 13
# (trixie) packages (ceph-mon, ceph-osd, radosgw, ceph-common: Ceph 18.2 "reef") in a root file
# system made with debootstrap, and an entry point that starts a single-node cluster (one
# monitor, one OSD, radosgw on port 7480) with an S3 user and bucket from the environment.
# Two cached steps, each skipped when its image carries the content hash of its inputs:
#   dockyard-test/ceph-rootfs:trixie  debootstrap + apt in a chroot (~1.5-2 min): the text of
#                                     make_rootfs (../debian-image.sh) and configure_rootfs,
#                                     the suite, the mirror and the package list
#   dockyard-test/ceph-rgw:reef       Dockerfile, entry point, health check (seconds)
# Needs root, debootstrap, a running Docker engine and Debian's mirror. See docs/testbed.md.
#   bash tests/testbed/ceph/build.sh [--force]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGE=dockyard-test/ceph-rgw:reef
BASE_IMAGE=dockyard-test/ceph-rootfs:trixie
SUITE=trixie
MIRROR=${CEPH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# curl: the entry point makes the bucket and the health check asks for it (AWS Signature V4).
PACKAGES=(ceph-mon ceph-osd radosgw ceph-common curl)

log() { printf '==> ceph image: %s\n' "$*" >&2; }
die() { printf 'ceph build.sh: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (debootstrap, chroot)"

# shellcheck source=tests/testbed/debian-image.sh
. "$HERE/../debian-image.sh"

# configure_rootfs ROOT: nothing beyond the packages; the entry point writes ceph.conf at start.
configure_rootfs() {
  :
}

CONTEXT_FILES=("$HERE/Dockerfile" "$HERE/entrypoint.sh" "$HERE/healthcheck.sh")
build_debian_image "$@"
