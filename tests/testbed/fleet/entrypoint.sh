#!/bin/sh
# Entry point of a fleet test host (run with --privileged): sshd for the controller, then the
# host's own dockerd (which starts its containerd), logs in /var/log; stays up until stopped.
#   FLEET_AUTHORIZED_KEY      public key allowed to log in as root (required)
#   FLEET_STORAGE_DRIVER      dockerd storage driver (default: the engine's choice, overlay2 on
#                             the /var/lib/docker volume; vfs is tried when dockerd fails with it)
set -eu

log() { printf 'fleet-host: %s\n' "$*"; }

if [ -z "${FLEET_AUTHORIZED_KEY:-}" ]; then
  log "FLEET_AUTHORIZED_KEY is empty: nobody could log in" >&2
  exit 2
fi
install -d -m 0700 /root/.ssh
printf '%s\n' "$FLEET_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
mkdir -p /run/sshd /var/log
[ -e /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
/usr/sbin/sshd -E /var/log/sshd.log
log "sshd started"

# Without --privileged (an engine whose bounding set lacks a capability cannot grant it), the
# cgroup hierarchies are mounted read-only: make them writable for this host's own dockerd.
awk '$3 ~ /^cgroup2?$/ && $4 ~ /(^|,)ro(,|$)/ {print $2}' /proc/mounts | while read -r mnt; do
  mount -o remount,bind,rw "$mnt" || log "could not make $mnt writable" >&2
done

DOCKERD_PID=''
start_dockerd() {
  rm -f /var/run/docker.pid
  if [ -n "$1" ]; then
    dockerd --storage-driver "$1" >>/var/log/dockerd.log 2>&1 &
  else
    dockerd >>/var/log/dockerd.log 2>&1 &
  fi
  DOCKERD_PID=$!
}

# dockerd is up when it answers; it failed when its process is gone.
wait_dockerd() {
  i=0
  while [ "$i" -lt 60 ]; do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || return 1
    sleep 0.5
    i=$((i + 1))
  done
  return 0  # still starting: the controller's bounded wait reports it
}

stop() {
  if [ -n "$DOCKERD_PID" ]; then kill -TERM "$DOCKERD_PID" 2>/dev/null || true; fi
  exit 0
}
trap stop TERM INT

start_dockerd "${FLEET_STORAGE_DRIVER:-}"
if ! wait_dockerd && [ -z "${FLEET_STORAGE_DRIVER:-}" ]; then
  log "dockerd exited with the default storage driver; retrying with vfs" | tee -a /var/log/dockerd.log
  start_dockerd vfs
  wait_dockerd || true
fi
log "dockerd started (pid $DOCKERD_PID)"

# PID 1 stays up (docker run --init reaps the zombies); signals end the sleep at once.
while :; do
  sleep 3600 &
  wait $! || true
done
