# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Backup and restore (issue 9 part 3), with two deployments on this host (two Compose projects,
two base directories): registry A is backed up with playbooks/backup.yml, the archive is restored
with playbooks/restore.yml onto registry B's bare base directory, and every tag of every repository
answers from B with the manifest digest it had on A; the users log in to B with their passwords;
docker pulls an image from B.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import tarfile
import uuid

from roles_lib import REPO, curl

BACKUP = os.path.join(REPO, 'playbooks', 'backup.yml')
RESTORE = os.path.join(REPO, 'playbooks', 'restore.yml')
ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json'


def every_tag(dep):
    """{(repository, tag): manifest digest} of the whole registry, read with curl."""
    found = {}
    status, dummy, body = curl('%s/v2/_catalog' % dep.registry_url, cacert=dep.ca, user=dep.admin)
    assert status == 200
    import json
    for repository in json.loads(body)['repositories']:
        status, dummy, body = curl('%s/v2/%s/tags/list' % (dep.registry_url, repository), cacert=dep.ca, user=dep.admin)
        for tag in json.loads(body)['tags'] or []:
            status, headers, dummy = curl('%s/v2/%s/manifests/%s' % (dep.registry_url, repository, tag),
                                          cacert=dep.ca, user=dep.admin, headers=['Accept: ' + ACCEPT])
            assert status == 200
            found[(repository, tag)] = headers['docker-content-digest'][0]
    return found


def read(path):
    with open(path) as handle:
        return handle.read()


def test_backup_of_a_restored_onto_b_brings_the_same_registry_back(role_deployments, tmp_path):
    users = [{'name': 'admin', 'password': 'Adm1n-%s' % uuid.uuid4().hex},
             {'name': 'ci', 'password': 'C1-%s' % uuid.uuid4().hex}]
    a = role_deployments('backupa', users=users, registry_ui_enabled=False)
    a.deploy()
    a.push_unique_image()
    tag, dummy = a.build_unique_image()
    for ref in ('localhost:%d/team/app:1.0' % a.port, 'localhost:%d/team/app:latest' % a.port):
        a.image_tags.append(ref)
        a.docker_client('tag', tag, ref, check=True)
        assert a.docker_client('push', ref, timeout=300).returncode == 0
    tags_a = every_tag(a)
    assert len(tags_a) == 3

    backups = str(tmp_path / 'backups')
    result = a.play(playbook=BACKUP, registry_backup_path=backups)
    assert result.rc == 0, result.describe()
    archive = os.path.join(backups, 'localhost-%s.tar.gz' % a.project)
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(backups).st_mode) == 0o700
    with tarfile.open(archive) as handle:
        names = handle.getnames()
    for member in ('config/config.yml', 'certs/registry.key', 'auth/htpasswd', 'secrets/registry.env',
                   'docker-compose.yml'):
        assert member in names, member
    assert any(name.startswith('data/docker/registry/v2/blobs/') for name in names)
    # A is read-write again and nothing of its content changed.
    assert 'io.dockyard.registry.maintenance' not in a.inspect('registry')['Config']['Labels']
    assert every_tag(a) == tags_a

    # B: a bare base directory (never deployed), the same users in its variables.
    b = role_deployments('backupb', users=users, registry_ui_enabled=False)
    assert not os.path.exists(b.base_dir)
    restored = b.play(playbook=RESTORE, registry_backup_path=backups, registry_backup_archive=archive)
    assert restored.rc == 0, restored.describe()
    b.trust()
    assert every_tag(b) == tags_a
    # The same users (the very same bcrypt entries: restored, not re-hashed), the same HTTP secret,
    # the same certificate and CA; private files stay private.
    assert read(os.path.join(b.base_dir, 'auth', 'htpasswd')) == read(os.path.join(a.base_dir, 'auth', 'htpasswd'))
    assert b.http_secret() == a.http_secret()
    assert read(os.path.join(b.base_dir, 'certs', 'ca.crt')) == read(a.ca)
    for private in ('certs/registry.key', 'secrets/registry.env'):
        assert stat.S_IMODE(os.stat(os.path.join(b.base_dir, private)).st_mode) == 0o600, private
    for user in users:
        proc = b.login(user['name'], user['password'])
        assert proc.returncode == 0, proc.stderr
    # Negative control: a wrong password is refused by B.
    assert b.login('ci', 'not-the-password').returncode != 0
    b.login(*b.admin)
    ref = 'localhost:%d/team/app:1.0' % b.port
    b.image_tags.append(ref)
    proc = b.docker_client('pull', ref, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # A rerun of the role on B changes nothing: the restored files are what the role wants.
    again = b.play()
    assert again.rc == 0 and again.changed == 0, again.changed_tasks()
