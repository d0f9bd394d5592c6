# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters the registry_client role uses to plan what it writes on a Docker client.

Thin: the functions live in plugins/plugin_utils/_client.py. The role's plan, look and drift
filters are in plugins/filter/client_plan.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Each filter is documented in plugins/filter/<name>.yml (ansible-doc -t filter dockyard.registry.<name>).

from ansible_collections.dockyard.registry.plugins.plugin_utils._client import (
    ca_certificate_pem,
    ca_certificate_problems,
    client_login_problems,
    client_trust_plan,
    docker_login_plan,
)


class FilterModule(object):
    def filters(self):
        return {
            'ca_certificate_problems': ca_certificate_problems,
            'ca_certificate_pem': ca_certificate_pem,
            'client_trust_plan': client_trust_plan,
            'client_login_problems': client_login_problems,
            'docker_login_plan': docker_login_plan,
        }
