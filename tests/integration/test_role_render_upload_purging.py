# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""distribution's upload purging as the role renders it (issue 8, point 5), against both contracts.

Both 2.8 and 3.x read storage.maintenance.uploadpurging with the keys enabled, age, interval and
dryrun (registry/handlers/app.go, startUploadPurger); 2.8 panics when one of them is missing, so
the role always renders all four. The real 2.8 binary runs the planned config and schedules its
purge; the same config with an age that is not a duration makes it refuse to start (negative
control: the binary reads the section the role writes).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

import roles_lib
from test_role_render import _run_registry, contract_problems, render

PURGING = {'registry_upload_purging_enabled': True, 'registry_upload_purging_age': '2h',
           'registry_upload_purging_interval': '30m', 'registry_upload_purging_dryrun': True}


@pytest.mark.parametrize('version, major', [('2.8.3', 2), ('3.0.0', 3), ('3.1.1', 3)])
def test_upload_purging_is_rendered_with_the_four_keys_both_versions_read(tmp_path, version, major):
    base, config, compose = render(tmp_path, registry_version=version, **PURGING)
    assert contract_problems(major, config, compose, base) == []
    assert config['storage']['maintenance']['uploadpurging'] == {'enabled': True, 'age': '2h', 'interval': '30m',
                                                                 'dryrun': True}
    # The read-only switch of the maintenance tasks is added beside it, never instead of it.
    assert 'readonly' not in config['storage']['maintenance']


def test_defaults_purge_unfinished_uploads_daily(tmp_path):
    dummy, config, dummy2 = render(tmp_path, registry_version='2.8.3')
    assert config['storage']['maintenance']['uploadpurging'] == {'enabled': True, 'age': '24h', 'interval': '24h',
                                                                 'dryrun': False}


def _logs_when(name, predicate, what):
    def ready():
        proc = roles_lib.docker('logs', name)
        text = proc.stdout + proc.stderr
        return predicate(text) and text
    return roles_lib.wait_for(ready, 30, what=what)


def test_the_real_registry_schedules_the_planned_purge_and_refuses_a_bad_one(tmp_path, docker_engine):
    del docker_engine
    dummy, config, dummy2 = render(tmp_path / 'planned', registry_version='2.8.3', registry_auth_enabled=False,
                                   **PURGING)
    bad = dict(config, storage=dict(config['storage'], maintenance={
        'uploadpurging': dict(config['storage']['maintenance']['uploadpurging'], age='often')}))
    runs = {}
    try:
        for label, data in (('planned', config), ('bad age', bad)):
            (tmp_path / label).mkdir(exist_ok=True)
            runs[label] = _run_registry(tmp_path / label, data)
        logs = _logs_when(runs['planned'][0], lambda text: 'Starting upload purge in' in text,
                          'the registry to schedule its upload purge')
        assert 'Unable to parse upload purge configuration' not in logs
        logs = _logs_when(runs['bad age'][0], lambda text: 'upload purge configuration' in text,
                          'the registry to refuse the bad age')
        assert 'Unable to parse upload purge configuration: Cannot parse duration' in logs
    finally:
        for name, dummy, dummy2 in runs.values():
            roles_lib.docker('rm', '-f', name)
