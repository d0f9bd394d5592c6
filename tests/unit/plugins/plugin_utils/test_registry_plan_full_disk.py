# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the plan's full-disk parts (issue 8, point 5): the free-space threshold (its check,
the registry container's healthcheck, the look's option and verdict), distribution's upload purging,
the purge of a base directory with mount points, and the upload purge's report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

import pytest

from ansible_collections.dockyard.registry.plugins.filter.maintenance import FilterModule
from ansible_collections.dockyard.registry.plugins.plugin_utils._maintenance import uploads_summary
from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import (
    HEALTHCHECK, build_plan, go_duration_seconds, purge_plan)

from .test_registry_plan import _argspec, _defaults, variables

S3 = dict(registry_storage_driver='s3', registry_http_secret='h' * 32,
          registry_storage_s3={'endpoint': 'http://s3.test:7480', 'bucket': 'registry'})
ROOT = '/opt/registry/data/docker/registry/v2/repositories'


def plan(**overrides):
    return build_plan(variables(**overrides))


def problems(**overrides):
    return build_plan(variables(**overrides))['problems']


def healthcheck(plan_):
    return plan_['compose']['services']['registry']['healthcheck']['test']


def test_full_disk_variables_are_documented_with_their_defaults():
    spec, defaults = _argspec(), _defaults()
    for name in ('registry_data_min_free_mb', 'registry_upload_purging_enabled', 'registry_upload_purging_age',
                 'registry_upload_purging_interval', 'registry_upload_purging_dryrun'):
        assert name in spec, name
        assert spec[name]['default'] == defaults[name], name
    assert defaults['registry_data_min_free_mb'] == 1024


# ---------------------------------------------------------------- checks of the variables

@pytest.mark.parametrize('name, value, message', [
    ('registry_data_min_free_mb', -1, "registry_data_min_free_mb: -1 is not allowed; allowed: an integer from 0"),
    ('registry_data_min_free_mb', 'lots', "registry_data_min_free_mb: 'lots' is not allowed"),
    ('registry_data_min_free_mb', True, 'registry_data_min_free_mb: True is not allowed'),
    ('registry_upload_purging_age', '30m', "registry_upload_purging_age: '30m' is not allowed; allowed: a Go duration"
                                           " such as 24h or 1h30m at least 1h"),
    ('registry_upload_purging_age', 'often', "registry_upload_purging_age: 'often' is not allowed"),
    ('registry_upload_purging_interval', '0s', "registry_upload_purging_interval: '0s' is not allowed; allowed: a Go"
                                               " duration such as 24h or 1h30m greater than 0"),
    ('registry_upload_purging_interval', '-5m', "registry_upload_purging_interval: '-5m' is not allowed"),
])
def test_bad_values_are_named_with_what_is_allowed(name, value, message):
    found = problems(**{name: value})
    assert len(found) == 1 and found[0].startswith(message), found


@pytest.mark.parametrize('name, value', [
    ('registry_data_min_free_mb', 0), ('registry_data_min_free_mb', '50'), ('registry_upload_purging_age', '1h'),
    ('registry_upload_purging_age', '168h'), ('registry_upload_purging_interval', '90s'),
    ('registry_upload_purging_interval', '1h30m')])
def test_good_values_pass(name, value):
    """Negative control of the checks above."""
    assert problems(**{name: value}) == []


def test_go_durations():
    assert go_duration_seconds('1h30m') == 5400
    assert go_duration_seconds('500ms') == 0.5
    assert go_duration_seconds('often') is None and go_duration_seconds('') is None


# ---------------------------------------------------------------- upload purging

def test_upload_purging_from_the_variables_with_all_four_keys():
    config = plan(registry_upload_purging_age='48h', registry_upload_purging_interval='6h',
                  registry_upload_purging_dryrun=True)['config']
    assert config['storage']['maintenance'] == {
        'uploadpurging': {'enabled': True, 'age': '48h', 'interval': '6h', 'dryrun': True}}
    off = plan(registry_upload_purging_enabled=False)['config']['storage']['maintenance']['uploadpurging']
    assert off['enabled'] is False and off['age'] == '24h'


def test_s3_storage_purges_its_uploads_too():
    assert plan(**S3)['config']['storage']['maintenance']['uploadpurging']['enabled'] is True


def test_an_override_of_the_section_is_the_whole_section():
    config = plan(registry_config_overrides={'storage': {'maintenance': {'uploadpurging': {
        'enabled': True, 'age': '2h', 'interval': '1h', 'dryrun': False}}}})['config']
    assert config['storage']['maintenance']['uploadpurging'] == {'enabled': True, 'age': '2h', 'interval': '1h',
                                                                 'dryrun': False}


def test_the_read_only_variant_keeps_the_purging():
    readonly = build_plan(variables(), maintenance=True)['config']['storage']['maintenance']
    assert readonly['readonly'] == {'enabled': True} and readonly['uploadpurging']['age'] == '24h'


# ---------------------------------------------------------------- the healthcheck

def _run_healthcheck(tmp_path, test, available_kb, total_kb, health_rc=0):
    """Run the planned healthcheck command (Compose's $$ undone) with a fake wget and busybox-style df."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(parents=True)
    (bin_dir / 'wget').write_text('#!/bin/sh\nexit %d\n' % health_rc)
    (bin_dir / 'df').write_text(
        '#!/bin/sh\n[ "$1 $2 $3" = "-P -k /var/lib/registry" ] || exit 9\n'
        'echo "Filesystem 1024-blocks Used Available Capacity Mounted on"\n'
        'echo "tmpfs %d %d %d 50%% /var/lib/registry"\n' % (total_kb, total_kb - available_kb, available_kb))
    for name in ('wget', 'df'):
        os.chmod(str(bin_dir / name), 0o755)
    assert test[:3] == ['CMD', 'sh', '-c']
    argv = ['sh', '-c', test[3].replace('$$', '$')] + test[4:]
    env = dict(os.environ, PATH='%s:%s' % (bin_dir, os.environ['PATH']))
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def test_healthcheck_fails_below_the_threshold_naming_path_and_figures(tmp_path):
    test = healthcheck(plan(registry_data_min_free_mb=50, registry_base_dir="/srv/it's registry"))
    assert test[-1] == HEALTHCHECK[-1], 'the health endpoint stays the last argument'
    low = _run_healthcheck(tmp_path / 'low', test, available_kb=3 * 1024, total_kb=64 * 1024)
    assert low.returncode == 1
    assert low.stdout == ("data directory /srv/it's registry/data (/var/lib/registry in the container) has 3 MiB"
                          " free of 64 MiB, below registry_data_min_free_mb=50\n")


def test_healthcheck_passes_with_room_and_fails_when_the_registry_does_not_answer(tmp_path):
    """Negative controls: enough room is healthy; the registry's own health endpoint still counts."""
    test = healthcheck(plan(registry_data_min_free_mb=50))
    room = _run_healthcheck(tmp_path / 'room', test, available_kb=51 * 1024, total_kb=64 * 1024)
    assert (room.returncode, room.stdout) == (0, '')
    down = _run_healthcheck(tmp_path / 'down', test, available_kb=51 * 1024, total_kb=64 * 1024, health_rc=4)
    assert down.returncode == 4


def test_no_free_space_check_with_threshold_zero_or_s3():
    assert healthcheck(plan(registry_data_min_free_mb=0)) == HEALTHCHECK
    assert healthcheck(plan(**S3)) == HEALTHCHECK
    assert healthcheck(plan()) != HEALTHCHECK


# ---------------------------------------------------------------- the look

def test_the_look_measures_the_data_directory_for_filesystem_storage_only():
    assert plan(registry_data_min_free_mb=50)['look']['data_dir'] == {'path': '/opt/registry/data', 'min_free_mb': 50}
    assert plan(**S3)['look']['data_dir'] is None


LOW = {'low': True, 'msg': 'data directory /opt/registry/data has 3 MiB free of 64 MiB, below registry_data_min_free_mb=50'}


def test_a_low_data_directory_stops_the_role_before_anything_is_touched():
    found = build_plan(variables(), info={'data_dir': LOW})['problems']
    assert len(found) == 1
    assert found[0].startswith(LOW['msg'] + ': pushes fail once it is full')
    assert 'dockyard.registry.purge_uploads' in found[0] and 'dockyard.registry.gc' in found[0]
    assert build_plan(variables(), info={'data_dir': dict(LOW, low=False)})['problems'] == []


# ---------------------------------------------------------------- the purge of the base directory

def test_absent_plans_the_mount_look_only_when_purging():
    assert build_plan(variables(registry_state='absent', registry_purge_data=True))['look']['mounts_under'] == \
        '/opt/registry'
    assert build_plan(variables(registry_state='absent'))['look']['mounts_under'] is None
    absent = build_plan(variables(registry_state='absent', registry_purge_data=True),
                        info={'mounts': ['/opt/registry/data']})
    assert absent['purge']['mounts'] == ['/opt/registry/data']


def test_purge_without_mounts_removes_the_tree():
    assert purge_plan('/opt/registry', ['/', '/opt/registry2', '/opt']) == {'mounts': [], 'keep': [], 'argv': None}
    assert purge_plan('/opt/registry', None)['argv'] is None


def test_purge_keeps_mount_points_and_the_directories_to_them():
    result = purge_plan('/opt/registry/', ['/opt/registry/data', '/opt/registry/x/y', '/proc'])
    assert result['mounts'] == ['/opt/registry/data', '/opt/registry/x/y']
    assert result['keep'] == ['/opt/registry', '/opt/registry/data', '/opt/registry/x', '/opt/registry/x/y']
    assert result['argv'] == ['find', '/opt/registry', '-depth', '-mindepth', '1', '!', '-path', '/opt/registry/data',
                              '!', '-path', '/opt/registry/x', '!', '-path', '/opt/registry/x/y', '-print', '-delete']
    base = purge_plan('/opt/registry', ['/opt/registry'])
    assert base['keep'] == ['/opt/registry'] and base['argv'][-2:] == ['-print', '-delete']
    assert purge_plan('/srv/a[1]*', ['/srv/a[1]*/data'])['argv'][6:8] == ['-path', '/srv/a\\[1\\]\\*/data']


def test_the_purge_command_empties_a_kept_directory_and_removes_the_rest(tmp_path):
    """The planned find(1) on a real tree (data/ stands for a mount point: kept, emptied)."""
    base = tmp_path / 'reg[1]'
    for rel in ('data/docker/registry/v2/blobs/x', 'certs', 'auth'):
        (base / rel).mkdir(parents=True)
    for rel in ('data/docker/registry/v2/blobs/x/data', 'certs/registry.key', 'docker-compose.yml'):
        (base / rel).write_text('x')
    argv = purge_plan(str(base), [str(base / 'data')])['argv']
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(str(base))) == ['data'] and os.listdir(str(base / 'data')) == []
    assert str(base / 'certs' / 'registry.key') in proc.stdout.splitlines()


# ---------------------------------------------------------------- the upload purge's report

LISTING = ('52428800\t%s/full/big/_uploads/0b8e2a1c-1\n'
           '1024\t%s/ns/app/_uploads/77aa\n'
           'du: cannot access: No such file\n'
           '99\t/elsewhere/_uploads/zz\n') % (ROOT, ROOT)


def test_uploads_summary_reads_the_listing_and_the_purge_result():
    dry = uploads_summary(LISTING, ROOT + '/', dry_run=True)
    assert dry['uploads'] == [{'repository': 'full/big', 'id': '0b8e2a1c-1', 'bytes': 52428800},
                              {'repository': 'ns/app', 'id': '77aa', 'bytes': 1024}]
    assert (dry['count'], dry['bytes'], dry['removed'], dry['rc'], dry['dry_run']) == (2, 52429824, 0, None, True)
    done = FilterModule().filters()['registry_uploads_summary'](
        LISTING, root=ROOT, purge_output='log line\nDOCKYARD_PURGE_RESULT rc=0 readwrite_rc=0 uploads=2 window_ms=3250\n')
    assert (done['removed'], done['rc'], done['window_seconds'], done['dry_run']) == (2, 0, 3.25, False)
    assert uploads_summary('', ROOT)['count'] == 0
