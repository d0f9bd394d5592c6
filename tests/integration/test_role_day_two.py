# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Metrics and notifications of the role (issue 9, parts 5 and 6), on the real Docker engine.

One deployment with registry_metrics_enabled and one webhook endpoint. The listener is a real
HTTP server (busybox httpd with a CGI script, in the test bed's registry image) on the
deployment's own Compose network, so the registry reaches it by name and no traffic leaves the
machine. The metrics are scraped with curl on the loopback port the role published.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import uuid

import pytest

from roles_lib import REGISTRY_IMAGE, REPOSITORY, TAG, curl, docker, free_ports, wait_for

LISTENER_CGI = '''#!/bin/sh
# One file per request: the body, and the Authorization header busybox httpd passes as HTTP_AUTHORIZATION.
name=/events/$(date +%s)-$$
head -c "${CONTENT_LENGTH:-0}" > "$name.json"
printf '%s' "$HTTP_AUTHORIZATION" > "$name.auth"
printf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'
'''


@pytest.fixture(scope='module')
def deployment(role_deployments, tmp_path_factory):
    token = 'Bearer tok-%s' % uuid.uuid4().hex
    listener = 'dyrt-listener-%s' % uuid.uuid4().hex[:8]
    metrics_port = free_ports(1)[0]
    dep = role_deployments('daytwo', registry_metrics_enabled=True, registry_metrics_port=metrics_port,
                           registry_notifications=[{
                               'name': 'listener', 'url': 'http://%s:8099/cgi-bin/event' % listener,
                               'headers': {'Authorization': token}, 'timeout': '2s', 'threshold': 3,
                               'backoff': '1s',
                               'ignoredmediatypes': ['application/octet-stream']}])
    dep.token, dep.metrics_port, dep.listener = token, metrics_port, listener
    dep.deploy_run = dep.deploy(verbosity=3)
    www = tmp_path_factory.mktemp('listener')
    os.makedirs(str(www / 'cgi-bin'))
    (www / 'cgi-bin' / 'event').write_text(LISTENER_CGI)
    os.chmod(str(www / 'cgi-bin' / 'event'), 0o755)
    os.makedirs(str(www / 'events'))
    dep.events_dir = str(www / 'events')
    docker('run', '-d', '--name', listener, '--network', '%s_default' % dep.project,
           '-v', '%s:/www/cgi-bin:ro' % (www / 'cgi-bin'), '-v', '%s:/events' % dep.events_dir,
           '--entrypoint', '/bin/busybox', REGISTRY_IMAGE, 'httpd', '-f', '-p', '8099', '-h', '/www', check=True)
    yield dep
    docker('rm', '-f', listener)


@pytest.fixture(scope='module')
def pushed(deployment):
    deployment.push_unique_image()
    status, headers, dummy = curl('%s/v2/%s/manifests/%s' % (deployment.registry_url, REPOSITORY, TAG),
                                  cacert=deployment.ca, user=deployment.admin,
                                  headers=['Accept: application/vnd.docker.distribution.manifest.v2+json'])
    assert status == 200
    return headers['docker-content-digest'][0]


def test_metrics_scraped_after_a_push_show_request_and_storage_counters(deployment, pushed):
    url = 'http://127.0.0.1:%d/metrics' % deployment.metrics_port
    status, dummy, body = curl(url)
    assert status == 200
    for metric in ('registry_http_requests_total', 'registry_storage_action_seconds'):
        assert metric in body, metric
    # The push itself is counted (PUT of the manifest, handler name "manifest").
    assert any(line.startswith('registry_http_requests_total{') and 'method="put"' in line
               and 'handler="manifest"' in line for line in body.splitlines()), body[:2000]
    # Published on loopback only, and the healthcheck (the container's own loopback) still passes.
    ports = deployment.inspect('registry')['NetworkSettings']['Ports']['5001/tcp']
    assert ports == [{'HostIp': '127.0.0.1', 'HostPort': str(deployment.metrics_port)}]
    assert deployment.wait_healthy()['Health']['Status'] == 'healthy'


def test_metrics_off_by_default_publish_nothing(role_deployments):
    """Negative control: without registry_metrics_enabled port 5001 is not published and the debug
    server stays on the container's loopback (config.yml)."""
    dep = role_deployments('nometrics')
    dep.deploy()
    assert '5001/tcp' not in (dep.inspect('registry')['NetworkSettings']['Ports'] or {})
    with open(os.path.join(dep.base_dir, 'config', 'config.yml')) as handle:
        config = handle.read()
    assert 'addr: 127.0.0.1:5001' in config and 'prometheus' not in config


def _events(deployment):
    found = []
    for name in sorted(os.listdir(deployment.events_dir)):
        if not name.endswith('.json'):
            continue
        with open(os.path.join(deployment.events_dir, name)) as handle:
            body = handle.read()
        if not body:
            continue
        with open(os.path.join(deployment.events_dir, name[:-5] + '.auth')) as handle:
            auth = handle.read()
        for event in json.loads(body).get('events', []):
            found.append((event, auth))
    return found


def test_the_listener_hears_the_push_with_repository_digest_and_header(deployment, pushed):
    def push_event():
        return [(event, auth) for event, auth in _events(deployment)
                if event.get('action') == 'push' and event['target'].get('repository') == REPOSITORY
                and event['target'].get('digest') == pushed]
    matches = wait_for(push_event, 60, what='the push event of %s@%s at the listener' % (REPOSITORY, pushed))
    event, auth = matches[0]
    assert event['target']['tag'] == TAG
    assert auth == deployment.token  # the header from registry_notifications
    # Layers (application/octet-stream) are ignored as configured: only manifest events arrive.
    assert all(e['target'].get('mediaType') != 'application/octet-stream' for e, dummy in _events(deployment))


def test_endpoint_secrets_stay_out_of_config_and_logs(deployment):
    secret = deployment.token.split()[-1]
    env_file = os.path.join(deployment.base_dir, 'secrets', 'notifications.env')
    assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600
    with open(os.path.join(deployment.base_dir, 'config', 'config.yml')) as handle:
        assert secret not in handle.read()
    assert secret not in deployment.deploy_run.output
    # Rerun: nothing drifts (the endpoints file and the container definition are stable).
    again = deployment.play()
    assert again.rc == 0 and again.changed == 0, again.changed_tasks()
