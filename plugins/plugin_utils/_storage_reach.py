# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whether the registry's container reaches its storage service. Private: not a public API.

The look at the host probes an S3 bucket from the host; a container can be on networks the host
is not limited by (a gateway on another Docker network is reachable from the host, isolated from
a container that does not join it). Before the containers are (re)created, the role runs the
registry's own image once on each network the registry container will join, asks the storage
endpoint for any HTTP answer (busybox wget, in the real images and the stand-in alike), and judges
the outputs here: one HTTP status line from any network is enough; otherwise the problem names
the endpoint, the bucket, each network and what wget said, never a key (the probe sends none).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# Seconds the host gives each probe (packets dropped between Docker networks never time out sooner).
PROBE_SECONDS = 10
# busybox wget -S prints the status line of any answer ("  HTTP/1.1 403 Forbidden"), also for errors.
_STATUS_RE = re.compile(r'HTTP/[0-9.]+ [0-9]{3}')


def probe_argv(reach, network):
    """The host's command for one probe from ``network`` (``reach`` from the plan's storage.reach).
    The host bounds it; the container is removed however it ends."""
    name = 'dockyard-reach-%s' % reach['name']
    script = ('timeout %d docker run --rm --name "$1" --network "$2" --entrypoint /bin/busybox "$3" wget -S -O /dev/null "$4";'
              ' rc=$?; docker rm -f "$1" >/dev/null 2>&1; [ $rc -eq 124 ] && echo "no answer within %d s"; exit $rc'
              % (PROBE_SECONDS, PROBE_SECONDS))
    return ['sh', '-c', script, 'probe', name, network, reach['image'], reach['url']]


def _said(output):
    lines = [line.strip() for line in str(output or '').splitlines() if line.strip()]
    return lines[-1] if lines else 'no output'


def reach_problem(reach, results):
    """'' when a probe from any network got an HTTP answer, else one message for the user.
    ``results``: the registered loop results ({'item': {'network': ...}, 'stdout', 'stderr', 'rc'})."""
    said = []
    for result in results:
        output = '%s\n%s' % (result.get('stdout') or '', result.get('stderr') or '')
        if _STATUS_RE.search(output):
            return ''
        # wget writes to stderr; the script's own word (the host's timeout) is on stdout.
        said.append('%s: %s' % ((result.get('item') or {}).get('network'),
                                _said(result.get('stdout') if str(result.get('stdout') or '').strip() else result.get('stderr'))))
    return ("registry_storage_s3: the registry's container cannot reach %s (%s) from the Docker network%s it joins"
            " (%s). The look at the host reached it; the container does not: add the Docker network the endpoint is"
            " on to registry_networks, or set registry_storage_s3.endpoint to an address containers reach."
            % (reach['where'], reach['url'], 's' if len(said) > 1 else '', '; '.join(said)))
