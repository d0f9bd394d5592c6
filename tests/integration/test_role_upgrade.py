# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Upgrade distribution 2.8 -> 3.x by changing registry_version (issue 9 part 4).

A 3.x image cannot run on this test bed (no registry to pull it from, no Debian package). What can
run, runs: a live 2.8 deployment with a pushed image; then the role with registry_version 3.0.0,
which writes the 3.x configuration where 3.x reads it and stops at the missing image; the files it
left on the host are checked against v3's contract (test_role_render's key tree and mount checks);
data/ is byte for byte the same (sha256 of every file); and going back to 2.8 serves the image with
the same digest.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

import yaml

from roles_lib import REPOSITORY, TAG, curl
from test_role_render import contract_problems


def data_checksums(dep):
    sums = {}
    root = os.path.join(dep.base_dir, 'data')
    for dirpath, dummy, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as handle:
                sums[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return sums


def manifest_digest(dep):
    status, headers, dummy = curl('%s/v2/%s/manifests/%s' % (dep.registry_url, REPOSITORY, TAG), cacert=dep.ca,
                                  user=dep.admin,
                                  headers=['Accept: application/vnd.docker.distribution.manifest.v2+json'])
    assert status == 200
    return headers['docker-content-digest'][0]


def host_files(dep):
    with open(os.path.join(dep.base_dir, 'config', 'config.yml')) as handle:
        config = yaml.safe_load(handle)
    with open(os.path.join(dep.base_dir, 'docker-compose.yml')) as handle:
        compose = yaml.safe_load(handle)
    return config, compose


def test_upgrade_to_3_writes_the_v3_contract_and_keeps_data(role_deployments):
    dep = role_deployments('upgrade', registry_ui_enabled=False)
    dep.deploy()
    token = dep.push_unique_image()
    digest = manifest_digest(dep)
    before = data_checksums(dep)
    assert any(path.endswith('/data') for path in before)
    config2, compose2 = host_files(dep)
    assert contract_problems(2, config2, compose2, dep.base_dir) == []

    upgrade = dep.play(registry_version='3.0.0', registry_image='docker.io/library/registry:3.0.0',
                       registry_pull_policy='never')
    # This test bed has no 3.x image: the run stops when Compose wants it, after writing the files.
    assert upgrade.rc != 0
    assert 'registry:3.0.0' in upgrade.output, upgrade.describe()
    config3, compose3 = host_files(dep)
    assert contract_problems(3, config3, compose3, dep.base_dir) == []
    # Negative control: the same files judged as 2.x are wrong (the config is where only 3.x reads it).
    assert any('not mounted at /etc/docker/registry' in problem
               for problem in contract_problems(2, config3, compose3, dep.base_dir))
    service = compose3['services']['registry']
    assert service['image'] == 'docker.io/library/registry:3.0.0'
    assert '%s/data:/var/lib/registry' % dep.base_dir in service['volumes']
    assert service['volumes'][1:] == compose2['services']['registry']['volumes'][1:]
    # Same settings; only the version comment of config.yml differs.
    assert config3 == config2
    assert data_checksums(dep) == before

    # Back to 2.8 (what runs here): the same image answers with the same digest, data untouched.
    back = dep.play()
    assert back.rc == 0, back.describe()
    assert manifest_digest(dep) == digest
    assert data_checksums(dep) == before
    dep.remove_local_image()
    proc = dep.docker_client('pull', dep.image_ref, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert dep.local_token() == token
