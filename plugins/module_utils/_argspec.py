# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Argument specs that several modules share. Private: not a public API.

The code that owns a group of options (``_certificate``, ``_health``, ``_htpasswd``) returns them
as an :class:`ArgumentSpec`; a module adds its own options and constraints and creates its
``AnsibleModule`` with :meth:`ArgumentSpec.module_kwargs`, and ``registry_info`` nests the same spec under one of its options
with :meth:`ArgumentSpec.as_suboption`. Their documentation is shared the same way, through the
doc fragments of the same names (plugins/doc_fragments).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

CONSTRAINTS = ('mutually_exclusive', 'required_together', 'required_one_of', 'required_if', 'required_by')


class ArgumentSpec(object):
    """An ``argument_spec`` with the constraints that go with it."""

    def __init__(self, argument_spec=None, **constraints):
        unknown = sorted(set(constraints) - set(CONSTRAINTS))
        if unknown:
            raise TypeError('unknown constraint(s): %s' % ', '.join(unknown))
        self.argument_spec = dict(argument_spec or {})
        self.constraints = dict((name, list(constraints.get(name) or [])) for name in CONSTRAINTS
                                if name != 'required_by')
        self.constraints['required_by'] = dict(constraints.get('required_by') or {})

    def update_argspec(self, **options):
        """Add (or replace) options. Returns self."""
        self.argument_spec.update(options)
        return self

    def update(self, **constraints):
        """Add constraints (``required_if=[...]`` ...). Returns self."""
        other = ArgumentSpec(**constraints)
        for name in CONSTRAINTS:
            if name == 'required_by':
                for option, needs in other.constraints[name].items():
                    self.constraints[name][option] = list(self.constraints[name].get(option, ())) + list(needs)
            else:
                self.constraints[name].extend(other.constraints[name])
        return self

    def merge(self, other):
        """Add the options and constraints of another ArgumentSpec. Returns self."""
        self.update_argspec(**other.argument_spec)
        return self.update(**other.constraints)

    def _used_constraints(self):
        return dict((name, value) for name, value in self.constraints.items() if value)

    def as_suboption(self, **option):
        """This spec as the ``options`` of one option of type dict (for example
        ``as_suboption(no_log=False)``), its constraints applied inside that dict."""
        result = dict(type='dict', options=self.argument_spec)
        result.update(self._used_constraints())
        result.update(option)
        return result

    def module_kwargs(self, **kwargs):
        """The keyword arguments of ``AnsibleModule(**spec.module_kwargs(supports_check_mode=True))``."""
        clashing = sorted(set(kwargs) & (set(CONSTRAINTS) | {'argument_spec'}))
        if clashing:
            raise ValueError('add %s with update(), not as keywords' % ', '.join(clashing))
        return dict(self._used_constraints(), argument_spec=self.argument_spec, **kwargs)
