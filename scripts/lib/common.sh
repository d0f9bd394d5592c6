# shellcheck shell=bash
# Shared by scripts/*: paths, the project virtualenv and the collection tree Ansible sees.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV="${DOCKYARD_VENV:-$REPO/.venv}"
BUILD="$REPO/.build"
# Ansible finds this collection as dockyard.registry through this symlinked tree (edits are live).
COLLECTIONS="$BUILD/collections"
export REPO VENV BUILD COLLECTIONS

log() { printf '\n==> %s\n' "$*" >&2; }

ensure_venv() {
  local stamp="$VENV/.requirements.sha256" want
  want=$(cat "$REPO/requirements.txt" "$REPO/tests/requirements.txt" | sha256sum | cut -d' ' -f1)
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    python3 -m venv "$VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Python requirements into $VENV"
    "$VENV/bin/pip" install --disable-pip-version-check -q -r "$REPO/requirements.txt" -r "$REPO/tests/requirements.txt"
    echo "$want" > "$stamp"
  fi
  mkdir -p "$COLLECTIONS/ansible_collections/dockyard"
  ln -sfn "$REPO" "$COLLECTIONS/ansible_collections/dockyard/registry"
  export PATH="$VENV/bin:$PATH"
  local site
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS:$site"
  export PYTHONPATH="$COLLECTIONS${PYTHONPATH:+:$PYTHONPATH}"
}

# A copy of the collection at ansible_collections/dockyard/registry, as ansible-test wants it.
sync_collection_copy() {
  local dest="$BUILD/ansible-test/ansible_collections/dockyard/registry"
  mkdir -p "$dest"
  # pytest-ansible (integration tests) makes a collections/ tree in pytest's rootdir: never copy it.
  rm -rf "$dest/collections"
  rsync -a --delete --exclude /collections --exclude .git --exclude .venv --exclude .build --exclude tests/output \
    --exclude __pycache__ --exclude .pytest_cache "$REPO/" "$dest/"
  # ansible-test lists files through git: give the copy a work tree of its own, or it is seen as
  # untracked files of the enclosing checkout and every target is skipped.
  [ -d "$dest/.git" ] || git -C "$dest" init -q
  echo "$dest"
}

# ansible-test bootstraps pip in its virtualenvs with a script it downloads from a host CI cannot
# reach; put our offline equivalent where it caches that download (for the pip version it pins).
install_ansible_test_bootstrap() {
  local version
  version=$(python - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
  mkdir -p "$HOME/.ansible/test/cache"
  cp "$REPO/tests/ansible-test/get_pip.py" "$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
}
