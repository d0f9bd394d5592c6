# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Serve ACME HTTP-01 challenge responses for the registry role, only while a certificate is obtained.

Usage: python3 acme_http01.py PORT DIRECTORY SECONDS

Answers GET /.well-known/acme-challenge/TOKEN with the content of DIRECTORY/challenges/TOKEN (404
for anything else), on every address of the host (IPv6 and IPv4 when the host has both). Writes
DIRECTORY/status: "ready PID" once listening, or "error: ..." when the port cannot be had. Stops by
itself when DIRECTORY is removed (the role does that in an `always:` block) or after SECONDS.
"""

from __future__ import absolute_import, division, print_function

import os
import re
import socket
import sys
import time

try:
    from http.server import BaseHTTPRequestHandler, HTTPServer
except ImportError:  # pragma: no cover - Python 2 has no http.server
    sys.exit('acme_http01.py needs Python 3')

PREFIX = '/.well-known/acme-challenge/'
TOKEN_RE = re.compile(r'^[A-Za-z0-9_-]+$')


def write_status(directory, text):
    path = os.path.join(directory, 'status')
    with open(path + '.tmp', 'w') as handle:
        handle.write(text + '\n')
    os.rename(path + '.tmp', path)


def make_handler(directory):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split('?', 1)[0]
            token = path[len(PREFIX):] if path.startswith(PREFIX) else ''
            body = None
            if TOKEN_RE.match(token):
                try:
                    with open(os.path.join(directory, 'challenges', token), 'rb') as handle:
                        body = handle.read()
                except (IOError, OSError):
                    body = None
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header('Content-Type', 'application/octet-stream')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            pass

    return Handler


class DualStackServer(HTTPServer):
    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        HTTPServer.server_bind(self)


def listen(port, handler):
    """A server on every address: IPv6 with IPv4 mapped when possible, else IPv4 only."""
    if socket.has_ipv6:
        try:
            return DualStackServer(('::', port), handler)
        except (OSError, socket.error) as exc:
            if getattr(exc, 'errno', None) == 98:  # EADDRINUSE: IPv4 alone would not help
                raise
    return HTTPServer(('0.0.0.0', port), handler)


def main(argv):
    port, directory, seconds = int(argv[1]), argv[2], int(argv[3])
    try:
        server = listen(port, make_handler(directory))
    except (OSError, socket.error) as exc:
        write_status(directory, 'error: port %d: %s' % (port, exc))
        return 1
    write_status(directory, 'ready %d' % os.getpid())
    server.timeout = 0.5
    deadline = time.time() + seconds
    try:
        while time.time() < deadline and os.path.isdir(directory):
            server.handle_request()
    finally:
        server.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
