#!/usr/bin/env bash
# Build dockyard-test/host:bookworm, the image of the fleet test bed's hosts: a Debian 12 root
# file system from debootstrap (minbase) with openssh-server, python3 (+ bcrypt, cryptography),
# docker.io (dockerd, containerd, runc), iptables, iproute2, curl, procps, the Compose v2 plugin
# of this machine and an entry point that starts sshd and the host's own dockerd.
# Two cached steps, each skipped when its image carries the content hash of its inputs:
#   dockyard-test/host-rootfs:bookworm  debootstrap + apt in a chroot (~1.5 min): the text of
#                                       make_rootfs (../debian-image.sh) and configure_rootfs,
#                                       the suite, the mirror and the package list
#   dockyard-test/host:bookworm         Dockerfile, entry point, Compose plugin (seconds)
# Needs root, debootstrap, a running Docker engine and Debian's mirror. See docs/fleet-testbed.md.
#   bash tests/testbed/fleet/build.sh [--force]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGE=dockyard-test/host:bookworm
BASE_IMAGE=dockyard-test/host-rootfs:bookworm
SUITE=bookworm
MIRROR=${FLEET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
COMPOSE_PLUGIN=/usr/local/lib/docker/cli-plugins/docker-compose
PACKAGES=(openssh-server python3 python3-bcrypt python3-cryptography docker.io iptables iproute2
          ca-certificates curl procps)

log() { printf '==> fleet image: %s\n' "$*" >&2; }
die() { printf 'fleet build.sh: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (debootstrap, chroot)"
[ -x "$COMPOSE_PLUGIN" ] || die "$COMPOSE_PLUGIN is missing (tests/testbed/setup.sh installs it)"

# shellcheck source=tests/testbed/debian-image.sh
. "$HERE/../debian-image.sh"

# configure_rootfs ROOT: sshd for the fleet key only, no host keys (each host makes its own at its
# first start, in the entry point).
configure_rootfs() {
  local root=$1
  rm -f "$root"/etc/ssh/ssh_host_*
  printf '%s\n' '# dockyard fleet test bed: root with the fleet key only.' \
    'PermitRootLogin prohibit-password' 'PasswordAuthentication no' \
    'KbdInteractiveAuthentication no' 'UseDNS no' > "$root/etc/ssh/sshd_config.d/fleet.conf"
  install -d -m 0700 "$root/root/.ssh"
}

CONTEXT_FILES=("$HERE/Dockerfile" "$HERE/entrypoint.sh" "$COMPOSE_PLUGIN")
build_debian_image "$@"
