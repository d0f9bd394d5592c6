#!/usr/bin/env bash
# Build dockyard-test/host:bookworm, the image of the fleet test bed's hosts: a Debian 12 root
# file system from debootstrap (minbase) with openssh-server, python3 (+ bcrypt, cryptography),
# docker.io (dockerd, containerd, runc), iptables, iproute2, curl, procps, the Compose v2 plugin
# of this machine and an entry point that starts sshd and the host's own dockerd.
# Two cached steps, each skipped when its image carries the content hash of its inputs:
#   dockyard-test/host-rootfs:bookworm  debootstrap + apt in a chroot (~1.5 min): make_rootfs's
#                                       text, the suite, the mirror and the package list
#   dockyard-test/host:bookworm         Dockerfile, entry point, Compose plugin (seconds)
# Needs root, debootstrap, a running Docker engine and Debian's mirror. See docs/fleet-testbed.md.
#   bash tests/testbed/fleet/build.sh [--force]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGE=dockyard-test/host:bookworm
BASE_IMAGE=dockyard-test/host-rootfs:bookworm
HASH_LABEL=org.dockyard.testbed.content-hash
SUITE=bookworm
MIRROR=${FLEET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
COMPOSE_PLUGIN=/usr/local/lib/docker/cli-plugins/docker-compose
PACKAGES=(openssh-server python3 python3-bcrypt python3-cryptography docker.io iptables iproute2
          ca-certificates curl procps)
FORCE=''
[ "${1:-}" = --force ] && FORCE=1

export DEBIAN_FRONTEND=noninteractive DOCKER_BUILDKIT=0
log() { printf '==> fleet image: %s\n' "$*" >&2; }
die() { printf 'fleet build.sh: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (debootstrap, chroot)"
[ -x "$COMPOSE_PLUGIN" ] || die "$COMPOSE_PLUGIN is missing (tests/testbed/setup.sh installs it)"

# make_rootfs ROOT WORK: the hosts' Debian 12 root file system in ROOT (logs in WORK).
make_rootfs() {
  local root=$1 work=$2
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
  log "debootstrap --variant=minbase $SUITE"
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" > "$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    die "debootstrap failed"
  }
  log "installing ${PACKAGES[*]} in the root file system (chroot)"
  # Services are started by the entry point, not by package scripts.
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  mount -t proc proc "$root/proc"
  if ! { chroot "$root" apt-get update -q > "$work/apt.log" 2>&1 &&
         chroot "$root" apt-get install -y -q --no-install-recommends \
           -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${PACKAGES[@]}" \
           >> "$work/apt.log" 2>&1 </dev/null; }; then
    tail -n 30 "$work/apt.log" >&2
    die "apt-get install in the root file system failed"
  fi
  umount -l "$root/proc"

  log "slimming and configuring the root file system"
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/var/log/apt/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'en*' -exec rm -rf {} + 2>/dev/null || true
  rm -f "$root/usr/sbin/policy-rc.d"
  # Each host gets its own host key at its first start (entry point), not one set baked in.
  rm -f "$root"/etc/ssh/ssh_host_*
  printf '%s\n' '# dockyard fleet test bed: root with the fleet key only.' \
    'PermitRootLogin prohibit-password' 'PasswordAuthentication no' \
    'KbdInteractiveAuthentication no' 'UseDNS no' > "$root/etc/ssh/sshd_config.d/fleet.conf"
  install -d -m 0700 "$root/root/.ssh"
  # The outer engine writes /etc/hostname, /etc/hosts and /etc/resolv.conf at run time.
  : > "$root/etc/hostname"
}

label_of() {
  docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

BASE_HASH=$({ printf '%s\n' "$SUITE" "$MIRROR" "${PACKAGES[@]}"; declare -f make_rootfs; } \
  | sha256sum | cut -c1-32)
HASH=$({ echo "$BASE_HASH"
         sha256sum "$HERE/Dockerfile" "$HERE/entrypoint.sh" "$COMPOSE_PLUGIN" | cut -d' ' -f1
       } | sha256sum | cut -c1-32)
if [ "$(label_of "$IMAGE")" = "$HASH" ] && [ -z "$FORCE" ]; then
  log "$IMAGE is up to date ($HASH)"
  exit 0
fi

WORK=$(mktemp -d /tmp/dockyard-fleet-image.XXXXXX)
ROOT="$WORK/rootfs"
cleanup() {
  # Never remove a tree with a mount still inside it.
  if mountpoint -q "$ROOT/proc" 2>/dev/null; then umount -l "$ROOT/proc" || true; fi
  if ! grep -q " $WORK/" /proc/mounts; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

start=$SECONDS
if [ "$(label_of "$BASE_IMAGE")" = "$BASE_HASH" ] && [ -z "$FORCE" ]; then
  log "root file system $BASE_IMAGE is up to date ($BASE_HASH)"
else
  log "building the root file system $BASE_IMAGE ($BASE_HASH)"
  make_rootfs "$ROOT" "$WORK"
  log "importing the root file system as $BASE_IMAGE"
  tar -C "$ROOT" --numeric-owner -c . \
    | docker import --change "LABEL $HASH_LABEL=$BASE_HASH" - "$BASE_IMAGE" >/dev/null
  rm -rf "$ROOT"
fi

log "building $IMAGE ($HASH): entry point and Compose v2 plugin"
CTX="$WORK/context"
mkdir -p "$CTX"
cp "$HERE/Dockerfile" "$HERE/entrypoint.sh" "$CTX/"
cp "$COMPOSE_PLUGIN" "$CTX/docker-compose"
docker build -q --label "$HASH_LABEL=$HASH" -t "$IMAGE" "$CTX" > /dev/null 2> "$WORK/build.log" || {
  cat "$WORK/build.log" >&2
  die "docker build of $IMAGE failed"
}
log "$IMAGE built in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" \
  | awk '{printf "%d MB", $1 / 1000000}'))"
