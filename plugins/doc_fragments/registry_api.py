# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.dockyard.registry.plugins.doc_fragments._health import ModuleDocFragment as _Health
from ansible_collections.dockyard.registry.plugins.plugin_utils._doc_fragments import options_subset


class ModuleDocFragment(object):

    # Where the registry's HTTP API is and how its certificate is verified (module_utils._health's client):
    # the same words as registry_health's options, taken from their one template.
    # A tuple assignment: ansible-test's yamllint reads only string literals assigned to a single name.
    (DOCUMENTATION,) = (options_subset(_Health.TEMPLATE, ('url', 'ca_path', 'server_name')),)
