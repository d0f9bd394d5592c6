# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ArgumentSpec (module_utils/_argspec.py) and the shared specs of the option owners."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.dockyard.registry.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.dockyard.registry.plugins.module_utils._certificate import certificate_argument_spec
from ansible_collections.dockyard.registry.plugins.module_utils._health import client_argument_spec
from ansible_collections.dockyard.registry.plugins.module_utils._htpasswd import htpasswd_argument_spec


def test_update_and_merge_add_options_and_constraints():
    spec = ArgumentSpec(dict(a=dict(type='str')), required_together=[('a', 'b')], required_by={'a': ['b']})
    spec.update_argspec(b=dict(type='str')).update(required_if=[('a', 'x', ('b',))], required_by={'a': ['c']})
    spec.merge(ArgumentSpec(dict(c=dict(type='int')), mutually_exclusive=[('b', 'c')]))
    kwargs = spec.module_kwargs(supports_check_mode=True)
    assert sorted(kwargs['argument_spec']) == ['a', 'b', 'c']
    assert kwargs['required_together'] == [('a', 'b')]
    assert kwargs['required_if'] == [('a', 'x', ('b',))]
    assert kwargs['mutually_exclusive'] == [('b', 'c')]
    assert kwargs['required_by'] == {'a': ['b', 'c']}
    assert kwargs['supports_check_mode'] is True
    assert 'required_one_of' not in kwargs  # empty constraints are left out


def test_module_kwargs_refuses_constraints_as_keywords():
    with pytest.raises(ValueError, match='add required_if with update'):
        ArgumentSpec().module_kwargs(required_if=[])
    with pytest.raises(TypeError, match='unknown constraint'):
        ArgumentSpec(required_sometimes=[])


def test_as_suboption_keeps_constraints_inside_the_dict():
    spec = ArgumentSpec(dict(a=dict(type='str'), b=dict(type='str')), required_together=[('a', 'b')])
    option = spec.as_suboption(no_log=False)
    assert option == {'type': 'dict', 'options': spec.argument_spec, 'required_together': [('a', 'b')],
                      'no_log': False}
    validator = ArgumentSpecValidator({'outer': option})
    assert validator.validate({'outer': {'a': 'x', 'b': 'y'}}).error_messages == []
    assert 'parameters are required together: a, b' in str(validator.validate({'outer': {'a': 'x'}}).error_messages)


def test_each_call_returns_a_new_spec():
    first = htpasswd_argument_spec()
    first.argument_spec['users']['options']['name']['required'] = False
    first.update_argspec(cost=dict(type='int'))
    second = htpasswd_argument_spec()
    assert second.argument_spec['users']['options']['name']['required'] is True
    assert 'cost' not in second.argument_spec


@pytest.mark.parametrize('spec, params', [
    (certificate_argument_spec(required=True), {'path': '/c', 'privatekey_path': '/k', 'subject_alt_names': ['x']}),
    (client_argument_spec(request_timeout=5), {'url': 'https://localhost:5000'}),
    (htpasswd_argument_spec(), {'path': '/h'}),
])
def test_owner_specs_validate_as_ansible_does(spec, params):
    assert ArgumentSpecValidator(spec.argument_spec).validate(params).error_messages == []
    missing = ArgumentSpecValidator(spec.argument_spec).validate({}).error_messages
    assert 'missing required arguments' in str(missing)


def test_certificate_spec_requires_the_files_only_when_asked():
    assert not any(o.get('required') for o in certificate_argument_spec().argument_spec.values())
    required = sorted(n for n, o in certificate_argument_spec(required=True).argument_spec.items() if o.get('required'))
    assert required == ['path', 'privatekey_path', 'subject_alt_names']


def test_client_spec_request_timeout_default_is_the_callers():
    assert client_argument_spec(request_timeout=10).argument_spec['request_timeout']['default'] == 10
    assert client_argument_spec(request_timeout=5).argument_spec['request_timeout']['default'] == 5
    assert client_argument_spec(request_timeout=5).argument_spec['password']['no_log'] is True
