#!/usr/bin/env bash
# Build dockyard-test/host-systemd:bookworm: a fleet test host (tests/testbed/fleet) whose PID 1 is
# systemd. The same Debian 12 root file system as the fleet image (openssh-server, python3, docker.io,
# ...) plus systemd, systemd-sysv and dbus; sshd, containerd and dockerd are started by systemd as
# their packages install them (ssh.service, containerd.service, docker.service).
# Two cached steps, each skipped when its image carries the content hash of its inputs:
#   dockyard-test/host-systemd-rootfs:bookworm  debootstrap + apt in a chroot (~2 min)
#   dockyard-test/host-systemd:bookworm         Dockerfile, entry point, Compose plugin (seconds)
# fleet.py starts it with Fleet(..., systemd=True): no --init, --cgroupns private, /run on tmpfs.
# Needs root, debootstrap, a running Docker engine and Debian's mirror. See docs/fleet-testbed.md.
#   bash tests/testbed/systemd/build.sh [--force]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGE=dockyard-test/host-systemd:bookworm
BASE_IMAGE=dockyard-test/host-systemd-rootfs:bookworm
SUITE=bookworm
MIRROR=${FLEET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
COMPOSE_PLUGIN=/usr/local/lib/docker/cli-plugins/docker-compose
PACKAGES=(systemd systemd-sysv dbus openssh-server python3 python3-bcrypt python3-cryptography docker.io
          iptables iproute2 ca-certificates curl procps)

log() { printf '==> systemd host image: %s\n' "$*" >&2; }
die() { printf 'systemd build.sh: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (debootstrap, chroot)"
[ -x "$COMPOSE_PLUGIN" ] || die "$COMPOSE_PLUGIN is missing (tests/testbed/setup.sh installs it)"

# shellcheck source=tests/testbed/debian-image.sh
. "$HERE/../debian-image.sh"

# configure_rootfs ROOT: sshd for the fleet key only, no host keys (the entry point makes one at
# the host's first start); units that have no use in a test host are masked (consoles, periodic
# apt and file system jobs), so `systemctl --failed` and `list-timers` show only what tests put there.
configure_rootfs() {
  local root=$1 unit
  rm -f "$root"/etc/ssh/ssh_host_*
  printf '%s\n' '# dockyard fleet test bed: root with the fleet key only.' \
    'PermitRootLogin prohibit-password' 'PasswordAuthentication no' \
    'KbdInteractiveAuthentication no' 'UseDNS no' > "$root/etc/ssh/sshd_config.d/fleet.conf"
  install -d -m 0700 "$root/root/.ssh"
  for unit in console-getty.service getty@tty1.service getty.target systemd-logind.service \
              apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
              e2scrub_reap.service fstrim.timer systemd-tmpfiles-clean.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
}

CONTEXT_FILES=("$HERE/Dockerfile" "$HERE/entrypoint.sh" "$COMPOSE_PLUGIN")
build_debian_image "$@"
