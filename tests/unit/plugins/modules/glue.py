# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one thing module unit tests fake: AnsibleModule's exit glue (exit_json, fail_json, warn)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils import basic


class Finished(Exception):
    """exit_json or fail_json was called; args[0] is the result (with ``failed``)."""


def fake_exit_glue(monkeypatch):
    """Make exit_json/fail_json raise Finished and collect warnings; returns the warnings list."""
    warnings = []

    def finish(failed):
        def _finish(self, **kwargs):
            kwargs['failed'] = failed
            raise Finished(kwargs)
        return _finish

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', finish(False))
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', finish(True))
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, msg: warnings.append(msg))
    return warnings
