# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry inventory's pure parts (the HTTP part runs against the real registry in
tests/integration/test_role_gc.py and test_role_backup.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dockyard.registry.plugins.module_utils._inventory import compare, referenced

A, B, C = ('sha256:' + ch * 64 for ch in 'abc')


def test_referenced_image_and_index():
    image = {'config': {'digest': A}, 'layers': [{'digest': B}, {'digest': C}]}
    assert referenced(image) == ([], [A, B, C])
    index = {'manifests': [{'digest': A}, {'digest': B}, {'no': 'digest'}]}
    assert referenced(index) == ([A, B], [])
    assert referenced(None) == ([], [])


def test_compare_reports_gone_and_changed_tags_only():
    expected = [{'repository': 'r', 'tag': '1', 'digest': A}, {'repository': 'r', 'tag': '2', 'digest': B},
                {'repository': 's', 'tag': '1', 'digest': C}]
    found = [{'repository': 'r', 'tag': '1', 'digest': A}, {'repository': 'r', 'tag': '2', 'digest': C},
             {'repository': 'new', 'tag': 'x', 'digest': A}]
    assert compare(expected, found) == ['r:2 answers %s instead of %s' % (C, B), 's:1 (%s) is gone' % C]
    # Negative control: the same listing compares clean.
    assert compare(expected, expected) == []
