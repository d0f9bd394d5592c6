# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""registry_info's look at listening TCP ports (/proc/net/tcp and tcp6), on tables written in the
kernel's format and on a real socket of this test."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

from ansible_collections.dockyard.registry.plugins.module_utils._info import listening_ports

HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'


def _table(tmp_path, name, rows):
    path = tmp_path / name
    path.write_text(HEADER + ''.join('   0: %s 00000000:0000 %s 00000000:00000000 00:00000000 00000000 0 0 1 1\n'
                                     % row for row in rows))
    return str(path)


def test_listening_sockets_from_the_kernel_tables(tmp_path):
    tcp = _table(tmp_path, 'tcp', [('00000000:1388', '0A'),      # 0.0.0.0:5000 LISTEN
                                   ('0100007F:20FB', '0A'),      # 127.0.0.1:8443 LISTEN
                                   ('0100007F:1F90', '01')])     # 127.0.0.1:8080 ESTABLISHED: not listening
    tcp6 = _table(tmp_path, 'tcp6', [('00000000000000000000000000000000:1388', '0A'),        # [::]:5000
                                     ('0000000000000000FFFF00000100007F:0050', '0A')])     # ::ffff:127.0.0.1:80
    found = listening_ports([5000, 8443, 8080, 80, 9999], tables=((tcp, False), (tcp6, True)))
    assert found == {5000: ['0.0.0.0', '::'], 8443: ['127.0.0.1'], 8080: [], 80: ['127.0.0.1'], 9999: []}


def test_a_real_listening_socket_is_seen_and_a_closed_one_is_not():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    try:
        assert listening_ports([port])[port] == []  # bound, not listening yet: free for this look
        sock.listen()
        assert listening_ports([port])[port] == ['127.0.0.1']
    finally:
        sock.close()
    assert listening_ports([port])[port] == []
