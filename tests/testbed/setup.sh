#!/usr/bin/env bash
# Prepare the test bed on a Debian 12 machine (root, no systemd, no image registry
# reachable): Debian packages, Docker Compose v2, a running dockerd, and the
# locally built images the tests deploy (names in tests/testbed/stand-ins.yml, never an upstream name):
#   dockyard-test/registry:2.8.3    stand-in for the official registry image (distribution 2.8)
#   dockyard-test/registry-ui:2.6.0 stand-in for the Joxit UI image (joxit/docker-registry-ui 2.6.0)
#   dockyard-test/hello:1           tiny payload for push/pull tests
#   dockyard-test/ceph-rgw:reef    S3 engine: single-node Ceph + RADOS Gateway (tests/testbed/ceph)
#   dockyard-test/haproxy:2.6, dockyard-test/redis:7  Debian's haproxy and redis-server (tests/testbed/scaleout)
# Idempotent and quick when everything is there: an image is rebuilt only when
# the content hash of its build context differs from the label on the image.
# Non-interactive (CI=true, no stdin). See docs/testbed.md.
#   setup.sh            everything above
#   setup.sh engine     packages, dockerd and Compose v2 only (scripts/quickstart where images pull)
#   setup.sh stand-ins  the engine and the registry and UI stand-ins only
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMPOSE_VERSION=2.26.1-4
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
HASH_LABEL=org.dockyard.testbed.content-hash
# registry_image / registry_ui_image of stand-ins.yml (one `key: value` a line).
stand_in() { sed -n "s/^$1: *//p" "$HERE/stand-ins.yml" | tr -d "\"'"; }
REGISTRY_STANDIN=$(stand_in registry_image)
UI_STANDIN=$(stand_in registry_ui_image)
# Upstream names earlier versions of this script gave the stand-ins: removed from this engine when,
# and only when, they still name one of our images (the content-hash label says so). A real
# upstream image under such a name carries no such label and is left alone.
RETIRED_TAGS=${DOCKYARD_TESTBED_RETIRED_TAGS-registry:2 registry:2.8.3 joxit/docker-registry-ui:2.5.7}
# python3-bcrypt and python3-cryptography: the modules' dependencies on a plain Debian managed node
# (Debian 12: bcrypt 3.2.2, cryptography 38.0.4); tests also run the modules on /usr/bin/python3.
# debootstrap builds the fleet test bed's host image; openssh-client reaches its hosts over SSH.
# hey: bench/auth-load's HTTP load generator. pebble: the ACME test server of the acme TLS tests.
PACKAGES=(docker.io docker-registry busybox-static apache2-utils skopeo nginx-light
          curl openssl rsync iproute2 ca-certificates python3-bcrypt python3-cryptography
          debootstrap openssh-client shellcheck hey pebble)

export DEBIAN_FRONTEND=noninteractive DOCKER_BUILDKIT=0
APT_OPTS=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef
          -o Dpkg::Options::=--force-confold)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup.sh: ERROR: %s\n' "$*" >&2; exit 1; }

WORK=$(mktemp -d /tmp/dockyard-testbed.XXXXXX)
POLICY_RC_CREATED=''
cleanup() {
  rm -rf "$WORK"
  if [ -n "$POLICY_RC_CREATED" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || die "run me as root (installs packages, starts dockerd)"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (the images copy amd64 binaries)"

apt_updated=''
apt_update() {
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    apt-get update -q
    apt_updated=1
  fi
}

# ---------------------------------------------------------------- packages
install_packages() {
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "Debian packages: all present"
    return
  fi
  apt_update
  # No init system to talk to: keep package scripts from starting services
  # (dockerd is started below, the way this machine can run it).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=1
  fi
  log "installing ${missing[*]}"
  apt-get install "${APT_OPTS[@]}" "${missing[@]}" </dev/null
}

# ---------------------------------------------------------------- compose v2
install_compose() {
  if docker compose version >/dev/null 2>&1; then
    log "Docker Compose: $(docker compose version --short)"
    return
  fi
  # Debian 12 has no Compose v2; Debian 13 (trixie) has it, depending only on
  # libc6. A low pin keeps trixie from upgrading anything else.
  if [ ! -e /etc/apt/sources.list.d/trixie.sources ]; then
    log "adding the trixie apt source (pinned at priority 100)"
    cat > /etc/apt/sources.list.d/trixie.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt_updated=''
  fi
  if [ ! -e /etc/apt/preferences.d/trixie-low ]; then
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/trixie-low
  fi
  # (apt-cache show PKG=VERSION exits 0 even when the version is unknown)
  if ! apt-cache madison docker-compose 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' \
       | grep -qxF "$COMPOSE_VERSION"; then
    apt_updated=''
    apt_update
  fi
  log "installing the Compose v2 plugin from docker-compose $COMPOSE_VERSION"
  mkdir -p "$WORK/compose"
  # apt-get download warns that it runs unsandboxed as root: drop that line, keep the rest.
  if cd "$WORK/compose"; then
    apt-get download -q "docker-compose=$COMPOSE_VERSION" 2>&1 | { grep -v 'unsandboxed as root' >&2 || true; }
    cd - >/dev/null
  fi
  local deb
  deb=$(find "$WORK/compose" -maxdepth 1 -name 'docker-compose_*.deb' | head -n1)
  [ -n "$deb" ] || die "apt-get download docker-compose=$COMPOSE_VERSION failed"
  dpkg -x "$deb" "$WORK/compose/root"
  install -D -m 0755 "$WORK/compose/root/usr/libexec/docker/cli-plugins/docker-compose" \
    "$PLUGIN_DIR/docker-compose"
  docker compose version >/dev/null 2>&1 || die "docker compose version fails after installing $PLUGIN_DIR/docker-compose"
  log "Docker Compose: $(docker compose version --short)"
}

# ---------------------------------------------------------------- dockerd
# procps (pgrep) is not on every bare machine: look at /proc directly.
dockerd_running() {
  local comm
  for comm in /proc/[0-9]*/comm; do
    [ "$(cat "$comm" 2>/dev/null)" = dockerd ] && return 0
  done
  return 1
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then
    log "Docker engine: running"
    return
  fi
  if ! dockerd_running; then
    # A pid file left by a dockerd that is gone makes a new one refuse to start.
    local pidfile=/var/run/docker.pid pid
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile" 2>/dev/null || true)
      if [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]; then
        rm -f "$pidfile"
      fi
    fi
    log "starting dockerd (log: /var/log/dockerd.log)"
    setsid nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
  else
    log "dockerd is running but not answering yet; waiting"
  fi
  local i
  for i in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      log "Docker engine: answering after ${i}s"
      return
    fi
    sleep 1
  done
  tail -n 20 /var/log/dockerd.log >&2 || true
  die "the Docker engine did not answer 'docker info' within 60 s (see /var/log/dockerd.log)"
}

# ---------------------------------------------------------------- image building
# Copy an executable and the shared libraries ldd names for it into a root file
# system, each at the path the dynamic loader will look for it.
copy_with_libs() {
  local bin=$1 dest=$2 target=${3:-$1} lib
  install -D -m 0755 "$bin" "$dest$target"
  for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
    [ -e "$dest$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$dest$lib"
  done
}

# busybox-static; the Dockerfile links its applets where Alpine has them
# (/bin/sh, /usr/bin/wget, ...) at build time, which keeps this step cheap.
add_busybox() {
  local dest=$1
  install -D -m 0755 /bin/busybox "$dest/bin/busybox"
  mkdir -p "$dest/sbin" "$dest/usr/bin" "$dest/usr/sbin"
}

add_base_files() {
  local dest=$1
  mkdir -p "$dest/etc/ssl/certs" "$dest/root" "$dest/run" "$dest/var/run"
  install -d -m 1777 "$dest/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dest/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$dest/etc/group"
  printf 'hosts: files dns\n' > "$dest/etc/nsswitch.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/ca-certificates.crt"
}

context_registry() {
  local ctx=$1 root=$1/rootfs
  cp "$HERE/registry/Dockerfile" "$ctx/"
  add_base_files "$root"
  add_busybox "$root"
  copy_with_libs /usr/bin/docker-registry "$root" /bin/registry
  install -D -m 0755 "$HERE/registry/entrypoint.sh" "$root/entrypoint.sh"
  install -D -m 0644 "$HERE/registry/config.yml" "$root/etc/docker/registry/config.yml"
  mkdir -p "$root/var/lib/registry"
}

context_ui() {
  local ctx=$1 root=$1/rootfs
  cp "$HERE/ui/Dockerfile" "$ctx/"
  add_base_files "$root"
  add_busybox "$root"
  echo 'nginx:x:101:101:nginx:/nonexistent:/bin/false' >> "$root/etc/passwd"
  echo 'nginx:x:101:nginx' >> "$root/etc/group"
  copy_with_libs /usr/sbin/nginx "$root"
  install -D -m 0644 "$HERE/ui/nginx.conf" "$root/etc/nginx/nginx.conf"
  install -D -m 0644 /etc/nginx/mime.types "$root/etc/nginx/mime.types"
  install -D -m 0644 "$HERE/ui/default.conf" "$root/etc/nginx/conf.d/default.conf"
  install -D -m 0755 "$HERE/ui/docker-entrypoint.sh" "$root/docker-entrypoint.sh"
  install -D -m 0755 "$HERE/ui/90-docker-registry-ui.sh" "$root/docker-entrypoint.d/90-docker-registry-ui.sh"
  install -D -m 0644 "$HERE/ui/index.html" "$root/usr/share/nginx/html/index.html"
  install -D -m 0644 "$HERE/ui/50x.html" "$root/usr/share/nginx/html/50x.html"
  mkdir -p "$root/var/lib/nginx" "$root/var/log/nginx" "$root/var/cache/nginx" "$root/var/lock"
  ln -s /dev/stdout "$root/var/log/nginx/access.log"
  ln -s /dev/stderr "$root/var/log/nginx/error.log"
}

context_hello() {
  cp "$HERE/hello/Dockerfile" "$HERE/hello/hello.txt" "$1/"
}

# Hash of everything the build sees: paths, types, modes, link targets, contents.
context_hash() {
  (cd "$1" && {
    find . -printf '%p %y %m %l\n' | LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-32)
}

# build_image NAME TAG... : assemble the context with context_NAME, build unless
# every tag already carries an image with the same content hash.
build_image() {
  local name=$1 ctx="$WORK/$1" hash tag have stale=''
  shift
  mkdir -p "$ctx"
  "context_$name" "$ctx"
  hash=$(context_hash "$ctx")
  for tag in "$@"; do
    have=$(docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$tag" 2>/dev/null || true)
    [ "$have" = "$hash" ] || stale=1
  done
  if [ -z "$stale" ]; then
    log "image $* is up to date ($hash)"
    return
  fi
  log "building $* ($hash)"
  local tags=()
  for tag in "$@"; do tags+=(-t "$tag"); done
  docker build -q --label "$HASH_LABEL=$hash" "${tags[@]}" "$ctx" >/dev/null 2>"$WORK/build-$name.log" || {
    cat "$WORK/build-$name.log" >&2
    die "docker build of $* failed"
  }
}

# ---------------------------------------------------------------- TLS scanner
# sslyze (PyPI) in a virtualenv of its own: it pins its own cryptography and nassl versions.
SSLYZE_VENV=/opt/dockyard-sslyze
SSLYZE_VERSION=6.3.1
install_sslyze() {
  if [ -x "$SSLYZE_VENV/bin/sslyze" ] && "$SSLYZE_VENV/bin/pip" show sslyze 2>/dev/null | grep -qx "Version: $SSLYZE_VERSION"; then
    log "sslyze $SSLYZE_VERSION"
    return
  fi
  log "installing sslyze $SSLYZE_VERSION into $SSLYZE_VENV"
  python3 -m venv "$SSLYZE_VENV"
  "$SSLYZE_VENV/bin/pip" install --disable-pip-version-check -q "sslyze==$SSLYZE_VERSION"
}

# Untag the retired upstream names that point at one of our stand-ins (a tag only: the image stays
# under its own name, and containers made from it keep running).
retire_upstream_tags() {
  local tag label
  for tag in $RETIRED_TAGS; do
    label=$(docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$tag" 2>/dev/null || true)
    case "$label" in
      ''|'<no value>') continue ;;
    esac
    log "removing the upstream name $tag from our stand-in (it is ours: label $HASH_LABEL=$label)"
    docker rmi "$tag" >/dev/null 2>"$WORK/rmi.log" || {
      log "WARNING: $tag still names our stand-in: $(tr '\n' ' ' < "$WORK/rmi.log")"
      log "WARNING: remove the containers made from it (docker ps -a --filter ancestor=$tag), then rerun me"
    }
  done
}

summary() {
  printf '\nTest bed ready\n'
  printf '  engine:  Docker %s (client %s)\n' "$(docker version -f '{{.Server.Version}}')" \
    "$(docker version -f '{{.Client.Version}}' 2>/dev/null)"
  printf '  compose: %s\n' "$(docker compose version --short)"
  printf '  images:\n'
  local tag
  for tag in "$REGISTRY_STANDIN" "$UI_STANDIN" dockyard-test/hello:1; do
    printf '    %-32s %s\n' "$tag" "$(docker image inspect -f '{{.Id}}' "$tag" | cut -c8-19)"
  done
}

case "${1:-all}" in
  engine|stand-ins|all) ;;
  *) die "usage: setup.sh [engine|stand-ins|all] (got '$1')" ;;
esac
install_packages
start_dockerd
install_compose
if [ "${1:-all}" = engine ]; then
  exit 0
fi
install_sslyze
build_image registry "$REGISTRY_STANDIN"
build_image ui "$UI_STANDIN"
retire_upstream_tags
if [ "${1:-all}" = stand-ins ]; then
  exit 0
fi
build_image hello dockyard-test/hello:1
# The fleet test bed's host image (sshd + own dockerd), cached by content hash like the others.
bash "$HERE/fleet/build.sh"
# A fleet host whose PID 1 is systemd (the systemd timer of the scheduled garbage collection).
bash "$HERE/systemd/build.sh"
# The S3 engine (Ceph RADOS Gateway from Debian 13's packages), cached by content hash the same way.
bash "$HERE/ceph/build.sh"
bash "$HERE/scaleout/build.sh"
summary
