# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Build doc fragments that document one group of options in two places. Private: not a public API.

A group of options is written once, as the YAML of its ``options``, and documented both where it
is owned (the top level of a module: ``dockyard.registry.certificate``) and where registry_info
nests it under one of its options (``certificate.*``). In the YAML:

- ``{p}`` stands for the path of the group: empty at the top level, ``certificate.`` when nested,
  so that ``O({p}key_type=rsa)`` points at the right option in each place;
- a line that starts (after its indentation) with ``#<place> `` belongs to that place only, for
  example ``#module - Required unless O(mode=sign).`` or ``#info required: true``; the marker is
  removed there and the line dropped elsewhere.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import textwrap

PLACES = ('module', 'info')

_MARKER = re.compile(r'^(\s*)#([a-z_]+) (.*)$')


def _lines_for(template, place):
    for line in textwrap.dedent(template).strip('\n').splitlines():
        match = _MARKER.match(line)
        if match is not None:
            if match.group(2) not in PLACES:
                raise ValueError('unknown place %r in %r; known: %s' % (match.group(2), line, ', '.join(PLACES)))
            if match.group(2) != place:
                continue
            line = match.group(1) + match.group(3)
        yield line


def options_fragment(template, place, option=None):
    """The text of a doc fragment: the options of ``template`` at the top level (``option=None``)
    or as the suboptions of ``option`` (the caller documents that option's description and type)."""
    if place not in PLACES:
        raise ValueError('unknown place %r; known: %s' % (place, ', '.join(PLACES)))
    prefix = '' if option is None else option + '.'
    body = '\n'.join(_lines_for(template, place)).replace('{p}', prefix)
    if option is None:
        return 'options:\n' + textwrap.indent(body, '  ') + '\n'
    return 'options:\n  %s:\n    suboptions:\n%s\n' % (option, textwrap.indent(body, '      '))


def options_subset(template, names, place='module'):
    """The text of a doc fragment with only the top-level options ``names`` of ``template`` (in the
    template's order), for modules that share part of a group: every name must be in the template."""
    wanted = set(names)
    kept, keep, seen = [], False, set()
    for line in _lines_for(template, place):
        if line and not line[0].isspace():
            name = line.split(':', 1)[0]
            keep = name in wanted
            seen.add(name)
        if keep:
            kept.append(line)
    missing = wanted - seen
    if missing:
        raise ValueError('options %s are not in the template; it has: %s' % (', '.join(sorted(missing)), ', '.join(sorted(seen))))
    return 'options:\n' + textwrap.indent('\n'.join(kept).replace('{p}', ''), '  ') + '\n'


def options_fragments(template, option):
    """``(DOCUMENTATION, INFO)``: the module that owns the options, and registry_info's ``option``.

    Assigned in the fragment class as ``DOCUMENTATION, INFO = options_fragments(TEMPLATE, ...)``:
    ansible-test's yamllint reads a doc fragment's attributes from the source and can only lint
    string literals, so it lints the literal TEMPLATE (its markers are YAML comments) and leaves
    the computed pair to ansible-doc and validate-modules, which load the fragment as Ansible does.
    """
    return options_fragment(template, 'module'), options_fragment(template, 'info', option=option)
