# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The UI's own key and certificate in the plan (issue 8, point 3): each TLS_MODES entry says what
ui-certs/ holds, how the look judges it and what verifies it; the UI mounts ui-certs/ and nothing
of certs/; registry_ui_tls_certificate / registry_ui_tls_private_key are checked like the
registry's provided pair. Certificates and keys are real (cryptography); nothing is faked."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

import pytest

from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_drift import certificate_drift
from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import (
    ROLLBACK_FILES, TLS_MODES, UI_TLS_CONF, build_plan)
from .test_registry_plan import (
    _argspec, _cert, _defaults, _key, _pem_key, plan, problems, variables)

BASE = '/opt/registry'
UI_CERTS = BASE + '/ui-certs'


def _layout(p):
    return dict((entry['path'], entry) for entry in p['layout'])


@pytest.fixture
def pki(tmp_path):
    """A CA, a registry leaf and a UI leaf for localhost (each its own key), and a CA for the ca mode."""
    ca_key, key, ui_key = _key(), _key(), _key()
    files = {}
    for name, data in (('ca.crt', _cert(ca_key, [], ca=True)), ('ca.key', _pem_key(ca_key)),
                       ('leaf.crt', _cert(key, ['localhost'], ca_key)), ('leaf.key', _pem_key(key)),
                       ('ui.crt', _cert(ui_key, ['localhost'], ca_key)), ('ui.key', _pem_key(ui_key)),
                       ('elsewhere.crt', _cert(ui_key, ['elsewhere.example'], ca_key))):
        (tmp_path / name).write_bytes(data)
        files[name] = str(tmp_path / name)
    files['provided'] = dict(registry_tls_mode='provided', registry_tls_certificate=files['leaf.crt'],
                             registry_tls_private_key=files['leaf.key'])
    files['ca'] = dict(registry_tls_mode='ca', registry_tls_ca_cert=files['ca.crt'], registry_tls_ca_key=files['ca.key'])
    return files


def _mode_vars(mode, pki):
    if mode == 'ca':
        return pki['ca']
    if mode == 'provided':
        return pki['provided']
    if mode == 'acme':
        return dict(registry_tls_mode='acme', registry_tls_acme_directory='https://acme.example/directory',
                    registry_server_name='registry.example.org')
    return {}


@pytest.mark.parametrize('mode', sorted(TLS_MODES))
def test_every_tls_mode_gives_the_ui_its_own_directory_and_nothing_of_certs(mode, pki):
    p = plan(**_mode_vars(mode, pki))
    assert p['problems'] == []
    ui = p['compose']['services']['ui']
    assert ui['volumes'] == ['%s:/etc/nginx/certs:ro' % UI_CERTS,
                             '%s/ui/tls.conf:/etc/nginx/conf.d/dockyard-tls.conf:ro' % BASE]
    assert not [volume for volume in ui['volumes'] if volume.startswith(BASE + '/certs')]
    assert '%s/certs:/certs:ro' % BASE in p['compose']['services']['registry']['volumes']  # control
    layout = _layout(p)
    assert layout[UI_CERTS] == {'path': UI_CERTS, 'state': 'directory', 'mode': '0750', 'owner': 'root',
                                'group': 'root'}
    assert layout[UI_CERTS + '/ui.key']['mode'] == '0600' and layout[UI_CERTS + '/ui.key']['owner'] == 'root'
    assert layout[UI_CERTS + '/ui.crt']['mode'] == '0644'
    assert p['paths']['ui_cert'] == UI_CERTS + '/ui.crt' and p['paths']['ui_key'] == UI_CERTS + '/ui.key'
    assert p['ui']['tls_tasks'] == 'tls_ui_%s.yml' % mode
    role = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'roles', 'registry')
    assert os.path.isfile(os.path.join(role, 'tasks', p['ui']['tls_tasks']))
    assert p['ui']['certs_dir'] == layout[UI_CERTS]
    for key in ('ui_cert', 'ui_key'):
        assert key in ROLLBACK_FILES
    # The UI's nginx serves its own pair.
    assert 'ssl_certificate /etc/nginx/certs/ui.crt;' in UI_TLS_CONF
    assert 'ssl_certificate_key /etc/nginx/certs/ui.key;' in UI_TLS_CONF and 'registry.key' not in UI_TLS_CONF


@pytest.mark.parametrize('mode', sorted(TLS_MODES))
def test_without_ui_https_there_is_no_ui_certs(mode, pki):
    for off in (dict(registry_ui_enabled=False), dict(registry_ui_tls=False)):
        p = plan(**dict(_mode_vars(mode, pki), **off))
        assert p['problems'] == []
        assert not [path for path in _layout(p) if path.startswith(UI_CERTS)]
        assert p['look']['ui_certificate'] is None and not p['ui']['shares_registry_key']
        assert not [warning for warning in p['warnings'] if 'ui-certs' in warning]


def test_self_signed_the_ui_has_its_own_self_signed_certificate_and_ca_crt_holds_both():
    p = plan()
    look = p['look']['ui_certificate']
    assert look['path'] == UI_CERTS + '/ui.crt' and look['privatekey_path'] == UI_CERTS + '/ui.key'
    assert 'ca_cert_path' not in look  # judged as self-signed
    assert look['subject_alt_names'] == p['look']['certificate']['subject_alt_names'] == ['localhost', '127.0.0.1']
    assert p['ca_bundle'] == [BASE + '/certs/registry.crt', UI_CERTS + '/ui.crt']
    assert p['ui']['ca_path'] == p['paths']['ca'] and not p['ui']['shares_registry_key']
    assert p['warnings'] == []


def test_ca_mode_the_same_ca_judges_the_ui_certificate(pki):
    p = plan(**pki['ca'])
    assert p['look']['ui_certificate']['ca_cert_path'] == p['paths']['ca'] == p['ui']['ca_path']
    assert p['ca_bundle'] == [] and not p['ui']['shares_registry_key']
    assert not [warning for warning in p['warnings'] if 'ui-certs' in warning]


def test_provided_the_ui_pair_is_its_own_or_a_warned_copy(pki):
    own = plan(registry_ui_tls_certificate=pki['ui.crt'], registry_ui_tls_private_key=pki['ui.key'], **pki['provided'])
    assert own['problems'] == [] and own['look']['ui_certificate'] is None
    assert (own['ui']['cert_src'], own['ui']['key_src']) == (pki['ui.crt'], pki['ui.key'])
    with open(pki['ui.crt'], 'rb') as cert, open(pki['ui.key'], 'rb') as key:
        assert own['checksums'][UI_CERTS + '/ui.crt'] == hashlib.sha256(cert.read()).hexdigest()
        assert _layout(own)[UI_CERTS + '/ui.key']['sha256'] == hashlib.sha256(key.read()).hexdigest()
    assert not own['ui']['shares_registry_key'] and own['warnings'] == []
    # Control: without the UI's own pair, a copy of the registry's, warned about.
    copy = plan(**pki['provided'])
    assert (copy['ui']['cert_src'], copy['ui']['key_src']) == (pki['leaf.crt'], pki['leaf.key'])
    assert copy['ui']['shares_registry_key']
    assert [warning for warning in copy['warnings'] if "copy of the registry's certificate and key" in warning
            and 'registry_ui_tls_certificate' in warning]


def test_acme_the_ui_serves_a_copy_judged_with_the_issuer():
    p = plan(**_mode_vars('acme', None))
    assert _layout(p)[UI_CERTS + '/ui.crt']['same_as'] == p['paths']['cert']
    assert p['look']['ui_certificate']['ca_cert_path'] == p['paths']['acme_issuer']
    assert p['ui']['shares_registry_key']
    assert [warning for warning in p['warnings'] if 'registry_tls_mode acme' in warning]


def test_the_ui_pair_variables_are_checked_like_the_registry_pair(pki):
    base = pki['provided']
    only_cert = problems(registry_ui_tls_certificate=pki['ui.crt'], **base)
    assert only_cert == ["registry_ui_tls_certificate and registry_ui_tls_private_key: give both (the UI's own"
                         " certificate chain and key, files on the controller) or neither; got '%s' and ''."
                         % pki['ui.crt']]
    unreadable = problems(registry_ui_tls_certificate='/nonexistent/ui.crt', registry_ui_tls_private_key=pki['ui.key'],
                          **base)
    assert len(unreadable) == 1 and 'registry_ui_tls_certificate and registry_ui_tls_private_key' in unreadable[0]
    assert '/nonexistent/ui.crt' in unreadable[0]
    mismatch = problems(registry_ui_tls_certificate=pki['ui.crt'], registry_ui_tls_private_key=pki['leaf.key'], **base)
    assert len(mismatch) == 1 and mismatch[0].startswith(
        "registry_ui_tls_certificate '%s' and registry_ui_tls_private_key '%s': they do not go together"
        % (pki['ui.crt'], pki['leaf.key']))
    names = problems(registry_ui_tls_certificate=pki['elsewhere.crt'], registry_ui_tls_private_key=pki['ui.key'], **base)
    assert len(names) == 1 and 'does not cover localhost' in names[0] and 'registry_ui_tls_certificate' in names[0]
    # In another TLS mode the role makes the UI's pair: a given one is refused, not ignored.
    other = problems(registry_ui_tls_certificate=pki['ui.crt'], registry_ui_tls_private_key=pki['ui.key'])
    assert other == ["registry_ui_tls_certificate: '%s' is only used with registry_tls_mode provided; with"
                     " 'self_signed' the role makes the UI's own key and certificate itself. Remove"
                     " registry_ui_tls_certificate and registry_ui_tls_private_key." % pki['ui.crt']]
    # Controls: a good pair, and a UI without HTTPS (nothing to install), plan without problems.
    assert problems(registry_ui_tls_certificate=pki['ui.crt'], registry_ui_tls_private_key=pki['ui.key'], **base) == []
    assert problems(registry_ui_tls=False, registry_ui_tls_certificate=pki['ui.crt'], **base) == []


def test_the_ui_label_follows_its_own_certificate():
    ui_cert = UI_CERTS + '/ui.crt'
    info = {'paths': {BASE + '/certs/registry.crt': {'exists': True, 'type': 'file', 'sha256': 'a' * 64},
                      ui_cert: {'exists': True, 'type': 'file', 'sha256': 'c' * 64}},
            'containers': [], 'images': {}}
    looked = build_plan(variables(), info=info)
    assert looked['hashes']['ui_certificate'] == 'c' * 64
    served = build_plan(variables(), info=info, ui_certificate_sha256='d' * 64)
    labels = served['compose']['services']['ui']['labels']
    assert labels['io.dockyard.registry.certificate-sha256'] == 'd' * 64
    # A new UI certificate changes the UI's definition only: the registry is not recreated.
    assert (served['compose']['services']['registry']['labels'] == looked['compose']['services']['registry']['labels'])
    assert (served['compose']['services']['ui']['labels']['io.dockyard.registry.definition-sha256']
            != looked['compose']['services']['ui']['labels']['io.dockyard.registry.definition-sha256'])


@pytest.mark.parametrize('reason', ['missing', 'expiring', 'san_changed', 'key_mismatch', None])
def test_a_ui_certificate_that_is_not_valid_is_drift(reason):
    info = {'paths': {}, 'containers': [], 'images': {}, 'certificate': {'reason': 'valid'}}
    if reason:
        info['ui_certificate'] = {'reason': reason, 'not_after': None}
    drift = [item for item in build_plan(variables(), info=info)['drift'] if item['what'] == 'ui certificate']
    assert drift == [{'what': 'ui certificate', 'wanted': 'valid', 'found': reason or 'not inspected',
                      'message': 'ui certificate: %s' % (reason or 'not inspected')}]
    # Control: a valid verdict is no drift.
    assert certificate_drift({'ui_certificate': {'reason': 'valid'}}) == []


def test_the_ui_pair_variables_are_documented_role_variables():
    spec, defaults = _argspec(), _defaults()
    for name in ('registry_ui_tls_certificate', 'registry_ui_tls_private_key'):
        assert spec[name]['type'] == 'path' and spec[name]['default'] == '' == defaults[name]
