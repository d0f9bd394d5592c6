# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""File helpers shared by the modules. Private: not a public API of the collection."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import tempfile


def read_file(path, mode='rb'):
    """Return the content of ``path``, or ``None`` when it does not exist."""
    try:
        with open(path, mode) as f:
            return f.read()
    except (IOError, OSError) as exc:
        if getattr(exc, 'errno', None) == 2:
            return None
        raise


def write_file_atomic(module, path, content, mode=0o600):
    """Write ``content`` (bytes) to ``path`` atomically.

    The data goes to a temporary file in the target directory, created with ``mode``
    (0600 by default, so secrets are never readable by others, not even for a moment),
    and is then renamed over ``path``. The file therefore always gets a new inode: a
    container that bind-mounts the directory sees the new file at once.

    The caller applies owner/group/mode afterwards with
    ``module.set_fs_attributes_if_different``.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
    module.add_cleanup_file(tmp)
    try:
        os.fchmod(fd, mode)
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    # atomic_move() chmods a NEW file to 0666 & ~umask after the rename; a umask of 077
    # keeps it 0600 until the caller applies the requested mode.
    old_umask = os.umask(0o077)
    try:
        module.atomic_move(tmp, os.path.abspath(path))
    finally:
        os.umask(old_umask)
