# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugin_utils/_doc_fragments.py: one YAML text of options, documented at the top level of the
module that owns them and under one option of registry_info."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
import yaml

from ansible_collections.dockyard.registry.plugins.plugin_utils._doc_fragments import options_fragment, options_fragments, options_subset

TEMPLATE = r'''
url:
  description:
    - Base URL.
    #module - Retried until O(timeout).
    #info - One attempt,
    #info   no retry.
    - See O({p}ca_path).
  type: str
  #info required: true
ca_path:
  description: CA bundle.
  type: path
'''


def test_top_level_variant():
    doc = yaml.safe_load(options_fragment(TEMPLATE, 'module'))
    assert doc == {'options': {
        'url': {'description': ['Base URL.', 'Retried until O(timeout).', 'See O(ca_path).'], 'type': 'str'},
        'ca_path': {'description': 'CA bundle.', 'type': 'path'}}}


def test_nested_variant():
    doc = yaml.safe_load(options_fragment(TEMPLATE, 'info', option='health'))
    assert doc == {'options': {'health': {'suboptions': {
        'url': {'description': ['Base URL.', 'One attempt, no retry.', 'See O(health.ca_path).'], 'type': 'str',
                'required': True},
        'ca_path': {'description': 'CA bundle.', 'type': 'path'}}}}}


def test_both_variants_at_once():
    assert options_fragments(TEMPLATE, 'health') == (options_fragment(TEMPLATE, 'module'),
                                                     options_fragment(TEMPLATE, 'info', option='health'))
    # The template itself is YAML (the markers are comments), as ansible-test's yamllint reads it.
    assert sorted(yaml.safe_load(TEMPLATE)) == ['ca_path', 'url']


def test_unknown_places_are_errors_not_silently_dropped():
    with pytest.raises(ValueError, match="unknown place 'modul'"):
        options_fragment('a:\n  #modul type: str\n', 'module')
    with pytest.raises(ValueError, match="unknown place 'infos'"):
        options_fragment(TEMPLATE, 'infos')


def test_subset_keeps_only_the_named_options_of_the_module_variant():
    doc = yaml.safe_load(options_subset(TEMPLATE, ('url',)))
    assert doc == {'options': {'url': {'description': ['Base URL.', 'Retried until O(timeout).', 'See O(ca_path).'],
                                       'type': 'str'}}}


def test_subset_of_an_option_the_template_lacks_is_an_error():
    with pytest.raises(ValueError, match="options server_name are not in the template; it has: ca_path, url"):
        options_subset(TEMPLATE, ('url', 'server_name'))
