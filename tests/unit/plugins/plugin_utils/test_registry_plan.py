# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the registry role's plan (plugins/plugin_utils/_registry_plan.py).

Every rule that used to be Jinja in the role is checked here with its negative control (the same
variables with one thing changed), and every entry of the TLS, UI and storage tables is covered.
Certificates and keys are real (made with cryptography in the test); nothing is faked.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import hashlib
import os

import pytest
import yaml

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.filter.registry import FilterModule, registry_env, registry_plan
from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import (
    CONFIG_MOUNTS, DEFINITION_LABEL, STORAGE_DRIVERS, TLS_MODES, UI_MODES, PlanError, build_plan, env_strings,
    stored_http_secret)

ROLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'roles', 'registry')
PASSWORD = 'S3cret-passw0rd-for-tests'


def _defaults():
    with open(os.path.join(ROLE, 'defaults', 'main.yml')) as handle:
        return yaml.safe_load(handle)


def _argspec():
    with open(os.path.join(ROLE, 'meta', 'argument_specs.yml')) as handle:
        return yaml.safe_load(handle)['argument_specs']['main']['options']


def variables(**overrides):
    """The role's defaults as the play would see them on a host named localhost."""
    values = _defaults()
    values.update(registry_server_name='localhost', registry_image='registry:2.8.3', registry_ui_image='ui:2',
                  registry_ui_origin='https://localhost:8443', registry_ui_registry_url='https://localhost:5000',
                  registry_users=[{'name': 'admin', 'password': PASSWORD}])
    values.update(overrides)
    return values


def plan(**overrides):
    return build_plan(variables(**overrides))


def problems(**overrides):
    return build_plan(variables(**overrides))['problems']


def one_problem(**overrides):
    found = problems(**overrides)
    assert len(found) == 1, found
    return found[0]


def _file(plan_, key):
    return [item for item in plan_['files'] if item['path'] == plan_['paths'][key]][0]


def _entry(plan_, key):
    return [item for item in plan_['layout'] if item['path'] == plan_['paths'][key]][0]


# ------------------------------------------------------------------------------------------------
# Real certificates for the provided and ca modes.

def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(key, names, issuer_key=None, issuer_name='test CA', ca=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name if ca else names[0])])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=90)))
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]),
                                        critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def provided(tmp_path):
    """registry_tls_* of a provided leaf for localhost signed by a CA, its key, and the CA."""
    ca_key, key = _key(), _key()
    paths = {}
    for name, data in (('ca.crt', _cert(ca_key, [], ca=True)), ('leaf.crt', _cert(key, ['localhost', '*.example.org'], ca_key)),
                       ('leaf.key', _pem_key(key)), ('other.key', _pem_key(_key()))):
        path = tmp_path / name
        path.write_bytes(data)
        paths[name] = str(path)
    paths['vars'] = dict(registry_tls_mode='provided', registry_tls_certificate=paths['leaf.crt'],
                         registry_tls_private_key=paths['leaf.key'])
    return paths


# ------------------------------------------------------------------------------------------------
# Validation rules, each with its negative control.

def test_the_defaults_plan_without_problems():
    assert problems() == []


@pytest.mark.parametrize('version, ok', [('2.8.3', True), ('3.1.1', True), ('4.0.0', False), ('latest', False)])
def test_registry_version_must_be_2_or_3(version, ok):
    found = problems(registry_version=version)
    assert (found == []) == ok
    if not ok:
        assert "registry_version: '%s' is not supported" % version in found[0] and '2.x or 3.x' in found[0]


@pytest.mark.parametrize('name, value', [('registry_port', 70000), ('registry_port', 0), ('registry_ui_port', 'x')])
def test_ports_must_be_1_to_65535(name, value):
    message = one_problem(**{name: value})
    assert message.startswith('%s: %r' % (name, value)) and '1 to 65535' in message


def test_ui_port_is_not_checked_when_the_ui_is_off():
    assert problems(registry_ui_enabled=False, registry_ui_port=70000) == []


@pytest.mark.parametrize('bind, ui_bind, clash', [
    ('0.0.0.0', '127.0.0.1', True), ('127.0.0.1', '127.0.0.1', True), ('::', '127.0.0.1', True),
    ('192.0.2.1', '127.0.0.1', False)])
def test_ui_port_clash(bind, ui_bind, clash):
    found = problems(registry_port=5000, registry_ui_port=5000, registry_bind_address=bind,
                     registry_ui_bind_address=ui_bind)
    assert bool(found) == clash
    if clash:
        assert found == ['registry_ui_port: 5000 clashes with registry_port: 5000 (%s and %s overlap); choose another'
                         ' registry_ui_port.' % (ui_bind, bind)]
    # Control: another port never clashes.
    assert problems(registry_port=5000, registry_ui_port=5001, registry_bind_address=bind,
                    registry_ui_bind_address=ui_bind) == []


def test_names_must_be_dns_names_or_addresses():
    message = one_problem(registry_server_name='foo bar', registry_tls_subject_alt_names=['ok.example', '999.1.1.1'])
    assert 'registry_server_name' in message and 'foo bar' in message
    assert 'registry_tls_subject_alt_names[1]' in message and '999.1.1.1' in message
    assert 'Allowed: DNS names' in message
    assert problems(registry_server_name='reg.example.org', registry_tls_subject_alt_names=['192.0.2.1', '*.example']) == []


def test_users_rules_never_show_a_password():
    assert one_problem(registry_users=[]).startswith('registry_users: authentication is on')
    assert problems(registry_users=[], registry_auth_enabled=False) == []
    message = one_problem(registry_users=[{'name': 'bob'}])
    assert "registry_users[0] (user 'bob'): a password is required" in message
    assert problems(registry_users=[{'name': 'bob'}, {'name': 'admin', 'password': PASSWORD}],
                    registry_users_update_password='on_create') == []
    long_password = 'x' * 80
    message = one_problem(registry_users=[{'name': 'longpw', 'password': long_password}])
    assert 'registry_users[0]' in message and '72' in message and long_password[:20] not in message


def test_forward_credentials_needs_a_proxy_account():
    found = problems(registry_ui_mode='forward_credentials', registry_ui_proxy_user={'name': 'ui'})
    message = found[-1]
    assert found[0] == "registry_users[1] (user 'ui'): a password is required (put it in vault)"
    assert message.startswith("registry_ui_proxy_user: registry_ui_mode 'forward_credentials' needs")
    assert 'got name ui and no password' in message
    assert problems(registry_ui_mode='forward_credentials', registry_ui_proxy_user={'name': 'ui', 'password': PASSWORD}) == []
    # The UI off: nothing forwards, nothing is needed.
    assert problems(registry_ui_mode='forward_credentials', registry_ui_enabled=False) == []


def test_ca_mode_needs_the_ca_files_or_create(tmp_path):
    message = one_problem(registry_tls_mode='ca')
    assert message.startswith("registry_tls_mode 'ca' needs registry_tls_ca_cert and registry_tls_ca_key")
    missing = dict(registry_tls_mode='ca', registry_tls_ca_cert=str(tmp_path / 'ca.crt'),
                   registry_tls_ca_key=str(tmp_path / 'ca.key'))
    assert len(problems(**missing)) == 1
    assert problems(registry_tls_ca_create=True, **missing) == []
    (tmp_path / 'ca.crt').write_bytes(_cert(_key(), [], ca=True))
    (tmp_path / 'ca.key').write_bytes(_pem_key(_key()))
    assert problems(**missing) == []


def test_provided_mode_checks_files_key_and_names(provided):
    assert problems(**provided['vars']) == []
    message = one_problem(**dict(provided['vars'], registry_tls_certificate='/nonexistent.crt'))
    assert "registry_tls_mode 'provided' needs registry_tls_certificate and registry_tls_private_key" in message
    message = one_problem(**dict(provided['vars'], registry_tls_private_key=provided['other.key']))
    assert 'registry_tls_certificate' in message and 'registry_tls_private_key' in message and 'not match' in message
    assert 'PRIVATE KEY' not in message
    message = one_problem(**dict(provided['vars'], registry_server_name='other.example'))
    assert 'does not cover other.example' in message and 'DNS:localhost' in message
    # A wildcard covers one label.
    assert problems(**dict(provided['vars'], registry_tls_subject_alt_names=['a.example.org'])) == []
    assert len(problems(**dict(provided['vars'], registry_tls_subject_alt_names=['a.b.example.org']))) == 1
    message = one_problem(**dict(provided['vars'], registry_tls_provided_ca='/nonexistent-ca.crt'))
    assert message.startswith("registry_tls_provided_ca: '/nonexistent-ca.crt' is not a readable file")


@pytest.mark.parametrize('name, value, allowed', [
    ('registry_base_dir', 'relative/dir', 'an absolute directory path'),
    ('registry_base_dir', '/', 'an absolute directory path'),
    ('registry_project_name', 'Bad Name!', 'lower-case letters'),
    ('registry_bind_address', 'example.org', 'an IPv4 or IPv6 address'),
    ('registry_ui_bind_address', '300.1.1.1', 'an IPv4 or IPv6 address'),
    ('registry_healthcheck_interval', '-5s', 'a positive Go/Compose duration'),
    ('registry_healthcheck_interval', 'often', 'a positive Go/Compose duration'),
    ('registry_healthcheck_interval', '0s', 'a positive Go/Compose duration'),
    ('registry_htpasswd_cost', 3, 'a bcrypt cost from 4 to 31'),
    ('registry_htpasswd_cost', 32, 'a bcrypt cost from 4 to 31'),
    ('registry_tls_valid_days', -1, 'an integer from 1 to 36500'),
    ('registry_tls_key_size', 1024, '2048, 3072 or 4096'),
])
def test_values_are_checked_before_the_host_is_touched(name, value, allowed):
    extra = {'registry_tls_key_type': 'rsa'} if name == 'registry_tls_key_size' else {}
    message = one_problem(**dict(extra, **{name: value}))
    assert message.startswith(name) and str(value) in message and allowed in message


@pytest.mark.parametrize('name, value', [
    ('registry_base_dir', '/srv/registry'), ('registry_project_name', 'reg_2-a'), ('registry_bind_address', '::'),
    ('registry_ui_bind_address', '192.0.2.7'), ('registry_healthcheck_interval', '1m30s'),
    ('registry_htpasswd_cost', 4), ('registry_tls_valid_days', 1), ('registry_tls_key_size', 4096)])
def test_good_values_pass(name, value):
    extra = {'registry_tls_key_type': 'rsa'} if name == 'registry_tls_key_size' else {}
    assert problems(**dict(extra, **{name: value})) == []


def test_a_weak_http_secret_is_refused_without_showing_it():
    message = one_problem(registry_http_secret='x')
    assert message.startswith('registry_http_secret: the value given (1 characters) is too weak')
    assert "'x'" not in message
    assert problems(registry_http_secret='A' * 32) == []
    assert problems(registry_http_secret='') == []


def test_all_problems_are_reported_at_once():
    found = problems(registry_port=0, registry_users=[], registry_project_name='Bad Name!')
    assert len(found) == 3


def test_absent_only_checks_what_removal_needs():
    assert problems(registry_state='absent', registry_users=[], registry_port=0) == []
    assert problems(registry_state='absent', registry_base_dir='relative') != []
    assert plan(registry_state='absent')['dirs']['base'] == '/opt/registry'


def test_not_a_dictionary_is_an_internal_error():
    with pytest.raises(PlanError):
        build_plan(['registry_port'])
    with pytest.raises(AnsibleFilterError, match='dictionary of the role variables'):
        registry_plan('x')
    with pytest.raises(PlanError, match='registry_users is not defined'):
        build_plan(dict((k, v) for k, v in variables().items() if k != 'registry_users'))


# ------------------------------------------------------------------------------------------------
# The tables: every entry, and an unknown entry is an error, never a fallback.

@pytest.mark.parametrize('name, table', [('registry_tls_mode', TLS_MODES), ('registry_ui_mode', UI_MODES),
                                         ('registry_storage_driver', STORAGE_DRIVERS)])
def test_an_unknown_mode_is_an_error_naming_the_table(name, table):
    message = one_problem(**{name: 'bogus'})
    assert message == "%s: 'bogus' is not supported; allowed: %s." % (name, ', '.join(sorted(table)))


@pytest.mark.parametrize('name, table', [('registry_tls_mode', TLS_MODES), ('registry_ui_mode', UI_MODES),
                                         ('registry_storage_driver', STORAGE_DRIVERS)])
def test_argument_spec_choices_are_the_tables(name, table):
    assert sorted(_argspec()[name]['choices']) == sorted(table)


def test_self_signed_layout_and_look():
    p = plan()
    assert p['tls'] == {'mode': 'self_signed', 'tasks': 'tls_self_signed.yml', 'has_ca': True,
                        'sans': ['localhost', '127.0.0.1'], 'names_localhost': True}
    # certs/ca.crt: the registry's self-signed certificate, and the UI's own when it serves HTTPS
    # (one file clients trust for both; its content is then only known on the host).
    assert p['ca_bundle'] == [p['paths']['cert'], p['paths']['ui_cert']] and 'same_as' not in _entry(p, 'ca')
    no_ui = plan(registry_ui_enabled=False)
    assert no_ui['ca_bundle'] == [p['paths']['cert']] and _entry(no_ui, 'ca')['same_as'] == p['paths']['cert']
    assert _entry(p, 'key')['mode'] == '0600'
    assert p['look']['certificate']['path'] == p['paths']['cert'] and 'ca_cert_path' not in p['look']['certificate']
    assert p['look']['certificate']['curve'] == 'P-256'
    rsa = plan(registry_tls_key_type='rsa')['look']['certificate']
    assert rsa['key_size'] == 3072 and 'curve' not in rsa
    assert plan(registry_tls_loopback_names=False)['tls']['sans'] == ['localhost']


def test_ca_layout_compares_the_ca_with_the_controller_copy(tmp_path):
    ca = tmp_path / 'ca.crt'
    ca.write_bytes(_cert(_key(), [], ca=True))
    (tmp_path / 'ca.key').write_bytes(_pem_key(_key()))
    p = plan(registry_tls_mode='ca', registry_tls_ca_cert=str(ca), registry_tls_ca_key=str(tmp_path / 'ca.key'))
    assert p['tls']['tasks'] == 'tls_ca.yml' and p['tls']['has_ca']
    assert p['checksums'][p['paths']['ca']] == hashlib.sha256(ca.read_bytes()).hexdigest()
    assert 'same_as' not in _entry(p, 'ca')
    assert p['look']['certificate']['ca_cert_path'] == p['paths']['ca']


def test_provided_layout_is_judged_by_content_not_by_the_look(provided):
    p = plan(**provided['vars'])
    assert p['look']['certificate'] is None and p['tls']['names_localhost'] is False and not p['tls']['has_ca']
    with open(provided['leaf.key'], 'rb') as handle:
        assert _entry(p, 'key')['sha256'] == hashlib.sha256(handle.read()).hexdigest()
    assert p['paths']['ca'] not in [entry['path'] for entry in p['layout']]
    assert 'ca_path' not in p['health']
    with_ca = plan(registry_tls_provided_ca=provided['ca.crt'], **provided['vars'])
    assert with_ca['tls']['has_ca'] and with_ca['paths']['ca'] in with_ca['checksums']
    assert with_ca['health']['ca_path'] == with_ca['paths']['ca']


def test_ui_modes():
    proxy = plan()['compose']['services']['ui']['environment']
    assert proxy['NGINX_PROXY_PASS_URL'] == 'https://registry:5000' and proxy['NGINX_RESOLVER'] == '127.0.0.11'
    assert 'REGISTRY_URL' not in proxy
    cross = plan(registry_ui_mode='cross_origin')
    env = cross['compose']['services']['ui']['environment']
    assert env['REGISTRY_URL'] == 'https://localhost:5000' and 'NGINX_PROXY_PASS_URL' not in env
    assert cross['config']['http']['headers']['Access-Control-Allow-Origin'] == ['https://localhost:8443']
    assert 'Access-Control-Allow-Origin' not in plan()['config']['http']['headers']
    forward = plan(registry_ui_mode='forward_credentials', registry_ui_proxy_user={'name': 'ui', 'password': PASSWORD})
    assert forward['ui']['forwards_credentials']
    assert '%s:/etc/nginx/.env:ro' % forward['paths']['ui_env'] in forward['compose']['services']['ui']['volumes']
    token = base64.b64encode(('ui:' + PASSWORD).encode()).decode()
    assert forward['ui']['env_content'] == 'NGINX_PROXY_HEADER_Authorization=Basic %s\n' % token
    assert _entry(forward, 'ui_env')['sha256'] == hashlib.sha256(forward['ui']['env_content'].encode()).hexdigest()
    assert [user['name'] for user in forward['users']] == ['admin', 'ui']
    # Control: without forwarding the file must be absent and holds nothing.
    assert _entry(plan(), 'ui_env') == {'path': plan()['paths']['ui_env'], 'state': 'absent'}
    assert PASSWORD not in yaml.safe_dump(forward['compose']) and token not in forward['files'][1]['content']


def test_ui_off_and_plain_http():
    p = plan(registry_ui_enabled=False)
    assert list(p['compose']['services']) == ['registry'] and not p['ui']['checked']
    assert p['paths']['ui_tls_conf'] not in [item['path'] for item in p['files']]
    plain = plan(registry_ui_tls=False)
    ui = plain['compose']['services']['ui']
    assert ui['ports'] == ['127.0.0.1:8443:80'] and ui['volumes'] == []
    assert plan()['compose']['services']['ui']['ports'] == ['127.0.0.1:8443:443']


def test_filesystem_storage_and_overrides_never_make_two_drivers():
    p = plan()
    assert p['config']['storage']['filesystem'] == {'rootdirectory': '/var/lib/registry'}
    assert '/opt/registry/data:/var/lib/registry' in p['compose']['services']['registry']['volumes']
    tuned = plan(registry_config_overrides={'storage': {'filesystem': {'maxthreads': 50}, 'delete': {'enabled': True}}})
    assert tuned['problems'] == [] and tuned['config']['storage']['filesystem']['maxthreads'] == 50
    assert tuned['config']['storage']['delete'] == {'enabled': True}
    message = one_problem(registry_config_overrides={'storage': {'s3': {'bucket': 'b'}}})
    assert message.startswith("registry_config_overrides: storage.s3 would be a second storage driver beside"
                              " 'filesystem'") and 'registry_storage_driver' in message
    assert one_problem(registry_config_overrides=['x']).startswith('registry_config_overrides: must be a dictionary')


@pytest.mark.parametrize('version, major', [('2.8.3', 2), ('3.0.0', 3)])
def test_config_mount_and_version_specifics(version, major):
    p = plan(registry_version=version)
    registry = p['compose']['services']['registry']
    assert '/opt/registry/config:%s:ro' % CONFIG_MOUNTS[major] in registry['volumes']
    assert (registry['environment'] == {'OTEL_TRACES_EXPORTER': 'none'}) == (major == 3)
    assert 'mounted at %s/config.yml' % CONFIG_MOUNTS[major] in _file(p, 'config')['content']


def test_config_content_hashes_and_labels():
    p = plan(registry_log_level='warn', registry_delete_enabled=True, registry_catalog_max_entries=500)
    config = _file(p, 'config')
    assert yaml.safe_load(config['content']) == p['config']
    assert p['config']['log']['level'] == 'warn' and p['config']['catalog'] == {'maxentries': 500}
    assert config['sha256'] == hashlib.sha256(config['content'].encode()).hexdigest() == p['hashes']['config']
    labels = p['compose']['services']['registry']['labels']
    assert labels['io.dockyard.registry.config-sha256'] == p['hashes']['config']
    assert 'secret' not in p['config']['http']
    assert p['compose']['services']['ui']['environment']['DELETE_IMAGES'] == 'true'
    # A config change changes the registry's definition label (Compose recreates it), not the UI's.
    other = plan(registry_log_level='info', registry_delete_enabled=True, registry_catalog_max_entries=500)
    assert (other['compose']['services']['registry']['labels'][DEFINITION_LABEL]
            != p['compose']['services']['registry']['labels'][DEFINITION_LABEL])


def test_the_certificate_label_comes_from_the_look_or_the_served_file():
    cert, ui_cert = '/opt/registry/certs/registry.crt', '/opt/registry/ui-certs/ui.crt'
    info = {'paths': {cert: {'exists': True, 'type': 'file', 'sha256': 'a' * 64},
                      ui_cert: {'exists': True, 'type': 'file', 'sha256': 'c' * 64}}, 'containers': [], 'images': {}}
    looked = build_plan(variables(), info=info)
    assert looked['compose']['services']['registry']['labels']['io.dockyard.registry.certificate-sha256'] == 'a' * 64
    # The UI serves its own certificate (ui-certs/): its label follows that one, not the registry's.
    assert looked['compose']['services']['ui']['labels']['io.dockyard.registry.certificate-sha256'] == 'c' * 64
    served = build_plan(variables(), info=info, certificate_sha256='b' * 64)
    assert served['hashes']['certificate'] == 'b' * 64
    assert plan()['hashes']['certificate'] == ''


def test_the_look_judges_what_the_plan_writes():
    p = plan()
    look_paths = [item['path'] for item in p['look']['paths']]
    assert look_paths == [entry['path'] for entry in p['layout']]
    assert [d['path'] for d in p['directories']] == look_paths[:7]
    assert {d['mode'] for d in p['directories'] if d['path'].endswith('secrets')} == {'0700'}
    env = [item for item in p['look']['paths'] if item['path'] == p['paths']['env']][0]
    assert env['regexp'] == r'REGISTRY_HTTP_SECRET=\S+\n' and 'sha256' not in env
    fixed = plan(registry_http_secret='B' * 40)
    env = [item for item in fixed['look']['paths'] if item['path'] == p['paths']['env']][0]
    assert env['sha256'] == hashlib.sha256(('REGISTRY_HTTP_SECRET=' + 'B' * 40 + '\n').encode()).hexdigest()
    assert p['look']['htpasswd']['users'] == [{'name': 'admin', 'password': PASSWORD}]
    assert plan(registry_auth_enabled=False)['look']['htpasswd'] is None
    assert plan(registry_health_check=False)['look']['health'] is None
    assert p['look']['images'] == ['registry:2.8.3', 'ui:2']


@pytest.mark.parametrize('bind, url', [('0.0.0.0', 'https://127.0.0.1:5000'), ('::', 'https://[::1]:5000'),
                                       ('192.0.2.5', 'https://192.0.2.5:5000'), ('2001:db8::5', 'https://[2001:db8::5]:5000')])
def test_health_client(bind, url):
    p = plan(registry_bind_address=bind)
    assert p['health'] == {'url': url, 'server_name': 'localhost', 'auth_expected': True,
                           'ca_path': '/opt/registry/certs/ca.crt', 'username': 'admin', 'password': PASSWORD}
    assert plan(registry_health_url='https://reg.example:5000')['health']['url'] == 'https://reg.example:5000'
    assert 'username' not in plan(registry_auth_enabled=False)['health']


def test_warnings():
    assert plan()['warnings'] == []
    assert plan(registry_ui_tls=False, registry_ui_bind_address='0.0.0.0')['warnings'][0].startswith(
        'WARNING: registry_ui_tls is false and the UI is published on 0.0.0.0')
    assert plan(registry_ui_tls=False)['warnings'] == []
    forward = plan(registry_ui_mode='forward_credentials', registry_ui_bind_address='0.0.0.0',
                   registry_ui_proxy_user={'name': 'ui', 'password': PASSWORD})['warnings']
    assert forward == ["WARNING: registry_ui_mode is forward_credentials and the UI is published on 0.0.0.0: ANYONE"
                       " who reaches port 8443 acts as 'ui' for every registry request, push and delete included."]
    assert plan(registry_auth_enabled=False, registry_delete_enabled=True)['warnings'] == [
        'WARNING: registry_auth_enabled is false: anyone who reaches port 5000 can push, pull and delete.']


def test_forced_reasons():
    assert plan()['forced'] == []
    assert plan(registry_pull_policy='always')['forced'] == [
        'registry_pull_policy is always: Compose looks for newer images']
    archives = [{'src': '/x.tar', 'image': 'registry:2.8.3'}]
    info = {'images': {'registry:2.8.3': None}, 'paths': {}}
    assert build_plan(variables(registry_image_archives=archives), info=info)['forced'] == [
        'image not on the host, to load from its archive: registry:2.8.3']
    info['images']['registry:2.8.3'] = 'sha256:abc'
    assert build_plan(variables(registry_image_archives=archives), info=info)['forced'] == []


def test_with_the_look_the_plan_says_what_differs(provided):
    info = {'paths': {}, 'certificate': {'reason': 'expiring'}, 'htpasswd': {'changed': False}, 'containers': [],
            'images': {}}
    drift = build_plan(variables(), info=info)['drift']
    messages = [item['message'] for item in drift]
    assert '/opt/registry: not inspected' in messages and 'certificate: expiring' in messages
    # The provided mode's certificate is the user's: the look's verdict does not count.
    messages = [item['message'] for item in build_plan(variables(**provided['vars']), info=info)['drift']]
    assert 'certificate: expiring' not in messages
    assert 'drift' not in plan()


def test_env_strings_and_secret_files():
    assert env_strings({'A': True, 'B': False, 'C': None, 'D': 5}) == {'A': 'true', 'B': 'false', 'C': '', 'D': '5'}
    assert plan(registry_ui_env={'SHOW_CONTENT_DIGEST': True})['compose']['services']['ui']['environment'][
        'SHOW_CONTENT_DIGEST'] == 'true'
    assert stored_http_secret('X=1\nREGISTRY_HTTP_SECRET=abc123\n') == 'abc123'
    assert stored_http_secret('') == ''
    assert registry_env('', 'given-secret') == 'REGISTRY_HTTP_SECRET=given-secret\n'
    assert registry_env('REGISTRY_HTTP_SECRET=kept\n') == 'REGISTRY_HTTP_SECRET=kept\n'
    generated = registry_env('garbage')
    assert len(stored_http_secret(generated)) == 64 and generated != registry_env('')


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {'registry_plan', 'registry_env', 'registry_reach_problem'}


def _look(ports, published=()):
    return {'paths': {}, 'images': {}, 'ports': ports,
            'containers': [{'service': 'registry', 'published': list(published)}]}


def test_a_port_held_by_something_else_is_a_problem_naming_only_that_port():
    taken = build_plan(variables(), info=_look({'5000': ['0.0.0.0'], '8443': []}))
    assert taken['problems'] == [
        "registry_port: 5000 is already in use on this host (a socket listens on 0.0.0.0:5000) by something other"
        " than this deployment (Compose project 'registry'); allowed: a free port, or stop what holds it."]
    assert build_plan(variables(), info=_look({'5000': [], '8443': ['127.0.0.1']}))['problems'][0].startswith(
        'registry_ui_port: 8443 is already in use')
    # Controls: free ports; the port held by this project's own container; another address.
    assert build_plan(variables(), info=_look({'5000': [], '8443': []}))['problems'] == []
    assert build_plan(variables(), info=_look({'5000': ['0.0.0.0'], '8443': []},
                                              [{'address': '0.0.0.0', 'port': 5000}]))['problems'] == []
    assert build_plan(variables(registry_ui_bind_address='127.0.0.1'),
                      info=_look({'5000': [], '8443': ['192.0.2.1']}))['problems'] == []
    assert build_plan(variables(registry_bind_address='127.0.0.1'),
                      info=_look({'5000': ['::'], '8443': []}))['problems'] != []
    assert plan()['look']['ports'] == [5000, 8443]
    assert plan(registry_ui_enabled=False)['look']['ports'] == [5000]


def test_containers_are_hardened_and_tls_follows_mozilla_intermediate():
    p = plan()
    registry, ui = p['compose']['services']['registry'], p['compose']['services']['ui']
    assert registry['security_opt'] == ['no-new-privileges:true'] and registry['cap_drop'] == ['ALL']
    assert registry['read_only'] is True and registry['tmpfs'] == ['/tmp'] and 'cap_add' not in registry
    assert ui['security_opt'] == ['no-new-privileges:true'] and ui['cap_drop'] == ['ALL']
    assert 'NET_BIND_SERVICE' in ui['cap_add'] and 'SYS_ADMIN' not in ui['cap_add'] and 'read_only' not in ui
    tls = p['config']['http']['tls']
    assert tls['minimumtls'] == 'tls1.2' and all('CBC' not in suite and 'GCM' in suite or 'CHACHA20' in suite
                                                 for suite in tls['ciphersuites'])
    assert p['config']['http']['headers']['Strict-Transport-Security'] == ['max-age=63072000']
    conf = _file(p, 'ui_tls_conf')['content']
    for line in ('ssl_protocols TLSv1.2 TLSv1.3;', 'ssl_ecdh_curve X25519:prime256v1:secp384r1;', 'server_tokens off;',
                 'add_header Strict-Transport-Security "max-age=63072000" always;',
                 'add_header X-Frame-Options "DENY" always;'):
        assert line in conf
    assert 'CBC' not in conf and 'SHA1' not in conf and 'secp521r1' not in conf
    env = ui['environment']
    assert env['NGINX_LISTEN_PORT'] == '127.0.0.1:80' and env['ENABLE_VERSION_NOTIFICATION'] == 'false'
    assert env['DOCKER_REGISTRY_UI_TITLE'] == env['REGISTRY_TITLE'] == 'Docker registry'
    # Control: without HTTPS in front, the plain server is the UI's published server.
    assert 'NGINX_LISTEN_PORT' not in plan(registry_ui_tls=False)['compose']['services']['ui']['environment']
    # The user may turn the version notice on.
    assert plan(registry_ui_env={'ENABLE_VERSION_NOTIFICATION': True})['compose']['services']['ui'][
        'environment']['ENABLE_VERSION_NOTIFICATION'] == 'true'


@pytest.mark.parametrize('version, mounted', [('2.6.0', True), ('2.10.1', True), ('2.5.7', False), ('custom', False)])
def test_forwarded_credentials_stay_out_of_the_environment_from_joxit_2_6(version, mounted):
    p = plan(registry_ui_version=version, registry_ui_mode='forward_credentials',
             registry_ui_proxy_user={'name': 'ui', 'password': PASSWORD})
    ui = p['compose']['services']['ui']
    mount = '%s:/etc/nginx/.env:ro' % p['paths']['ui_env']
    assert (mount in ui['volumes']) == mounted
    assert (ui['env_file'] == []) == mounted
    label = ui['labels'].get('io.dockyard.registry.ui-env')
    assert bool(label) == mounted
    if mounted:
        # The label changes with the credentials (a new password recreates the UI) and is not their sha256.
        other = plan(registry_ui_version=version, registry_ui_mode='forward_credentials',
                     registry_ui_proxy_user={'name': 'ui', 'password': PASSWORD + 'x'})
        assert other['compose']['services']['ui']['labels']['io.dockyard.registry.ui-env'] != label
        assert label != hashlib.sha256(p['ui']['env_content'].encode()).hexdigest()
