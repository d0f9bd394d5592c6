#!/bin/sh
# Entry point of a fleet test host whose PID 1 is systemd (tests/testbed/systemd): prepares what
# systemd cannot, then replaces itself with systemd, which starts ssh, containerd and docker.
#   FLEET_AUTHORIZED_KEY      public key allowed to log in as root (required)
# Run without --init, with --cgroupns private and tmpfs on /run and /run/lock (fleet.py does).
set -eu

log() { printf 'fleet-systemd-host: %s\n' "$*"; }

if [ -z "${FLEET_AUTHORIZED_KEY:-}" ]; then
  log "FLEET_AUTHORIZED_KEY is empty: nobody could log in" >&2
  exit 2
fi
install -d -m 0700 /root/.ssh
printf '%s\n' "$FLEET_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
[ -e /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key

# Without --privileged the cgroup hierarchies are mounted read-only: systemd (and the dockerd it
# starts) need them writable.
awk '$3 ~ /^cgroup2?$/ && $4 ~ /(^|,)ro(,|$)/ {print $2}' /proc/mounts | while read -r mnt; do
  mount -o remount,bind,rw "$mnt" || log "could not make $mnt writable" >&2
done

exec /lib/systemd/systemd --log-target=console
