# shellcheck shell=bash
# Sourced by tests/testbed/fleet/build.sh and tests/testbed/ceph/build.sh: an image FROM a Debian
# root file system, in two steps, each skipped when its image carries the content hash of its
# inputs (label org.dockyard.testbed.content-hash):
#   BASE_IMAGE  debootstrap --variant=minbase SUITE, apt-get install --no-install-recommends
#               PACKAGES in a chroot (services kept from starting), slimmed (apt lists, docs, man
#               pages, other locales), then the caller's configure_rootfs ROOT; `docker import`.
#               Hash: SUITE, MIRROR, PACKAGES and the text of make_rootfs and configure_rootfs.
#   IMAGE       docker build of CONTEXT_FILES (copied by base name; the Dockerfile among them)
#               FROM BASE_IMAGE. Hash: the base's hash and the files' contents.
# The caller sets IMAGE BASE_IMAGE SUITE MIRROR PACKAGES (array) CONTEXT_FILES (array), defines
# log MESSAGE, die MESSAGE and configure_rootfs ROOT, then runs build_debian_image [--force].
# Needs root, debootstrap, a running Docker engine and the Debian mirror.

HASH_LABEL=org.dockyard.testbed.content-hash
export DEBIAN_FRONTEND=noninteractive DOCKER_BUILDKIT=0

# make_rootfs ROOT WORK: the root file system in ROOT (logs in WORK).
make_rootfs() {
  local root=$1 work=$2
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
  log "debootstrap --variant=minbase $SUITE"
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" > "$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    die "debootstrap failed"
  }
  log "installing ${PACKAGES[*]} in the root file system (chroot)"
  # Services are started by the image's entry point, not by package scripts.
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
  # The outer engine writes /etc/hostname, /etc/hosts and /etc/resolv.conf at run time.
  : > "$root/etc/hostname"
  configure_rootfs "$root"
}

label_of() {
  docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

build_debian_image() {
  local force='' base_hash hash start
  [ "${1:-}" = --force ] && force=1
  base_hash=$({ printf '%s\n' "$SUITE" "$MIRROR" "${PACKAGES[@]}"; declare -f make_rootfs configure_rootfs; } \
    | sha256sum | cut -c1-32)
  hash=$({ echo "$base_hash"; sha256sum "${CONTEXT_FILES[@]}" | cut -d' ' -f1; } | sha256sum | cut -c1-32)
  if [ "$(label_of "$IMAGE")" = "$hash" ] && [ -z "$force" ]; then
    log "$IMAGE is up to date ($hash)"
    return 0
  fi

  WORK=$(mktemp -d /tmp/dockyard-image.XXXXXX)
  ROOT="$WORK/rootfs"
  trap cleanup_work EXIT

  start=$SECONDS
  if [ "$(label_of "$BASE_IMAGE")" = "$base_hash" ] && [ -z "$force" ]; then
    log "root file system $BASE_IMAGE is up to date ($base_hash)"
  else
    log "building the root file system $BASE_IMAGE ($base_hash)"
    make_rootfs "$ROOT" "$WORK"
    log "importing the root file system as $BASE_IMAGE"
    tar -C "$ROOT" --numeric-owner -c . \
      | docker import --change "LABEL $HASH_LABEL=$base_hash" - "$BASE_IMAGE" >/dev/null
    rm -rf "$ROOT"
  fi

  log "building $IMAGE ($hash) from ${CONTEXT_FILES[*]##*/}"
  mkdir -p "$WORK/context"
  cp "${CONTEXT_FILES[@]}" "$WORK/context/"
  docker build -q --label "$HASH_LABEL=$hash" -t "$IMAGE" "$WORK/context" > /dev/null 2> "$WORK/build.log" || {
    cat "$WORK/build.log" >&2
    die "docker build of $IMAGE failed"
  }
  log "$IMAGE built in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" \
    | awk '{printf "%d MB", $1 / 1000000}'))"
}

cleanup_work() {
  # Never remove a tree with a mount still inside it.
  if mountpoint -q "$ROOT/proc" 2>/dev/null; then umount -l "$ROOT/proc" || true; fi
  if ! grep -q " $WORK/" /proc/mounts; then rm -rf "$WORK"; fi
}
