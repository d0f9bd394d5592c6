# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures of the integration tests (plain pytest, real programs).

Role deployments (tests/integration/test_role*.py):
  docker_engine       skips when no Docker engine answers; fails when test-bed images are missing
  role_deployments    module-scoped factory of roles_lib.Deployment objects, each torn down at the
                      end of the module (compose project, /etc/docker/certs.d entry, image tags),
                      also when a test failed

S3 (tests/integration/s3_lib.py):
  ceph_rgw            module-scoped factory of started, healthy Ceph RADOS Gateways (s3_lib.CephRGW),
                      each removed at the end of the module, also when a test failed

Module tests:
  local_registries    factory of roles_lib.LocalRegistry processes (Debian's docker-registry), each
                      in its own directory under tmp_path, all stopped at teardown; skips when the
                      package is not installed
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import roles_lib  # noqa: E402
import s3_lib  # noqa: E402


def teardown_all(made):
    """Call teardown() of each object (a list of problems each); report, never raise: a leftover on a
    shared engine must not hide the tests' own results."""
    errors = []
    for thing in made:
        errors.extend(thing.teardown())
    if errors:
        sys.stderr.write('teardown problems: %s\n' % '; '.join(errors))


@pytest.fixture(scope='session')
def docker_engine():
    """A Docker engine with Compose v2 and the test bed's images (tests/testbed/setup.sh)."""
    try:
        info = subprocess.run(['docker', 'info'], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        info = None
    if info is None or info.returncode != 0:
        pytest.skip('no Docker engine answers `docker info`: ' + roles_lib.SETUP_HINT)
    if roles_lib.docker('compose', 'version').returncode != 0:
        pytest.fail('Docker Compose v2 is missing: ' + roles_lib.SETUP_HINT)
    missing = [image for image in (roles_lib.REGISTRY_IMAGE, roles_lib.UI_IMAGE, roles_lib.HELLO_IMAGE)
               if roles_lib.docker('image', 'inspect', image).returncode != 0]
    if missing:
        pytest.fail('test bed images missing: %s; %s' % (', '.join(missing), roles_lib.SETUP_HINT))


@pytest.fixture(scope='module')
def role_deployments(docker_engine, tmp_path_factory):
    """make(label, users=None, **role_vars) -> roles_lib.Deployment (not deployed yet)."""
    made = []

    def make(label, users=None, **role_vars):
        deployment = roles_lib.Deployment(tmp_path_factory.mktemp('role-%s' % label), label,
                                          users=users, **role_vars)
        made.append(deployment)
        return deployment

    yield make
    teardown_all(made)


@pytest.fixture(scope='module')
def ceph_rgw(docker_engine):
    """make(network=None, bucket='registry', publish=True, store='memstore', alias=None) -> s3_lib.CephRGW,
    started and healthy. network: a Docker network to join (its containers reach rgw.endpoint, by alias
    if given); None makes one of its own (rgw.network). publish: a loopback port for this machine's
    clients (rgw.url). bucket: one or more names separated by spaces (rgw.bucket: the first,
    rgw.buckets: all)."""
    if not s3_lib.image_present():
        pytest.fail('test bed image missing: %s; %s' % (s3_lib.CEPH_IMAGE, roles_lib.SETUP_HINT))
    made = []

    def make(network=None, bucket='registry', publish=True, store='memstore', alias=None, timeout=180):
        rgw = s3_lib.CephRGW(network=network, bucket=bucket, publish=publish, store=store, alias=alias)
        made.append(rgw)
        return rgw.start(timeout=timeout)

    yield make
    teardown_all(made)


@pytest.fixture
def local_registries(tmp_path):
    """make(start=True, **roles_lib.LocalRegistry options) -> LocalRegistry (started unless start=False)."""
    if not os.access(roles_lib.REGISTRY_BIN, os.X_OK):
        pytest.skip('needs Debian package docker-registry (%s)' % roles_lib.REGISTRY_BIN)
    made = []

    def make(start=True, **options):
        directory = tmp_path / ('registry%d' % len(made))
        directory.mkdir()
        registry = roles_lib.LocalRegistry(directory, **options)
        made.append(registry)
        return registry.start() if start else registry

    yield make
    for registry in made:
        registry.stop()
