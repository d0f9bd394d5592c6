# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The UI's own key and certificate (issue 8, point 3), live on the real engine with real TLS.

The UI container mounts ui-certs/ (its own key and certificate) and its tls.conf, nothing of
certs/: it cannot read the registry's key (the registry can: negative control). The UI serves a
certificate of another key than the registry's, which verifies with the same trust (certs/ca.crt:
the registry's and the UI's self-signed certificates in self_signed mode, the role's CA in ca mode,
the provided root in provided mode), and still proxies authenticated /v2/ requests. A rerun changes
nothing; drift of the UI's files (mode, removed, other names) is repaired without restarting the
registry; a deployment made by the previous version gets ui-certs/ and a recreated UI, the registry
untouched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import stat
import subprocess

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acme_lib import cert_pem, fingerprint, make_cert, served_chain, verify_with_openssl, write
from roles_lib import REPO, INVENTORY, ansible_playbook, curl, curl_status, docker
from test_role_provided import Pki

# The last version whose UI mounted all of certs/ (the base of this change).
PREVIOUS_VERSION = 'ba49125'
PREVIOUS_ARTIFACT = os.path.join(REPO, 'tests', 'testbed', 'previous', 'dockyard-registry-%s.tar.gz' % PREVIOUS_VERSION)


@pytest.fixture(scope='module')
def self_signed(role_deployments):
    dep = role_deployments('uicert-ss')
    dep.first_run = dep.deploy()
    return dep


@pytest.fixture(scope='module')
def ca_mode(role_deployments, tmp_path_factory):
    pki = tmp_path_factory.mktemp('uicert-ca')
    dep = role_deployments('uicert-ca', registry_tls_mode='ca', registry_tls_ca_create=True,
                           registry_tls_ca_cert=str(pki / 'ca.crt'), registry_tls_ca_key=str(pki / 'ca.key'))
    dep.first_run = dep.deploy()
    dep.controller_ca = str(pki / 'ca.crt')
    return dep


@pytest.fixture(params=['self_signed', 'ca_mode'])
def dep(request):
    return request.getfixturevalue(request.param)


def _path(dep, *parts):
    return os.path.join(dep.base_dir, *parts)


def _public_key(pem):
    return x509.load_pem_x509_certificate(pem.encode('ascii')).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _ids(dep):
    return {'registry': dep.identity('registry'), 'ui': dep.identity('ui')}


def test_the_ui_mounts_only_its_own_key_and_certificate(dep):
    listing = docker('exec', dep.container_id('ui'), 'ls', '-la', '/etc/nginx/certs', check=True).stdout
    names = sorted(line.split()[-1] for line in listing.splitlines()[1:] if line.split()[-1] not in ('.', '..'))
    assert names == ['ui.crt', 'ui.key'], listing
    mounts = dep.inspect('ui')['Mounts']
    certs = _path(dep, 'certs')
    assert sorted(mount['Source'] for mount in mounts) == [_path(dep, 'ui-certs'), _path(dep, 'ui', 'tls.conf')]
    assert not [mount for mount in mounts if mount['Source'] == certs or mount['Source'].startswith(certs + os.sep)]
    assert all(mount['RW'] is False for mount in mounts)
    # Control: the registry does mount certs/.
    assert certs in [mount['Source'] for mount in dep.inspect('registry')['Mounts']]


def test_the_ui_cannot_read_the_registry_key(dep):
    ui = dep.container_id('ui')
    for path in ('/etc/nginx/certs/registry.key', '/certs/registry.key'):
        proc = docker('exec', ui, 'cat', path)
        assert proc.returncode != 0 and 'BEGIN' not in proc.stdout, path
    found = docker('exec', ui, 'sh', '-c', 'find / -path /proc -prune -o -name "registry.key" -print 2>/dev/null')
    assert found.stdout.strip() == '', found.stdout
    with open(_path(dep, 'certs', 'registry.key')) as handle:
        registry_key = handle.read()
    # Negative control: the registry reads its own key, the same bytes as on the host.
    proc = docker('exec', dep.container_id('registry'), 'cat', '/certs/registry.key')
    assert proc.returncode == 0 and proc.stdout == registry_key
    # The UI's key is not the registry's.
    with open(_path(dep, 'ui-certs', 'ui.key')) as handle:
        assert handle.read() != registry_key


def test_only_root_in_the_ui_reads_its_key(dep):
    """nginx's master process (root) reads the key before it starts its workers (user nginx): the
    workers, and anyone else in the container, cannot."""
    ui = dep.container_id('ui')
    ps = docker('exec', ui, 'ps', '-o', 'user,args', check=True).stdout
    assert any(line.split()[0] in ('root', '0') and 'nginx: master' in line for line in ps.splitlines()), ps
    assert any(line.split()[0] in ('nginx', '101') and 'nginx: worker' in line for line in ps.splitlines()), ps
    as_worker = docker('exec', '-u', 'nginx', ui, 'cat', '/etc/nginx/certs/ui.key')
    assert as_worker.returncode != 0 and 'BEGIN' not in as_worker.stdout
    as_root = docker('exec', ui, 'cat', '/etc/nginx/certs/ui.key')  # control
    assert as_root.returncode == 0 and 'PRIVATE KEY' in as_root.stdout


def test_ui_certs_modes_on_the_host(dep):
    for parts, wanted in ((('ui-certs',), 0o750), (('ui-certs', 'ui.key'), 0o600), (('ui-certs', 'ui.crt'), 0o644)):
        info = os.stat(_path(dep, *parts))
        assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (wanted, 0, 0), parts
    assert sorted(os.listdir(_path(dep, 'ui-certs'))) == ['ui.crt', 'ui.key']


def test_the_ui_serves_another_key_with_the_same_trust(dep):
    registry, ui = served_chain(dep.port), served_chain(dep.ui_port)
    assert registry and ui
    assert _public_key(registry[0]) != _public_key(ui[0])
    with open(_path(dep, 'ui-certs', 'ui.crt')) as handle:
        assert fingerprint(ui[0]) == fingerprint(handle.read())
    for chain in (registry, ui):
        proc = verify_with_openssl(chain, dep.ca, dep.workdir)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # The same with curl, as browsers and clients do.
    assert curl_status(dep.ui_url + '/', cacert=dep.ca) == 200
    # Negative control: what verifies the registry alone does not verify the UI.
    proc = verify_with_openssl(ui, _path(dep, 'certs', 'registry.crt'), dep.workdir)
    assert proc.returncode != 0


def test_ca_mode_the_role_ca_signs_the_ui(ca_mode):
    ui = served_chain(ca_mode.ui_port)
    proc = verify_with_openssl(ui, ca_mode.controller_ca, ca_mode.workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(ca_mode.ca) as handle, open(ca_mode.controller_ca) as controller:
        assert handle.read() == controller.read()  # clients trust the one CA


def test_self_signed_ca_file_holds_both_certificates(self_signed):
    with open(self_signed.ca) as handle, open(_path(self_signed, 'certs', 'registry.crt')) as registry, \
            open(_path(self_signed, 'ui-certs', 'ui.crt')) as ui:
        assert handle.read() == registry.read() + ui.read()


def test_the_ui_still_proxies_authenticated_requests(dep):
    url = dep.ui_url + '/v2/_catalog'
    assert curl_status(url, cacert=dep.ca) == 401
    assert curl_status(url, cacert=dep.ca, user=(dep.admin[0], 'wrong')) == 401
    status, dummy, body = curl(url, cacert=dep.ca, user=dep.admin)
    assert status == 200 and 'repositories' in body


def test_a_rerun_changes_nothing(dep):
    before = _ids(dep)
    result = dep.play()
    assert result.rc == 0 and result.changed == 0, result.describe()
    assert _ids(dep) == before


def _repairs(dep):
    result = dep.play()
    assert result.rc == 0 and result.changed > 0, result.describe()
    again = dep.play()
    assert again.rc == 0 and again.changed == 0, again.describe()
    return result


def test_a_readable_ui_key_is_made_private_again(dep):
    key = _path(dep, 'ui-certs', 'ui.key')
    os.chmod(key, 0o644)
    before = _ids(dep)
    _repairs(dep)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert _ids(dep) == before  # the same key and certificate: nothing restarted


def test_a_ui_certificate_for_other_names_is_replaced_without_restarting_the_registry(dep):
    cert = _path(dep, 'ui-certs', 'ui.crt')
    with open(_path(dep, 'ui-certs', 'ui.key'), 'rb') as handle:
        key = serialization.load_pem_private_key(handle.read(), None)
    write(cert, cert_pem(make_cert(key, 'elsewhere.example', names=['elsewhere.example'])))
    before = _ids(dep)
    _repairs(dep)
    after = _ids(dep)
    assert after['registry'] == before['registry']
    assert after['ui'] != before['ui']  # it serves the new certificate
    assert curl_status(dep.ui_url + '/', cacert=dep.ca) == 200
    names = x509.load_pem_x509_certificate(served_chain(dep.ui_port)[0].encode('ascii')).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert 'localhost' in names and 'elsewhere.example' not in names


def test_a_removed_ui_certs_directory_is_made_again(dep):
    shutil.rmtree(_path(dep, 'ui-certs'))
    before = _ids(dep)
    _repairs(dep)
    assert sorted(os.listdir(_path(dep, 'ui-certs'))) == ['ui.crt', 'ui.key']
    assert _ids(dep)['registry'] == before['registry']
    assert curl_status(dep.ui_url + '/', cacert=dep.ca) == 200
    assert _public_key(served_chain(dep.ui_port)[0]) != _public_key(served_chain(dep.port)[0])


# ------------------------------------------------------------------------------------------------
# provided mode: the UI's own provided pair.

@pytest.fixture(scope='module')
def provided(role_deployments, tmp_path_factory):
    pki = Pki(tmp_path_factory.mktemp('uicert-pki'))
    chain, key, dummy, dummy = pki.leaf('registry')
    ui_chain, ui_key, ui_leaf, ui_inter = pki.leaf('ui')
    dep = role_deployments('uicert-prov', registry_tls_mode='provided', registry_tls_certificate=chain,
                           registry_tls_private_key=key, registry_tls_provided_ca=pki.root_file,
                           registry_ui_tls_certificate=ui_chain, registry_ui_tls_private_key=ui_key)
    dep.first_run = dep.deploy()
    dep.pki, dep.ui_chain_files = pki, (ui_chain, ui_key)
    dep.ui_leaf, dep.ui_inter = ui_leaf, ui_inter
    return dep


def test_provided_ui_pair_is_served_and_trusted_by_the_same_root(provided):
    served = served_chain(provided.ui_port)
    assert [fingerprint(pem) for pem in served] == [fingerprint(provided.ui_leaf), fingerprint(provided.ui_inter)]
    assert _public_key(served[0]) != _public_key(served_chain(provided.port)[0])
    proc = verify_with_openssl(served, provided.pki.root_file, provided.workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(provided.ui_chain_files[1], 'rb') as given, open(_path(provided, 'ui-certs', 'ui.key'), 'rb') as host:
        assert given.read() == host.read()
    # Its own pair: no warning about a copy of the registry's key (the plan's unit tests show the warning).
    assert "copy of the registry's certificate and key" not in provided.first_run.output
    listing = docker('exec', provided.container_id('ui'), 'ls', '/etc/nginx/certs', check=True).stdout.split()
    assert sorted(listing) == ['ui.crt', 'ui.key']
    result = provided.play()
    assert result.rc == 0 and result.changed == 0, result.describe()


# ------------------------------------------------------------------------------------------------
# A deployment made by the previous version (the UI mounted certs/).

def _previous_collection(workdir):
    """The collection at PREVIOUS_VERSION, installed from its built artifact (tests/testbed/previous)."""
    root = os.path.join(str(workdir), 'previous')
    proc = subprocess.run(['ansible-galaxy', 'collection', 'install', '--no-deps', '--force', '-p', root, PREVIOUS_ARTIFACT],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout
    assert os.path.isfile(os.path.join(root, 'ansible_collections', 'dockyard', 'registry', 'playbooks', 'site.yml'))
    return root


def test_upgrade_recreates_the_ui_once_and_leaves_the_registry_running(role_deployments):
    dep = role_deployments('uicert-up')
    previous = _previous_collection(dep.workdir)
    env = {'ANSIBLE_COLLECTIONS_PATH': previous + os.pathsep + os.environ.get('ANSIBLE_COLLECTIONS_PATH', ''),
           'PYTHONPATH': previous + os.pathsep + os.environ.get('PYTHONPATH', '')}
    old = ansible_playbook(os.path.join(previous, 'ansible_collections', 'dockyard', 'registry', 'playbooks',
                                        'site.yml'), INVENTORY, variables=dict(dep.vars), workdir=dep.workdir, env=env)
    assert old.rc == 0, old.describe()
    certs = _path(dep, 'certs')
    assert certs in [mount['Source'] for mount in dep.inspect('ui')['Mounts']]  # control: the old layout
    assert not os.path.exists(_path(dep, 'ui-certs'))
    before = _ids(dep)

    result = dep.play()
    assert result.rc == 0 and result.changed > 0, result.describe()
    after = _ids(dep)
    assert after['ui'][0] != before['ui'][0]        # recreated
    # The registry is recreated once by this upgrade too, for its own reason: its health check changed
    # after ba49125 (the data directory's free space, a 5 s interval), so its definition label differs.
    # A UI certificate change alone never restarts it (test_role_drift, the drift tests above).
    assert after['registry'][0] != before['registry'][0]
    assert dep.inspect('registry')['Config']['Healthcheck']['Interval'] == 5 * 10 ** 9
    assert sorted(mount['Source'] for mount in dep.inspect('ui')['Mounts']) == [
        _path(dep, 'ui-certs'), _path(dep, 'ui', 'tls.conf')]
    assert curl_status(dep.ui_url + '/', cacert=dep.ca) == 200
    again = dep.play()
    assert again.rc == 0 and again.changed == 0, again.describe()
    assert _ids(dep) == after


# ------------------------------------------------------------------------------------------------
# acme mode: the UI serves a copy of the registry's ACME pair (documented, warned about), and still
# mounts nothing of certs/ or secrets/ (the ACME account key).

@pytest.fixture(scope='module')
def acme(role_deployments, tmp_path_factory, docker_engine):
    from acme_lib import Pebble
    server = Pebble(tmp_path_factory.mktemp('uicert-pebble'), validity_seconds=20 * 86400).start()
    try:
        dep = role_deployments('uicert-acme', registry_tls_mode='acme', registry_tls_acme_directory=server.directory,
                               registry_tls_acme_ca_cert=server.ca_bundle, registry_tls_acme_challenge_port=server.http_port,
                               registry_tls_renew_before_days=10)
        dep.first_run = dep.deploy()
        yield dep
    finally:
        server.stop()


def test_acme_the_ui_mounts_a_copy_and_nothing_of_certs_or_secrets(acme):
    mounts = sorted(mount['Source'] for mount in acme.inspect('ui')['Mounts'])
    assert mounts == [_path(acme, 'ui-certs'), _path(acme, 'ui', 'tls.conf')]
    listing = docker('exec', acme.container_id('ui'), 'ls', '/etc/nginx/certs', check=True).stdout.split()
    assert sorted(listing) == ['ui.crt', 'ui.key']
    assert docker('exec', acme.container_id('ui'), 'cat', '/certs/registry.key').returncode != 0
    # The documented exception: the same certificate (and so key) as the registry's, warned about.
    assert _public_key(served_chain(acme.ui_port)[0]) == _public_key(served_chain(acme.port)[0])
    assert "registry_tls_mode acme: the UI serves a copy of the registry's certificate and key" in acme.first_run.output
    result = acme.play()
    assert result.rc == 0 and result.changed == 0, result.describe()
