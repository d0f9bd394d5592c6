# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""registry_info's look at the data directory (issue 8, point 5): free space against a threshold,
and the mount points under a path, from statvfs figures and /proc/self/mountinfo text."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import os

from ansible_collections.dockyard.registry.plugins.module_utils._info import MIB, data_dir_facts, mounts_under

Statvfs = collections.namedtuple('Statvfs', 'f_frsize f_blocks f_bavail')


def fake_statvfs(free_mb, total_mb, seen):
    def statvfs(path):
        seen.append(path)
        return Statvfs(4096, total_mb * MIB // 4096, free_mb * MIB // 4096)
    return statvfs


def test_below_the_threshold_is_low_with_path_and_figures(tmp_path):
    seen = []
    facts = data_dir_facts(str(tmp_path), 50, statvfs=fake_statvfs(3, 64, seen))
    assert seen == [str(tmp_path)]
    assert facts == {'path': str(tmp_path), 'checked_path': str(tmp_path), 'exists': True,
                     'total_bytes': 64 * MIB, 'free_bytes': 3 * MIB, 'min_free_bytes': 50 * MIB, 'low': True,
                     'msg': 'data directory %s has 3 MiB free of 64 MiB, below registry_data_min_free_mb=50'
                            % tmp_path}


def test_room_to_spare_or_no_threshold_is_not_low(tmp_path):
    """Negative controls: at the threshold exactly, and with threshold 0 on an almost full disk."""
    facts = data_dir_facts(str(tmp_path), 50, statvfs=fake_statvfs(50, 64, []))
    assert facts['low'] is False and facts['msg'].endswith('has 50 MiB free of 64 MiB (at least 50 MiB wanted)')
    assert data_dir_facts(str(tmp_path), 0, statvfs=fake_statvfs(0, 64, []))['low'] is False


def test_a_data_directory_not_created_yet_is_judged_by_its_parent(tmp_path):
    seen = []
    missing = str(tmp_path / 'registry' / 'data')
    facts = data_dir_facts(missing, 50, statvfs=fake_statvfs(3, 64, seen))
    assert seen == [str(tmp_path)] and facts['checked_path'] == str(tmp_path) and facts['exists'] is False
    assert '(not created yet; its file system at %s)' % tmp_path in facts['msg'] and facts['low'] is True


def test_the_real_file_system_of_this_test(tmp_path):
    facts = data_dir_facts(str(tmp_path), 1)
    st = os.statvfs(str(tmp_path))
    assert facts['total_bytes'] == st.f_blocks * st.f_frsize and facts['free_bytes'] > 0


def test_an_unreadable_file_system_is_reported_not_raised(tmp_path):
    def broken(path):
        raise OSError(5, 'Input/output error')
    facts = data_dir_facts(str(tmp_path), 50, statvfs=broken)
    assert facts['free_bytes'] is None and facts['low'] is False
    assert facts['msg'] == 'cannot read the free space of %s: Input/output error' % tmp_path


MOUNTINFO = '''22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:40 / /opt/registry/data rw,relatime - tmpfs tmpfs rw,size=65536k
31 22 0:41 / /opt/registry2 rw,relatime - tmpfs tmpfs rw
32 22 0:42 / /opt/my\\040registry/data rw,relatime - tmpfs tmpfs rw
33 22 0:43 / /opt/registry rw,relatime - tmpfs tmpfs rw
'''


def test_mount_points_at_or_under_a_path():
    assert mounts_under('/opt/registry/', MOUNTINFO) == ['/opt/registry', '/opt/registry/data']
    assert mounts_under('/opt/my registry', MOUNTINFO) == ['/opt/my registry/data']
    assert mounts_under('/srv', MOUNTINFO) == []
