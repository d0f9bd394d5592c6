# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of dockyard.registry.registry_compare: runs on the controller only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_drift import compare_result


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('differences', 'forced'))

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        try:
            outcome = compare_result(self._task.args.get('differences'), self._task.args.get('forced'))
        except ValueError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        result.update(outcome)
        return result
