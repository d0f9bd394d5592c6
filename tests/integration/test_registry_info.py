# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dockyard.registry.registry_info against the real Docker engine, through real ansible-playbook runs.

A Compose project of its own (two containers of the test bed's registry stand-in, unique project name, always taken down)
is compared with what ``docker inspect`` says, before and after ``docker stop`` of one container;
image ids with ``docker image inspect``; the module's result is read from the JSON callback. A fake ``docker`` first on PATH that exits 127 shows the
module reporting, not failing. The -vvv output is searched for the password and the sha256 option.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import uuid

import pytest

import roles_lib
from roles_lib import REGISTRY_IMAGE, fake_docker

bcrypt = pytest.importorskip('bcrypt')

LABEL = 'org.dockyard.test.registry-info'
PASSWORD = 'Pw-registry-info-' + uuid.uuid4().hex[:12]  # unique, so its absence from output can be asserted

COMPOSE = '''
services:
  registry:
    image: %(image)s
    labels:
      %(label)s: "%(token)s"
  mirror:
    image: %(image)s
    labels:
      %(label)s: "%(token)s"
'''


def run(argv, check=True):
    return roles_lib.run(argv, check=check)


# The tests name the module's options as they did when a playbook templated them from variables.
OPTIONS = dict(info_paths='paths', info_htpasswd='htpasswd', info_project='project_name', info_images='images')


def run_info(tmp_path, info_vars, check=False, path_prefix=None):
    """The module once through ansible-playbook -vvv: (its result, all output). Asserts rc 0."""
    return roles_lib.run_module(tmp_path, 'dockyard.registry.registry_info',
                                dict((OPTIONS[name], value) for name, value in info_vars.items()),
                                check=check, verbosity=3, extra_path=path_prefix)


def docker_inspect(ids):
    return json.loads(run(['docker', 'inspect'] + ids).stdout)


@pytest.fixture
def compose_project(docker_engine, tmp_path, request):
    """A running Compose project of two containers; `down` in a finalizer, also when the test failed."""
    name = 'dyinfo-%s' % uuid.uuid4().hex[:10]
    token = uuid.uuid4().hex
    directory = tmp_path / 'project'
    directory.mkdir()
    compose_file = directory / 'docker-compose.yml'
    compose_file.write_text(COMPOSE % dict(image=REGISTRY_IMAGE, label=LABEL, token=token))
    base = ['docker', 'compose', '-p', name, '-f', str(compose_file)]
    request.addfinalizer(lambda: run(base + ['down', '--volumes', '--remove-orphans', '--timeout', '1'],
                                     check=False))
    run(base + ['up', '-d', '--quiet-pull'])
    return dict(name=name, token=token)


def project_container_ids(name):
    out = run(['docker', 'ps', '-aq', '--filter', 'label=com.docker.compose.project=%s' % name]).stdout
    return out.split()


def assert_containers_match_docker(containers, project):
    """Every reported container is the one `docker inspect` shows, and all of them are reported."""
    truth = docker_inspect(project_container_ids(project['name']))
    assert len(truth) == 2
    by_name = dict((item['Name'].lstrip('/'), item) for item in truth)
    assert sorted(c['name'] for c in containers) == sorted(by_name)
    for container in containers:
        item = by_name[container['name']]
        assert container['service'] == item['Config']['Labels']['com.docker.compose.service']
        assert container['state'] == item['State']['Status']
        assert container['labels'] == item['Config']['Labels']
        assert container['image_id'] == item['Image']
        assert container['started_at'] == item['State']['StartedAt']
        assert container['health'] == (item['State'].get('Health') or {}).get('Status', '')
        assert container['labels'][LABEL] == project['token']
    return by_name


def test_real_project_images_and_no_secrets_in_vvv(tmp_path, compose_project):
    config = tmp_path / 'config.yml'
    config.write_text('version: 0.1\nlog: {level: info}\n')
    sha256 = hashlib.sha256(config.read_bytes()).hexdigest()
    htpasswd = tmp_path / 'htpasswd'
    htpasswd.write_bytes(b'ci:' + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)) + b'\n')
    missing_image = 'dockyard-test/absent:%s' % uuid.uuid4().hex[:8]
    info_vars = dict(
        info_paths=[dict(path=str(config), sha256=sha256), dict(path=str(htpasswd))],
        info_htpasswd=dict(path=str(htpasswd), users=[dict(name='ci', password=PASSWORD)], exclusive=True),
        info_project=compose_project['name'],
        info_images=[REGISTRY_IMAGE, missing_image])

    result, output = run_info(tmp_path, info_vars)
    assert result['changed'] is False
    docker = result['docker']
    assert docker['available'] is True and docker['error'] == ''
    assert docker['server_version'] == run(['docker', 'version', '--format', '{{.Server.Version}}']).stdout.strip()
    assert docker['compose_version'] == run(['docker', 'compose', 'version', '--short']).stdout.strip()
    by_name = assert_containers_match_docker(result['containers'], compose_project)
    assert sorted(c['service'] for c in result['containers']) == ['mirror', 'registry']
    assert all(c['state'] == 'running' for c in result['containers'])

    registry_id = run(['docker', 'image', 'inspect', '--format', '{{.Id}}', REGISTRY_IMAGE]).stdout.strip()
    assert result['images'] == {REGISTRY_IMAGE: registry_id, missing_image: None}
    assert run(['docker', 'image', 'inspect', missing_image], check=False).returncode != 0

    # The secrets were used (the checksum matched, the password verified)...
    assert result['paths'][str(config)]['sha256_matches'] is True
    assert result['htpasswd'] == dict(changed=False, added=[], removed=[], updated=[])
    # ...and appear nowhere in the -vvv output.
    assert PASSWORD not in output and sha256 not in output
    assert PASSWORD.encode() not in htpasswd.read_bytes()

    # Control: a stopped container is reported as exited, the other one still running.
    stopped = sorted(by_name)[0]
    run(['docker', 'stop', '--time', '1', stopped])
    again, dummy = run_info(tmp_path, dict(info_vars, info_paths=[], info_htpasswd=dict(
        path=str(htpasswd), users=[dict(name='ci', password='Wrong-' + PASSWORD)])))
    assert_containers_match_docker(again['containers'], compose_project)
    states = dict((c['name'], c['state']) for c in again['containers'])
    assert states.pop(stopped) == 'exited'
    assert list(states.values()) == ['running']
    assert again['htpasswd']['updated'] == ['ci']   # negative control of the password check


def test_fake_docker_exiting_127_is_reported_not_failed(tmp_path):
    fake_bin = fake_docker(str(tmp_path / 'bin'), 'echo "docker: fake, not installed" >&2\nexit 127\n')
    fake = tmp_path / 'bin' / 'docker'
    result, dummy = run_info(tmp_path, dict(info_paths=[dict(path=str(fake), checksum=True)],
                                            info_project='dyinfo-none', info_images=[REGISTRY_IMAGE]),
                             check=True, path_prefix=str(fake_bin))
    assert result['changed'] is False and not result.get('failed')
    assert result['docker'] == dict(available=False, server_version=None, compose_version=None,
                                    error='docker: fake, not installed', compose_error='')
    assert result['containers'] is None and result['images'] == {REGISTRY_IMAGE: None}
    assert result['paths'][str(fake)]['sha256'] == hashlib.sha256(fake.read_bytes()).hexdigest()
