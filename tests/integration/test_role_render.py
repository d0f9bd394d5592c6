# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role's planned files against the registry's configuration contract, per major version.

Registry 3.x is not packaged for Debian, so it cannot run here: its rendered config.yml and
docker-compose.yml are checked against v3's documented keys and paths (distribution v3
configuration/configuration.go and docs/content/about/configuration.md). Registry 2.8 is also
run live by test_role*.py; the same checks run on its rendering here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = os.path.join(REPO, 'roles', 'registry')

# Where each major version reads its configuration (a config elsewhere is silently ignored).
CONFIG_DIR = {2: '/etc/docker/registry', 3: '/etc/distribution'}

# The configuration keys of distribution v3 (configuration.Configuration), as far as the role
# generates them or users commonly override them. A key outside this tree is unknown to v3.
V3_KEYS = {
    'version': None,
    'log': {'accesslog': {'disabled': None}, 'level': None, 'formatter': None, 'fields': '*',
            'hooks': None, 'reportcaller': None},
    'storage': '*',
    'auth': {'htpasswd': {'realm': None, 'path': None}, 'token': '*', 'silly': '*'},
    'middleware': '*',
    'http': {'addr': None, 'net': None, 'host': None, 'prefix': None, 'secret': None,
             'relativeurls': None, 'draintimeout': None,
             'tls': {'certificate': None, 'key': None, 'clientcas': None, 'minimumtls': None,
                     'ciphersuites': None, 'letsencrypt': '*'},
             'headers': '*', 'debug': {'addr': None, 'prometheus': {'enabled': None, 'path': None}},
             'http2': {'disabled': None}},
    'notifications': '*',
    'redis': '*',
    'health': {'file': None, 'http': None, 'tcp': None,
               'storagedriver': {'enabled': None, 'interval': None, 'threshold': None}},
    'catalog': {'maxentries': None},
    'proxy': '*',
    'validation': '*',
    'policy': '*',
}
V3_LOG_LEVELS = ('error', 'warn', 'info', 'debug')
V3_TLS_VERSIONS = ('tls1.2', 'tls1.3')  # v3 refuses tls1.0/tls1.1


def unknown_keys(data, schema, prefix=''):
    """Dotted paths in ``data`` that ``schema`` does not know."""
    problems = []
    for key, value in data.items():
        path = prefix + str(key)
        if key not in schema:
            problems.append(path)
        elif isinstance(schema[key], dict) and isinstance(value, dict):
            problems.extend(unknown_keys(value, schema[key], path + '.'))
    return problems


def contract_problems(major, config, compose, base):
    """Everything in the rendered pair that breaks the registry's contract for ``major``."""
    problems = []
    service = compose['services']['registry']
    mounts = dict(volume.rsplit(':', 2)[:2][::-1] for volume in service['volumes'])
    if mounts.get(CONFIG_DIR[major]) != os.path.join(base, 'config'):
        problems.append('config.yml is not mounted at %s (mounts: %s)' % (CONFIG_DIR[major], sorted(mounts)))
    for inside, what in ((config['http']['tls']['certificate'], 'certificate'),
                         (config['http']['tls']['key'], 'key'),
                         (config['auth']['htpasswd']['path'], 'htpasswd file'),
                         (config['storage']['filesystem']['rootdirectory'] + '/x', 'storage')):
        if not any(inside.startswith(mount.rstrip('/') + '/') for mount in mounts):
            problems.append('the %s path %s is not inside a mount' % (what, inside))
    if mounts.get('/auth') != os.path.join(base, 'auth'):
        problems.append('the htpasswd DIRECTORY must be mounted (a file mount misses atomic renames)')
    if str(config.get('version')) != '0.1':
        problems.append('version must be 0.1')
    if config['log']['level'] not in V3_LOG_LEVELS:
        problems.append('log.level %r' % config['log']['level'])
    if 'secret' in config['http']:
        problems.append('http.secret must not be written to config.yml (it comes from the environment)')
    if not config['http']['debug']['addr'].startswith('127.0.0.1:'):
        problems.append('the debug server must listen on loopback only')
    if major >= 3:
        problems.extend('unknown v3 key %s' % key for key in unknown_keys(config, V3_KEYS))
        if config['http']['tls'].get('minimumtls') not in V3_TLS_VERSIONS:
            problems.append('v3 accepts only %s as http.tls.minimumtls' % (V3_TLS_VERSIONS,))
        if service.get('environment', {}).get('OTEL_TRACES_EXPORTER') != 'none':
            problems.append('v3 needs OTEL_TRACES_EXPORTER=none or its log fills with export errors')
    return problems


def render(tmp_path, **variables):
    """config.yml and docker-compose.yml as the role plans them, from its defaults and vars."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    base = str(tmp_path / 'base')
    playbook = tmp_path / 'render.yml'
    extra = dict(registry_base_dir=base, registry_users=[{'name': 'admin', 'password': 'unused'}],
                 ansible_python_interpreter=sys.executable)
    extra.update(variables)
    base = extra['registry_base_dir']
    plan = "(_registry_input | dockyard.registry.registry_plan)"
    playbook.write_text(yaml.safe_dump([{
        'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
        'vars_files': [os.path.join(ROLE, 'defaults', 'main.yml'), os.path.join(ROLE, 'vars', 'main.yml')],
        'tasks': [
            {'name': 'Plan', 'ansible.builtin.set_fact': {'plan': '{{ %s }}' % plan}},
            {'name': 'No problems', 'ansible.builtin.assert': {'that': 'plan.problems == []',
                                                               'fail_msg': '{{ plan.problems }}'}},
        ] + [
            {'name': 'Write %s' % name, 'ansible.builtin.copy': {
                'content': '{{ (plan.files | selectattr("path", "equalto", plan.paths.%s) | first).content }}' % key,
                'dest': str(tmp_path / name), 'mode': '0600'}}
            for name, key in (('config.yml', 'config'), ('docker-compose.yml', 'compose'))],
    }]))
    # Extra vars: the role's defaults, loaded here as vars_files, would outrank play vars.
    (tmp_path / 'extra.yml').write_text(yaml.safe_dump(extra))
    result = subprocess.run(['ansible-playbook', '-i', 'localhost,', str(playbook), '-e', '@' + str(tmp_path / 'extra.yml')],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(str(tmp_path / 'config.yml')) as f:
        config = yaml.safe_load(f)
    with open(str(tmp_path / 'docker-compose.yml')) as f:
        compose = yaml.safe_load(f)
    return base, config, compose


@pytest.mark.parametrize('version, major', [('3.0.0', 3), ('3.1.0', 3), ('2.8.3', 2)])
def test_rendered_files_follow_the_contract(tmp_path, version, major):
    base, config, compose = render(tmp_path, registry_version=version)
    assert contract_problems(major, config, compose, base) == []
    assert compose['services']['registry']['image'] == 'docker.io/library/registry:%s' % version


def test_v3_with_every_option_the_role_renders(tmp_path):
    base, config, compose = render(tmp_path, registry_version='3.0.0', registry_delete_enabled=True,
                                   registry_ui_mode='cross_origin', registry_log_level='debug',
                                   registry_catalog_max_entries=500)
    assert contract_problems(3, config, compose, base) == []
    assert config['storage']['delete'] == {'enabled': True}
    assert config['catalog'] == {'maxentries': 500}
    assert config['http']['headers']['Access-Control-Allow-Origin'] == ['https://localhost:8443']


def test_the_contract_check_catches_a_config_at_the_wrong_path(tmp_path):
    """Negative control: a v3 deployment with the v2 mount path (silently ignored by v3) is caught."""
    base, config, compose = render(tmp_path, registry_version='2.8.3')
    problems = contract_problems(3, config, compose, base)
    assert any('not mounted at /etc/distribution' in problem for problem in problems)
    assert any('OTEL_TRACES_EXPORTER' in problem for problem in problems)


def test_the_contract_check_catches_unknown_v3_keys():
    """Negative control for the key tree: v2-only or misspelt keys are reported."""
    assert unknown_keys({'http': {'tls': {'minimumTLS': 'tls1.2'}}, 'loglevel': 'info'}, V3_KEYS) == [
        'http.tls.minimumTLS', 'loglevel']


def _run_registry(tmp_path, config):
    """Run the real registry binary (the test bed's 2.8 image) on ``config``; (container, port) or the
    (None, output) of a registry that refused to start."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import roles_lib  # pylint: disable=import-outside-toplevel
    certs = tmp_path / 'certs'
    certs.mkdir()
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '2',
                    '-keyout', str(certs / 'registry.key'), '-out', str(certs / 'registry.crt')],
                   check=True, capture_output=True)
    conf = tmp_path / 'config'
    conf.mkdir()
    (conf / 'config.yml').write_text(yaml.safe_dump(config))
    port = roles_lib.free_ports(1)[0]
    name = 'dockyard-render-%d' % port
    proc = roles_lib.docker('run', '-d', '--name', name, '-p', '127.0.0.1:%d:5000' % port,
                            '-v', '%s:/etc/docker/registry:ro' % conf, '-v', '%s:/certs:ro' % certs,
                            roles_lib.REGISTRY_IMAGE, check=True)
    del proc
    return name, port, str(certs / 'registry.crt')


def test_the_real_registry_runs_the_plan_and_refuses_two_drivers(tmp_path, docker_engine):
    """registry_config_overrides can tune the driver but never add a second one: the real registry
    binary runs the planned config, and refuses (negative control) the config the plan now refuses."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import roles_lib  # pylint: disable=import-outside-toplevel
    del docker_engine
    tuned = {'storage': {'filesystem': {'maxthreads': 50}}}
    dummy, config, dummy2 = render(tmp_path / 'tuned', registry_version='2.8.3', registry_auth_enabled=False,
                                   registry_config_overrides=tuned)
    assert config['storage']['filesystem'] == {'rootdirectory': '/var/lib/registry', 'maxthreads': 50}
    two = dict(config, storage=dict(config['storage'], s3={'bucket': 'b', 'region': 'us-east-1'}))
    runs = {}
    try:
        for label, data in (('planned', config), ('two drivers', two)):
            (tmp_path / label).mkdir()
            runs[label] = _run_registry(tmp_path / label, data)
        name, port, cert = runs['planned']
        status = roles_lib.wait_for(lambda: roles_lib.curl_status('https://localhost:%d/v2/' % port, cacert=cert)
                                    if roles_lib.docker('inspect', '-f', '{{.State.Running}}', name).stdout.strip() == 'true'
                                    else 'exited', 30, what='the planned config to serve')
        assert status == 200, roles_lib.docker('logs', name).stderr[-2000:]
        name, port, cert = runs['two drivers']
        roles_lib.wait_for(lambda: roles_lib.docker('inspect', '-f', '{{.State.Running}}', name).stdout.strip() == 'false',
                           30, what='the registry with two drivers to exit')
        logs = roles_lib.docker('logs', name)
        assert 'must provide exactly one storage type. Provided: [filesystem s3]' in logs.stdout + logs.stderr
    finally:
        for name, dummy, dummy2 in runs.values():
            roles_lib.docker('rm', '-f', name)
    # And the role refuses to plan what the binary refuses.
    with pytest.raises(AssertionError, match='second storage driver'):
        render(tmp_path / 'refused', registry_version='2.8.3',
               registry_config_overrides={'storage': {'s3': {'bucket': 'b', 'region': 'us-east-1'}}})
