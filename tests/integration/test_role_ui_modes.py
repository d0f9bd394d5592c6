# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role's UI modes on the real Docker engine: forward_credentials with deleting on, and
cross_origin. Each mode is its own deployment (own project, base dir, ports)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os
import stat
import uuid

import pytest

from roles_lib import MANIFEST_ACCEPT, REPOSITORY, TAG, curl, curl_status, ui_app_attributes


@pytest.fixture(scope='module')
def forwarding(role_deployments):
    proxy_user = {'name': 'uiproxy', 'password': 'Pr0xy-%s' % uuid.uuid4().hex}
    dep = role_deployments('fwd', registry_ui_mode='forward_credentials', registry_ui_proxy_user=proxy_user,
                           registry_delete_enabled=True, registry_ui_title='Fleet %s' % uuid.uuid4().hex[:6])
    dep.proxy_user = proxy_user
    dep.deploy_run = dep.deploy(verbosity=3)
    dep.token = dep.push_unique_image()
    return dep


@pytest.fixture(scope='module')
def cross_origin(role_deployments):
    dep = role_deployments('cors', registry_ui_mode='cross_origin')
    dep.deploy()
    return dep


def test_forward_credentials_ui_needs_no_credentials_but_registry_does(forwarding):
    status, dummy, body = curl(forwarding.ui_url + '/', cacert=forwarding.ca)
    assert status == 200
    app = ui_app_attributes(body)
    assert app['name'] == forwarding.vars['registry_ui_title'], app  # REGISTRY_TITLE
    assert app['is-image-remove-activated'] == 'true', app  # registry_delete_enabled

    status, dummy, body = curl(forwarding.ui_url + '/v2/_catalog', cacert=forwarding.ca)
    assert status == 200
    assert REPOSITORY in body
    # The registry port itself still wants credentials (anonymous and wrong: 401; right: 200).
    url = forwarding.registry_url + '/v2/_catalog'
    assert curl_status(url, cacert=forwarding.ca) == 401
    assert curl_status(url, cacert=forwarding.ca, user=(forwarding.proxy_user['name'], 'wrong')) == 401
    assert curl_status(url, cacert=forwarding.ca,
                       user=(forwarding.proxy_user['name'], forwarding.proxy_user['password'])) == 200


def test_forward_credentials_secrets_stay_out_of_output_and_world(forwarding):
    password = forwarding.proxy_user['password']
    basic = base64.b64encode(('%s:%s' % (forwarding.proxy_user['name'], password)).encode()).decode()
    output = forwarding.deploy_run.output
    assert '<localhost> EXEC' in output
    assert password not in output
    assert basic not in output
    assert forwarding.admin[1] not in output
    assert forwarding.http_secret() not in output
    for path in ('secrets/ui.env', 'secrets/registry.env', 'certs/registry.key'):
        mode = stat.S_IMODE(os.stat(os.path.join(forwarding.base_dir, path)).st_mode)
        assert mode == 0o600, '%s has mode %o' % (path, mode)
    assert not any(basic in item for item in forwarding.inspect('ui')['Config']['Labels'].values())


def test_delete_through_the_ui_when_enabled(forwarding):
    manifest = '%s/v2/%s/manifests/%s' % (forwarding.ui_url, REPOSITORY, TAG)
    accept = ['Accept: ' + MANIFEST_ACCEPT]
    status, headers, dummy = curl(manifest, cacert=forwarding.ca, headers=accept)
    assert status == 200
    digest = headers['docker-content-digest'][0]
    assert digest.startswith('sha256:')
    by_digest = '%s/v2/%s/manifests/%s' % (forwarding.ui_url, REPOSITORY, digest)
    # Negative control: the registry port refuses the same DELETE without credentials.
    direct = '%s/v2/%s/manifests/%s' % (forwarding.registry_url, REPOSITORY, digest)
    assert curl_status(direct, method='DELETE', cacert=forwarding.ca) == 401
    assert curl_status(manifest, cacert=forwarding.ca, headers=accept) == 200

    assert curl_status(by_digest, method='DELETE', cacert=forwarding.ca) == 202
    assert curl_status(manifest, cacert=forwarding.ca, headers=accept) == 404
    assert curl_status(by_digest, cacert=forwarding.ca, headers=accept) == 404
    proc = forwarding.skopeo_inspect()
    assert proc.returncode != 0


def test_cross_origin_allows_exactly_the_ui_origin(cross_origin):
    origin = 'https://localhost:%d' % cross_origin.ui_port
    url = cross_origin.registry_url + '/v2/'
    for user in (None, cross_origin.admin):
        status, headers, dummy = curl(url, cacert=cross_origin.ca, user=user, headers=['Origin: ' + origin])
        assert status == (200 if user else 401)
        assert headers.get('access-control-allow-origin') == [origin]
        assert headers.get('access-control-allow-credentials') == ['true']
    # The UI has no /v2 proxy in this mode: the browser calls the registry itself.
    status, dummy, body = curl(cross_origin.ui_url + '/', cacert=cross_origin.ca)
    assert status == 200
    assert 'registry-url="https://localhost:%d"' % cross_origin.port in body
    assert curl_status(cross_origin.ui_url + '/v2/', cacert=cross_origin.ca) == 404


def test_proxy_mode_sends_no_cors_headers(forwarding):
    """Control for the test above: without cross_origin the registry allows no origin."""
    status, headers, dummy = curl(forwarding.registry_url + '/v2/', cacert=forwarding.ca,
                                  headers=['Origin: https://localhost:%d' % forwarding.ui_port])
    assert status == 401
    assert 'access-control-allow-origin' not in headers
