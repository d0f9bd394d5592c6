# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""registry_tls_mode: acme on the real Docker engine, against Pebble (Debian's package) on loopback.

Pebble validates HTTP-01 for real on the port the role serves the challenge on
(registry_tls_acme_challenge_port), issues certificates valid for 20 days, and logs every request:
the tests count its new orders. One deployment is shared by the tests below, in file order:
first issuance, rerun without any order, docker/skopeo trusting Pebble's root, a renewal that fails
because the challenge port is taken (the current certificate keeps serving), then the renewal
itself. External Account Binding runs against a second Pebble that requires it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import stat

import pytest

from acme_lib import (Pebble, file_chain, fingerprint, issuer_cn, served_chain, skopeo_without_ca, verify_with_openssl,
                      wait_port_closed)
from test_role import _pull_and_check

VALIDITY_DAYS = 20
# Below the validity: the certificate is kept. Above it: every run renews.
KEEP_DAYS, RENEW_DAYS = 10, 25


@pytest.fixture(scope='module')
def pebble(tmp_path_factory, docker_engine):
    server = Pebble(tmp_path_factory.mktemp('pebble'), validity_seconds=VALIDITY_DAYS * 86400).start()
    yield server
    server.stop()


@pytest.fixture(scope='module')
def deployment(role_deployments, pebble):
    dep = role_deployments('acme', registry_tls_mode='acme', registry_tls_acme_directory=pebble.directory,
                           registry_tls_acme_ca_cert=pebble.ca_bundle, registry_tls_acme_email='ops@example.org',
                           registry_tls_acme_challenge_port=pebble.http_port,
                           registry_tls_renew_before_days=KEEP_DAYS)
    dep.orders_before = pebble.orders()
    dep.first_run = dep.play()
    dep.orders_after_first = pebble.orders()
    return dep


def _compare_section(result):
    """What the role found different on the host (its registry_report fact), for assertion messages."""
    return (result.facts().get('registry_report') or {}).get('drift')


def _served(dep):
    return {'registry': served_chain(dep.port), 'ui': served_chain(dep.ui_port)}


# ------------------------------------------------------------------------------------------------
def test_first_issuance_serves_pebbles_certificate_on_registry_and_ui(deployment, pebble):
    result = deployment.first_run
    assert result.rc == 0, result.describe()
    assert deployment.orders_after_first - deployment.orders_before == 1, pebble.log()[-3000:]
    chain = file_chain(os.path.join(deployment.base_dir, 'certs', 'registry.crt'))
    assert len(chain) == 2 and issuer_cn(chain[0]).startswith('Pebble Intermediate CA')
    served = _served(deployment)
    for service in ('registry', 'ui'):
        assert [fingerprint(pem) for pem in served[service]] == [fingerprint(pem) for pem in chain], service
        proc = verify_with_openssl(served[service], pebble.root_file, deployment.workdir)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # Negative control: the listener's CA alone does not verify what is served.
    assert verify_with_openssl(served['registry'], pebble.listener_ca, deployment.workdir).returncode != 0
    # Clients get the private ACME CA; the account key stays on the host, 0600 in secrets/ (0700).
    with open(deployment.ca, 'rb') as handle, open(pebble.ca_bundle, 'rb') as bundle:
        assert handle.read() == bundle.read()
    account_key = os.path.join(deployment.base_dir, 'secrets', 'acme-account.key')
    assert stat.S_IMODE(os.stat(account_key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(account_key)).st_mode) == 0o700
    # The challenge was served only while it ran.
    assert wait_port_closed(pebble.http_port)


def test_rerun_makes_no_acme_request_and_changes_nothing(deployment, pebble):
    ids = (deployment.identity('registry'), deployment.identity('ui'))
    orders, accounts = pebble.orders(), pebble.accounts()
    lines = len(pebble.log().splitlines())
    result = deployment.play()
    assert result.rc == 0, result.describe()
    assert result.changed == 0, (result.changed_tasks(), _compare_section(result))
    assert pebble.orders() == orders and pebble.accounts() == accounts
    # Not even the directory: Pebble logged no request at all.
    assert len(pebble.log().splitlines()) == lines, pebble.log().splitlines()[lines:]
    assert (deployment.identity('registry'), deployment.identity('ui')) == ids


def test_docker_and_skopeo_trust_pebbles_root(deployment):
    _pull_and_check(deployment, deployment.push_unique_image())
    # Negative control: skopeo without the CA refuses the certificate.
    proc = skopeo_without_ca(deployment)
    assert proc.returncode != 0 and 'certificate' in proc.stderr.lower()


def test_failed_challenge_keeps_the_current_certificate_serving(deployment, pebble):
    before = _served(deployment)
    ids = (deployment.identity('registry'), deployment.identity('ui'))
    with open(os.path.join(deployment.base_dir, 'certs', 'registry.crt'), 'rb') as handle:
        stored = handle.read()
    holder = socket.socket(socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET, socket.SOCK_STREAM)
    # Another program holding the port (reuse: the last challenge's connections may be in TIME_WAIT).
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(('::' if socket.has_ipv6 else '0.0.0.0', pebble.http_port))
        holder.listen(1)
        result = deployment.play(registry_tls_renew_before_days=RENEW_DAYS)
    finally:
        holder.close()
    assert result.rc != 0, result.describe()
    failures = '\n'.join(result.failures())
    assert 'registry_tls_mode acme: no certificate for localhost' in failures, failures
    assert 'registry_tls_acme_challenge_port: %d cannot serve the HTTP-01 challenge' % pebble.http_port in failures
    assert 'keep serving the current certificate' in failures
    with open(os.path.join(deployment.base_dir, 'certs', 'registry.crt'), 'rb') as handle:
        assert handle.read() == stored
    assert _served(deployment) == before
    assert (deployment.identity('registry'), deployment.identity('ui')) == ids
    # The challenge server is gone with its work directory.
    assert not [name for name in os.listdir('/tmp') if name.startswith('dockyard-acme-')]


def test_renewal_replaces_the_certificate_and_recreates_registry_and_ui(deployment, pebble):
    before = _served(deployment)
    ids = {'registry': deployment.identity('registry')[0], 'ui': deployment.identity('ui')[0]}
    orders = pebble.orders()
    result = deployment.play(registry_tls_renew_before_days=RENEW_DAYS)
    assert result.rc == 0, result.describe()
    assert pebble.orders() == orders + 1
    after = _served(deployment)
    for service in ('registry', 'ui'):
        assert fingerprint(after[service][0]) != fingerprint(before[service][0]), service
        assert deployment.identity(service)[0] != ids[service], '%s was not recreated' % service
        proc = verify_with_openssl(after[service], pebble.root_file, deployment.workdir)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    chain = file_chain(os.path.join(deployment.base_dir, 'certs', 'registry.crt'))
    assert fingerprint(after['registry'][0]) == fingerprint(chain[0])
    # Back to the usual threshold: nothing to do, no order, nothing recreated.
    ids = {'registry': deployment.identity('registry')[0], 'ui': deployment.identity('ui')[0]}
    orders = pebble.orders()
    result = deployment.play(diff=True)
    assert result.rc == 0 and result.changed == 0, (result.changed_tasks(), _compare_section(result))
    assert pebble.orders() == orders
    assert {'registry': deployment.identity('registry')[0], 'ui': deployment.identity('ui')[0]} == ids
    # The registry still serves what was pushed before the renewal.
    assert deployment.skopeo_inspect().returncode == 0


# ------------------------------------------------------------------------------------------------
EAB_KID = 'kid-dockyard'
EAB_KEY = 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W'
WRONG_KEY = 'b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH'


def test_external_account_binding(role_deployments, tmp_path_factory):
    pebble = Pebble(tmp_path_factory.mktemp('pebble-eab'), eab_keys={EAB_KID: EAB_KEY}).start()
    try:
        dep = role_deployments('acme-eab', registry_tls_mode='acme', registry_tls_acme_directory=pebble.directory,
                               registry_tls_acme_ca_cert=pebble.ca_bundle, registry_ui_enabled=False,
                               registry_tls_acme_challenge_port=pebble.http_port)
        # Without binding, and with the wrong key: refused by the CA, clearly, before any order.
        for extra in ({}, {'registry_tls_acme_eab_kid': EAB_KID, 'registry_tls_acme_eab_hmac_key': WRONG_KEY}):
            result = dep.play(**extra)
            assert result.rc != 0, result.describe()
            failures = '\n'.join(result.failures())
            assert 'registry_tls_mode acme: no certificate for localhost' in failures, failures
            assert "task 'Register or find the ACME account'" in failures
            assert WRONG_KEY not in result.output and EAB_KEY not in result.output
            assert pebble.orders() == 0
            assert not os.path.exists(os.path.join(dep.base_dir, 'certs', 'registry.crt'))
        result = dep.play(registry_tls_acme_eab_kid=EAB_KID, registry_tls_acme_eab_hmac_key=EAB_KEY, verbosity=3)
        assert result.rc == 0, result.describe()
        assert pebble.orders() == 1
        assert EAB_KEY not in result.output
        served = served_chain(dep.port)
        assert issuer_cn(served[0]).startswith('Pebble Intermediate CA')
        assert verify_with_openssl(served, pebble.root_file, dep.workdir).returncode == 0
    finally:
        pebble.stop()
