# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""registry_tls_mode: provided, live: a leaf + intermediate chain and its key, made here (root ->
intermediate -> leaf for localhost), deployed on the real engine. The registry and the UI serve the
whole chain; docker and skopeo trust the root only (registry_tls_provided_ca); replacing the files
recreates exactly the services that read them; a chain whose intermediate did not sign the leaf is
refused before anything is touched. Tests run in file order on one deployment.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

import pytest

from acme_lib import (cert_pem, fingerprint, key_pem, make_cert, new_key, served_chain, skopeo_without_ca,
                      verify_with_openssl, write)
from test_role import _pull_and_check

NAMES = ['localhost', '127.0.0.1']


class Pki:
    """A root, an intermediate it signed, and leaves the intermediate signs (files in `directory`)."""

    def __init__(self, directory):
        self.directory = str(directory)
        self.root_key, self.inter_key = new_key(), new_key()
        self.root = make_cert(self.root_key, 'dockyard test root', ca=True, days=365)
        self.inter = make_cert(self.inter_key, 'dockyard test intermediate', self.root_key, self.root, ca=True,
                               days=365)
        self.root_file = write(os.path.join(self.directory, 'root.pem'), cert_pem(self.root))

    def leaf(self, name, intermediate=None, intermediate_key=None):
        """(chain file: leaf + intermediate, key file, leaf PEM text, intermediate PEM text)."""
        inter = intermediate if intermediate is not None else self.inter
        key = new_key()
        leaf = make_cert(key, 'localhost', intermediate_key or self.inter_key, inter, names=NAMES)
        chain = write(os.path.join(self.directory, name + '.crt'), cert_pem(leaf) + cert_pem(inter))
        key_file = write(os.path.join(self.directory, name + '.key'), key_pem(key), 0o600)
        return chain, key_file, cert_pem(leaf).decode('ascii'), cert_pem(inter).decode('ascii')


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp('pki'))


@pytest.fixture(scope='module')
def deployment(role_deployments, pki):
    chain, key, leaf, inter = pki.leaf('first')
    dep = role_deployments('provided', registry_tls_mode='provided', registry_tls_certificate=chain,
                           registry_tls_private_key=key, registry_tls_provided_ca=pki.root_file)
    dep.leaf, dep.inter = leaf, inter
    dep.first_run = dep.play()
    return dep


def _ids(dep):
    return {'registry': dep.identity('registry')[0], 'ui': dep.identity('ui')[0]}


def _sha(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_registry_and_ui_serve_the_whole_chain(deployment, pki):
    assert deployment.first_run.rc == 0, deployment.first_run.describe()
    wanted = [fingerprint(deployment.leaf), fingerprint(deployment.inter)]
    for port in (deployment.port, deployment.ui_port):
        served = served_chain(port)
        assert [fingerprint(pem) for pem in served] == wanted, port
        # The root alone verifies it, because the intermediate is served.
        proc = verify_with_openssl(served, pki.root_file, deployment.workdir)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # Negative control: the leaf alone does not verify against the root.
        assert verify_with_openssl(served[:1], pki.root_file, deployment.workdir).returncode != 0
    assert _sha(deployment.ca) == _sha(pki.root_file)


def test_docker_and_skopeo_verify_against_the_root_only(deployment, pki):
    # Docker's certs.d and skopeo's cert dir get certs/ca.crt, which is the root alone.
    with open(deployment.ca) as handle:
        assert handle.read().count('BEGIN CERTIFICATE') == 1
    _pull_and_check(deployment, deployment.push_unique_image())
    # Negative control: skopeo without the CA refuses the certificate.
    proc = skopeo_without_ca(deployment)
    assert proc.returncode != 0 and 'certificate' in proc.stderr.lower()


def test_replacing_the_files_recreates_exactly_what_reads_them(deployment, pki):
    before = _ids(deployment)
    result = deployment.play(diff=True)
    assert result.rc == 0 and result.changed == 0, result.describe()
    assert _ids(deployment) == before  # control: the same files recreate nothing
    chain, key, leaf, inter = pki.leaf('second')
    result = deployment.play(registry_tls_certificate=chain, registry_tls_private_key=key)
    assert result.rc == 0, result.describe()
    after = _ids(deployment)
    assert after['registry'] != before['registry'] and after['ui'] != before['ui']
    for port in (deployment.port, deployment.ui_port):
        assert [fingerprint(pem) for pem in served_chain(port)] == [fingerprint(leaf), fingerprint(inter)]
    deployment.vars.update(registry_tls_certificate=chain, registry_tls_private_key=key)
    deployment.leaf, deployment.inter = leaf, inter
    # The UI off: replacing the files recreates the registry only (the UI does not read them).
    result = deployment.play(registry_ui_enabled=False)
    assert result.rc == 0, result.describe()
    chain, key, leaf, inter = pki.leaf('third')
    registry = deployment.identity('registry')[0]
    result = deployment.play(registry_ui_enabled=False, registry_tls_certificate=chain, registry_tls_private_key=key)
    assert result.rc == 0, result.describe()
    assert deployment.identity('registry')[0] != registry
    assert fingerprint(served_chain(deployment.port)[0]) == fingerprint(leaf)
    result = deployment.play(registry_ui_enabled=False, registry_tls_certificate=chain, registry_tls_private_key=key)
    assert result.rc == 0 and result.changed == 0, result.describe()
    deployment.vars.update(registry_tls_certificate=chain, registry_tls_private_key=key, registry_ui_enabled=False)
    deployment.leaf, deployment.inter = leaf, inter


def test_an_intermediate_that_did_not_sign_the_leaf_fails_before_anything_is_touched(deployment, pki):
    # Another CA's intermediate with the same name, placed after a leaf it did not sign.
    other_key = new_key()
    other = make_cert(other_key, 'dockyard test intermediate', pki.root_key, pki.root, ca=True, days=365)
    chain, key, leaf, dummy = pki.leaf('mixed')
    write(chain, (leaf + cert_pem(other).decode('ascii')).encode('ascii'))
    certs = os.path.join(deployment.base_dir, 'certs')
    stored = dict((name, _sha(os.path.join(certs, name))) for name in os.listdir(certs))
    registry = deployment.identity('registry')[0]
    result = deployment.play(registry_tls_certificate=chain, registry_tls_private_key=key)
    assert result.rc != 0
    failures = '\n'.join(result.failures())
    assert "registry_tls_certificate '%s'" % chain in failures, failures
    assert 'dockyard test intermediate' in failures and 'PRIVATE KEY' not in result.output
    assert dict((name, _sha(os.path.join(certs, name))) for name in os.listdir(certs)) == stored
    assert deployment.identity('registry')[0] == registry
    assert fingerprint(served_chain(deployment.port)[0]) == fingerprint(deployment.leaf)
    # Control: the same leaf with its real intermediate is accepted.
    write(chain, (leaf + deployment.inter).encode('ascii'))
    result = deployment.play(registry_tls_certificate=chain, registry_tls_private_key=key)
    assert result.rc == 0, result.describe()
    assert fingerprint(served_chain(deployment.port)[0]) == fingerprint(leaf)
