# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each shared doc fragment documents exactly the options its owner's argument spec declares, in
both places: at the top level of the owning module and under registry_info's option."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

import pytest
import yaml

from ansible_collections.dockyard.registry.plugins.doc_fragments import _certificate, _health, _htpasswd
from ansible_collections.dockyard.registry.plugins.module_utils._certificate import certificate_argument_spec
from ansible_collections.dockyard.registry.plugins.module_utils._health import client_argument_spec
from ansible_collections.dockyard.registry.plugins.module_utils._htpasswd import htpasswd_argument_spec

CASES = [
    # fragment, registry_info option, owner's spec at the top level, registry_info's spec
    pytest.param(_certificate, 'certificate', certificate_argument_spec(), certificate_argument_spec(required=True),
                 id='certificate'),
    pytest.param(_health, 'health', client_argument_spec(10), client_argument_spec(5), id='health'),
    pytest.param(_htpasswd, 'htpasswd', htpasswd_argument_spec(), htpasswd_argument_spec(info=True), id='htpasswd'),
]
KEYS = ('type', 'default', 'choices', 'required', 'elements')


def interface(options, spec=False):
    """{name: (type, default, choices, required, elements, suboptions)} of docs or of an argument spec."""
    result = {}
    for name, option in options.items():
        values = [option.get(key) for key in KEYS]
        values[3] = bool(values[3])
        sub = option.get('options' if spec else 'suboptions')
        result[name] = tuple(values) + (interface(sub, spec) if sub else None,)
    return result


@pytest.mark.parametrize('fragment, option, top_spec, info_spec', CASES)
def test_fragments_document_the_owners_spec(fragment, option, top_spec, info_spec):
    top = yaml.safe_load(fragment.ModuleDocFragment.DOCUMENTATION)['options']
    nested = yaml.safe_load(fragment.ModuleDocFragment.INFO)['options'][option]['suboptions']
    assert interface(top) == interface(top_spec.argument_spec, spec=True)
    assert interface(nested) == interface(info_spec.argument_spec, spec=True)
    # The template is YAML too (its markers are comments): ansible-test's yamllint lints it.
    assert sorted(yaml.safe_load(fragment.ModuleDocFragment.TEMPLATE)) == sorted(top)


@pytest.mark.parametrize('fragment, option, top_spec, info_spec', CASES)
def test_nested_references_point_into_the_option(fragment, option, top_spec, info_spec):
    """O(name) of a shared option is O(option.name) under registry_info (ansible-doc and
    validate-modules resolve references from the top)."""
    shared = set(top_spec.argument_spec)
    nested_refs = re.findall(r'O\(([a-z_.\[\]]+)', fragment.ModuleDocFragment.INFO)
    assert [ref for ref in nested_refs if ref.split('.')[0].split('[')[0] in shared] == []
    assert [ref for ref in nested_refs if ref.startswith(option + '.')]
