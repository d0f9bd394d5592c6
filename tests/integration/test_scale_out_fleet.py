# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two registry replicas on two fleet hosts (tests/testbed/fleet: own dockerd each, reached over
real SSH) sharing one bucket on the real Ceph RADOS Gateway, haproxy in front on the controller.

The RGW container runs on this machine's engine and joins the fleet's network, so the fleet hosts
(and, through their NAT, the registry containers of their own engines) reach it by its address
there. One inventory, deployed with playbooks/site.yml (replicas registry1 and registry2 over SSH,
the registry image from its `docker save` archive; client1 trusts both through registry_client)
and playbooks/lb.yml (registry_lb on the controller, `ansible_connection: local`, TLS ended there
and started again to each replica's address, verified with the replicas' CA for their names):
- push through the balancer; pull through the balancer (this machine's engine, none of the
  image's layers left locally) and from each replica directly (client1, by the replicas' names):
  one digest, the pushed one;
- a pull loop through the balancer while registry1's registry container is killed: zero failed
  pulls, haproxy marks it DOWN and UP again once it is started;
- a 300 MB push (three layers of random data) through the balancer while registry2's registry is
  stopped (once an upload of the push is under way) and started again: the push succeeds, both
  replicas serve its manifest with the pushed digest, and it pulls back through the balancer with
  the pushed layers;
- replicas given different HTTP secrets are refused before either host is touched (the running
  replicas keep their containers); that such replicas fail a multi-request upload is shown by hand
  in test_scale_out.py (a property of distribution, not of where the replicas run).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import secrets
import sys
import uuid

import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'testbed', 'fleet'))

import fleet as fleetlib  # noqa: E402
import roles_lib  # noqa: E402
from scale_lib import PUSH_LAYERS, PUSH_MB, ScaleOut, scale_out  # noqa: E402

PORT = 5000


class FleetScaleOut(ScaleOut):
    """ScaleOut whose replicas are the fleet's registry hosts (no replica on this engine: only the
    balancer, its compose project and certs.d entry are here)."""

    def __init__(self, workdir, rgw, fleet=None, archives=None):
        ScaleOut.__init__(self, workdir, rgw, replicas=2)
        self.fleet = fleet
        self.archives = archives
        self.names = [host.short for host in fleet.group('registry')]
        self.ports = {}
        self.projects = {}

    def inventory(self, host_overrides=None, name='inventory.yml', replicas=None):
        registries = self.fleet.group('registry')
        hosts = dict((host.fqdn, dict({'ansible_host': host.ip, 'registry_server_name': host.fqdn},
                                      **(host_overrides or {}).get(host.short, {}))) for host in registries)
        backends = [{'name': host.short, 'address': host.ip, 'port': PORT, 'server_name': host.fqdn}
                    for host in registries]
        lb = dict(self.lb_vars(backends), ansible_connection='local',
                  ansible_python_interpreter='{{ ansible_playbook_python }}')
        inventory = {'all': {
            'vars': {'ansible_user': 'root', 'ansible_ssh_private_key_file': self.fleet.key,
                     'ansible_ssh_common_args': fleetlib.SSH_COMMON_ARGS,
                     'ansible_python_interpreter': fleetlib.PYTHON},
            'children': {
                'registry': {'hosts': hosts, 'vars': dict(self.registry_vars(), **{
                    'registry_version': roles_lib.REGISTRY_VERSION,
                    'registry_image': roles_lib.REGISTRY_IMAGE,
                    'registry_image_archives': self.archives})},
                'docker_clients': {'hosts': dict((host.fqdn, {'ansible_host': host.ip})
                                                 for host in self.fleet.group('docker_clients'))},
                'registry_lb': {'hosts': {'lb': lb}},
            },
        }}
        path = os.path.join(self.workdir, name)
        with open(path, 'w') as handle:
            yaml.safe_dump(inventory, handle)
        os.chmod(path, 0o600)
        return path

    def play(self, inventory, playbooks=('site.yml', 'lb.yml'), verbosity=0):
        for name in playbooks:
            result = roles_lib.ansible_playbook(os.path.join(roles_lib.REPO, 'playbooks', name), inventory,
                                                verbosity=verbosity, timeout=1200, env={'ANSIBLE_PIPELINING': '1'})
            if result.rc != 0:
                break
        return result

    # ------------------------------------------------------------ the fleet's hosts
    def sh(self, host, command, input=None, timeout=300):
        return roles_lib.run(self.fleet.ssh_argv(host, command), input=input, timeout=timeout)

    def sh_ok(self, host, command, input=None, timeout=300):
        proc = self.sh(host, command, input=input, timeout=timeout)
        assert proc.returncode == 0, '%s on %s (rc=%d): %s' % (
            command[:120], host, proc.returncode, (proc.stderr or proc.stdout)[-1500:])
        return proc.stdout

    def replica_container(self, short):
        ids = self.sh_ok(short, 'docker ps -aq --filter label=com.docker.compose.project=registry'
                                ' --filter label=com.docker.compose.service=registry').split()
        assert len(ids) == 1, (short, ids)
        return ids[0]


@pytest.fixture(scope='module')
def fleet(docker_engine, tmp_path_factory):
    if roles_lib.docker('image', 'inspect', fleetlib.IMAGE).returncode != 0:
        pytest.fail('image %s is missing: %s' % (fleetlib.IMAGE, fleetlib.BUILD_HINT))
    root = str(tmp_path_factory.mktemp('scale-fleet'))
    with fleetlib.Fleet('sofl-%s' % uuid.uuid4().hex[:8], registries=2, clients=1,
                        out=os.path.join(root, 'fleet')) as made:
        made.root = root
        yield made


@pytest.fixture(scope='module')
def rgw(fleet, ceph_rgw):
    # Torn down before the fleet (its network must be empty to go).
    return ceph_rgw(network=fleet.network, bucket='registry')


@pytest.fixture(scope='module')
def deployed(fleet, rgw):
    archives = fleetlib.save_images(os.path.join(fleet.root, 'images'), kinds=('registry',))
    registry = [a for a in archives if a['image'] == roles_lib.REGISTRY_IMAGE]
    with scale_out(os.path.join(fleet.root, 'scale'), rgw, cls=FleetScaleOut, fleet=fleet,
                   archives=[{'src': registry[0]['src'], 'image': roles_lib.REGISTRY_IMAGE}]) as cluster:
        cluster.deploy()
        cluster.login_all()
        cluster.wait_stats({'registry1': 'UP', 'registry2': 'UP'})
        cluster.client = fleet.group('docker_clients')[0].short
        for host in fleet.group('registry'):
            proc = cluster.sh(cluster.client, 'docker login -u %s --password-stdin %s:%d'
                              % (cluster.user[0], host.fqdn, PORT), input=cluster.user[1] + '\n')
            assert proc.returncode == 0, proc.stderr
        yield cluster


def test_push_through_the_balancer_pull_from_each_fleet_replica(deployed):
    # The replicas really run on the fleet's hosts, on the bucket: their config names the RGW.
    for host in deployed.fleet.group('registry'):
        config = deployed.sh_ok(host.short, 'cat /opt/registry/config/config.yml')
        assert 'regionendpoint: %s' % deployed.rgw.ip_endpoint() in config, config
    local, token = deployed.build_image('fleet', megabytes=8)
    ref = deployed.ref(deployed.lb_port, 'fleet')
    deployed.tag(local, ref)
    proc = deployed.docker('push', ref, timeout=600)
    assert proc.returncode == 0, proc.stderr
    pushed = re.findall(r'fleet: digest: (sha256:[0-9a-f]{64}) size:', proc.stdout)
    assert len(pushed) == 1, proc.stdout
    # The tag is in the bucket (the replicas' shared storage), pointing at the pushed manifest.
    link = '%s/docker/registry/v2/repositories/%s/_manifests/tags/fleet/current/link' % (
        deployed.root_directory.strip('/'), ref.split('/', 1)[1].rsplit(':', 1)[0])
    assert deployed.rgw.get_object(link).decode() == pushed[0]
    # Through the balancer, with none of the image's own layers left on this engine.
    deployed.docker('rmi', local, check=True)
    assert deployed.pull_digest(ref) == pushed[0]
    assert deployed.token_of(ref) == token
    # From each replica directly, by its name, on the fleet's client (which never had the image).
    for host in deployed.fleet.group('registry'):
        direct = '%s:%d/%s' % (host.fqdn, PORT, ref.split('/', 1)[1])
        out = deployed.sh_ok(deployed.client, 'set -e; docker pull %s >/dev/null; docker image inspect -f'
                                              ' \'{{json .RepoDigests}} {{ index .Config.Labels "%s" }}\' %s; docker rmi %s'
                             ' >/dev/null' % (direct, roles_lib.TOKEN_LABEL, direct, direct))
        digests, label = out.strip().splitlines()[0].rsplit(' ', 1)
        assert [d.split('@', 1)[1] for d in json.loads(digests)] == [pushed[0]], (host.fqdn, out)
        assert label == token, (host.fqdn, out)
    sessions = deployed.server_sessions()
    assert sessions['registry1'] > 0 and sessions['registry2'] > 0, sessions


def test_kill_a_fleet_replica_during_a_pull_loop(deployed):
    local, token = deployed.build_image('loop')
    ref = deployed.ref(deployed.lb_port, 'loop')
    deployed.tag(local, ref)
    assert deployed.docker('push', ref, timeout=600).returncode == 0
    victim = deployed.replica_container('registry1')

    def kill():
        deployed.sh_ok('registry1', 'docker kill %s' % victim)
        deployed.wait_stats({'registry1': 'DOWN', 'registry2': 'UP'})
    outcomes = deployed.pull_loop_around(ref, kill)
    failed = [outcome for outcome in outcomes if outcome[0] != 0]
    assert failed == [] and len(outcomes) >= 8, (len(outcomes), failed)
    assert deployed.token_of(ref) == token
    deployed.sh_ok('registry1', 'docker start %s' % victim)
    deployed.wait_stats({'registry1': 'UP', 'registry2': 'UP'})


def test_big_push_through_the_balancer_while_a_fleet_replica_restarts(deployed):
    local, token = deployed.build_image('big', megabytes=PUSH_MB, layers=PUSH_LAYERS)
    ref = deployed.ref(deployed.lb_port, 'big')
    deployed.tag(local, ref)

    def restart_registry2():
        victim = deployed.replica_container('registry2')
        deployed.sh_ok('registry2', 'docker stop -t 60 %s' % victim, timeout=120)
        deployed.wait_stats({'registry1': 'UP', 'registry2': 'DOWN'})
        deployed.sh_ok('registry2', 'docker start %s' % victim)
    proc = deployed.push_while(ref, restart_registry2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    deployed.wait_stats({'registry1': 'UP', 'registry2': 'UP'}, timeout=120)
    pushed = re.findall(r'big: digest: (sha256:[0-9a-f]{64}) size:', proc.stdout)
    assert len(pushed) == 1, proc.stdout
    layers = json.loads(deployed.docker('image', 'inspect', '-f', '{{json .RootFS.Layers}}', local, check=True).stdout)
    assert len(layers) >= PUSH_LAYERS + 1, layers
    # Each replica, asked by its name from the fleet's client, serves the manifest with the pushed digest.
    path = '/v2/%s/manifests/big' % ref.split('/', 1)[1].rsplit(':', 1)[0]
    for host in deployed.fleet.group('registry'):
        out = deployed.sh_ok(deployed.client, "curl -sS -I -u %s --cacert /etc/docker/certs.d/%s:%d/ca.crt"
                                              " -H 'Accept: application/vnd.docker.distribution.manifest.v2+json'"
                                              " https://%s:%d%s" % (':'.join(deployed.user), host.fqdn, PORT,
                                                                    host.fqdn, PORT, path))
        assert re.search(r'(?im)^docker-content-digest: %s\s*$' % pushed[0], out), (host.fqdn, out)
    # Pulled back through the balancer with none of the image's own layers left on this engine.
    deployed.docker('rmi', local, check=True)
    assert deployed.pull_digest(ref) == pushed[0]
    assert deployed.token_of(ref) == token
    assert json.loads(deployed.docker('image', 'inspect', '-f', '{{json .RootFS.Layers}}', ref,
                                      check=True).stdout) == layers


def test_fleet_replicas_with_differing_secrets_are_refused(deployed):
    before = dict((host.short, deployed.replica_container(host.short)) for host in deployed.fleet.group('registry'))
    other = 'other-' + secrets.token_hex(20)
    inventory = deployed.inventory(host_overrides={'registry2': {'registry_http_secret': other}}, name='differing.yml')
    result = deployed.play(inventory, playbooks=('site.yml',))
    assert result.rc != 0
    hosts = [host.fqdn for host in deployed.fleet.group('registry')]
    assert ('registry_http_secret differs between %s and %s, which share s3 storage' % (hosts[0], hosts[1])
            ) in result.output, result.describe()
    assert other not in result.output and deployed.http_secret not in result.output
    # Refused before either host was touched: the same containers, still on the shared secret.
    assert dict((host.short, deployed.replica_container(host.short))
                for host in deployed.fleet.group('registry')) == before
    for host in deployed.fleet.group('registry'):
        env = deployed.sh_ok(host.short, 'cat /opt/registry/secrets/registry.env')
        assert 'REGISTRY_HTTP_SECRET=%s\n' % deployed.http_secret in env
