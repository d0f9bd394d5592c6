# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one place where the optional ``cryptography`` import is tried. Private."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.compat.version import LooseVersion

MINIMAL_CRYPTOGRAPHY_VERSION = '3.4'

try:
    import cryptography
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_VERSION = None
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_VERSION = cryptography.__version__
    CRYPTOGRAPHY_IMPORT_ERROR = None


def assert_cryptography(module):
    """Fail the module run (once, with the import traceback) when cryptography is unusable."""
    requirement = 'cryptography >= %s' % MINIMAL_CRYPTOGRAPHY_VERSION
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib(requirement), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    if LooseVersion(CRYPTOGRAPHY_VERSION) < LooseVersion(MINIMAL_CRYPTOGRAPHY_VERSION):
        module.fail_json(msg=missing_required_lib(requirement) + ' (found cryptography %s)' % CRYPTOGRAPHY_VERSION)
