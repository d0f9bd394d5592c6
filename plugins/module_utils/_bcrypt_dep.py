# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one place the optional ``bcrypt`` import happens. Private: not a public API of the collection.

Modules check ``HAS_BCRYPT`` when they run and fail with
``missing_required_lib('bcrypt')`` and ``exception=BCRYPT_IMPORT_ERROR``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback

try:
    import bcrypt  # noqa: F401, pylint: disable=unused-import
except ImportError:
    bcrypt = None
    HAS_BCRYPT = False
    BCRYPT_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_BCRYPT = True
    BCRYPT_IMPORT_ERROR = None
