# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugin_utils/_storage_reach.py and the plan's storage.reach: the registry container's view of its storage."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess

from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import build_plan
from ansible_collections.dockyard.registry.plugins.plugin_utils import _storage_reach
from ansible_collections.dockyard.registry.plugins.plugin_utils._storage_reach import reach_problem

from .test_registry_plan import variables

S3 = {'registry_storage_driver': 's3', 'registry_project_name': 'reg', 'registry_http_secret': 'h' * 40,
      'registry_storage_s3': {'endpoint': 'http://rgw.example:7480', 'bucket': 'images',
                              'access_key': 'AKIDEXAMPLE', 'secret_key': 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY'}}


def plan(**overrides):
    result = build_plan(variables(**overrides))
    assert result['problems'] == []
    return result


def result(network, stdout='', stderr='', rc=1):
    return {'item': {'network': network}, 'stdout': stdout, 'stderr': stderr, 'rc': rc}


REACH = {'where': "bucket 'images' at http://rgw.example:7480", 'url': 'http://rgw.example:7480/'}


def test_any_http_answer_from_any_network_is_reach():
    forbidden = 'Connecting to rgw.example:7480 (10.0.0.2:7480)\n  HTTP/1.1 403 Forbidden\nwget: server returned error'
    assert reach_problem(REACH, [result('net1', stderr='wget: bad address'), result('net2', stderr=forbidden)]) == ''
    assert reach_problem(REACH, [result('bridge', stderr='  HTTP/1.1 200 OK\n', rc=0)]) == ''


def test_no_answer_names_endpoint_bucket_and_each_network():
    problem = reach_problem(REACH, [result('bridge', stdout='no answer within 10 s',
                                           stderr='Connecting to rgw.example:7480 (10.0.0.2:7480)'),
                                    result('net2', stderr="wget: bad address 'rgw.example:7480'\n")])
    assert problem.startswith("registry_storage_s3: the registry's container cannot reach bucket 'images' at "
                              "http://rgw.example:7480 (http://rgw.example:7480/) from the Docker networks it joins "
                              "(bridge: no answer within 10 s; net2: wget: bad address 'rgw.example:7480').")
    assert 'registry_networks' in problem
    # Negative control: a connection refused is no answer either.
    assert reach_problem(REACH, [result('bridge', stderr="wget: can't connect to remote host: Connection refused")])


def test_plan_probes_registry_networks_or_the_bridge_and_never_carries_keys():
    reach = plan(**S3)['storage']['reach']
    assert reach['url'] == 'http://rgw.example:7480/'
    assert [probe['network'] for probe in reach['probes']] == ['bridge']
    argv = reach['probes'][0]['argv']
    assert argv[-4:] == ['dockyard-reach-reg', 'bridge', reach['image'], 'http://rgw.example:7480/']
    assert 'AKIDEXAMPLE' not in repr(reach) and S3['registry_storage_s3']['secret_key'] not in repr(reach)
    with_networks = plan(registry_networks=['ceph', 'cache'], **S3)['storage']['reach']
    assert [probe['network'] for probe in with_networks['probes']] == ['ceph', 'cache']
    # AWS S3 without an endpoint: the region's endpoint.
    aws = dict(S3)
    aws['registry_storage_s3'] = {'bucket': 'images', 'region': 'eu-west-1'}
    assert plan(**aws)['storage']['reach']['url'] == 'https://s3.eu-west-1.amazonaws.com/'
    # Negative control: filesystem storage has nothing outside the host to reach.
    assert plan()['storage']['reach'] is None


def test_probe_command_is_bounded_and_reports_the_timeout(tmp_path):
    """The host's shell script, run for real with a `docker` that never answers (the engine is not
    the subject): the host's timeout ends it, says so, and removes the container."""
    fake = tmp_path / 'docker'
    log = tmp_path / 'calls'
    fake.write_text('#!/bin/sh\necho "$*" >> %s\n[ "$1" = run ] && exec sleep 30\nexit 0\n' % log)
    fake.chmod(0o755)
    argv = plan(**S3)['storage']['reach']['probes'][0]['argv']
    env = dict(os.environ, PATH='%s:%s' % (tmp_path, os.environ['PATH']))
    proc = subprocess.run(argv[:2] + [argv[2].replace('timeout %d ' % _storage_reach.PROBE_SECONDS, 'timeout 1 ')]
                          + argv[3:], env=env, capture_output=True, text=True, timeout=20, check=False)
    assert proc.returncode == 124
    assert 'no answer within' in proc.stdout
    calls = log.read_text().splitlines()
    assert calls[0].startswith('run --rm --name dockyard-reach-reg --network bridge --entrypoint /bin/busybox ')
    assert calls[-1] == 'rm -f dockyard-reach-reg'
