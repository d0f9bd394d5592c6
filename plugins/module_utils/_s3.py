# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A probe of an S3 bucket as the registry's s3 driver will use it: one ListObjectsV2 request
(max-keys=1) signed with AWS Signature Version 4, from the host. The result names the endpoint and
the bucket and the S3 error code, never a key."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import hmac
import re
import socket

from ansible.module_utils.six.moves import http_client
from ansible.module_utils.six.moves.urllib.parse import quote, urlsplit

EMPTY_SHA256 = hashlib.sha256(b'').hexdigest()

# What an S3 error code means for the person who set the variables.
HINTS = {
    'SignatureDoesNotMatch': 'the secret key does not match the access key',
    'InvalidAccessKeyId': 'the S3 service does not know the access key',
    'NoSuchBucket': 'the bucket does not exist (create it first)',
    'AccessDenied': 'the keys may not list the bucket',
    'AuthorizationHeaderMalformed': 'the region is wrong for this bucket',
    'PermanentRedirect': 'the bucket is in another region',
}


def _sign(key, text):
    return hmac.new(key, text.encode('utf-8'), hashlib.sha256).digest()


def signed_headers(method, host, path, query, region, access_key, secret_key, now):
    """Headers of a request signed with AWS Signature Version 4 (service s3, empty payload).
    ``query``: [(name, value)] (sorted here)."""
    amz_date = now.strftime('%Y%m%dT%H%M%SZ')
    day = now.strftime('%Y%m%d')
    canonical_query = '&'.join('%s=%s' % (quote(name, safe='-_.~'), quote(value, safe='-_.~'))
                               for name, value in sorted(query))
    headers = {'host': host, 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': amz_date}
    names = sorted(headers)
    canonical = '\n'.join([method, quote(path, safe='/-_.~'), canonical_query,
                           ''.join('%s:%s\n' % (name, headers[name]) for name in names),
                           ';'.join(names), EMPTY_SHA256])
    scope = '%s/%s/s3/aws4_request' % (day, region)
    to_sign = '\n'.join(['AWS4-HMAC-SHA256', amz_date, scope, hashlib.sha256(canonical.encode('utf-8')).hexdigest()])
    key = _sign(_sign(_sign(_sign(('AWS4' + secret_key).encode('utf-8'), day), region), 's3'), 'aws4_request')
    signature = hmac.new(key, to_sign.encode('utf-8'), hashlib.sha256).hexdigest()
    headers['Authorization'] = 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s' % (
        access_key, scope, ';'.join(names), signature)
    return headers


def bucket_url(endpoint, region, bucket, path_style):
    """(scheme, host[:port], path) of the bucket's listing."""
    if not endpoint:
        endpoint = 'https://s3.%s.amazonaws.com' % region
    parts = urlsplit(endpoint)
    if path_style:
        return parts.scheme, parts.netloc, '/%s' % bucket
    return parts.scheme, '%s.%s' % (bucket, parts.netloc), '/'


def probe_bucket(endpoint, region, bucket, access_key, secret_key, path_style, timeout=10, now=None):
    """{ok, skipped, status, code, msg}: whether the keys can list the bucket."""
    where = "S3 bucket '%s' at %s" % (bucket, endpoint or 'AWS S3 (%s)' % region)
    if not access_key:
        return {'ok': True, 'skipped': True, 'status': None, 'code': '',
                'msg': '%s: not probed (no keys: the host\'s own credentials are used)' % where}
    scheme, host, path = bucket_url(endpoint, region, bucket, path_style)
    query = [('list-type', '2'), ('max-keys', '1')]
    headers = signed_headers('GET', host, path, query, region, access_key, secret_key,
                             now or datetime.datetime.now(datetime.timezone.utc))
    connection_class = http_client.HTTPSConnection if scheme == 'https' else http_client.HTTPConnection
    connection = connection_class(host, timeout=timeout)
    try:
        connection.request('GET', '%s?list-type=2&max-keys=1' % path, headers=headers)
        response = connection.getresponse()
        status, body = response.status, response.read(4096)
    except (socket.error, http_client.HTTPException, ValueError) as exc:
        return {'ok': False, 'skipped': False, 'status': None, 'code': '',
                'msg': '%s is not reachable from the host: %s' % (where, exc)}
    finally:
        connection.close()
    if status == 200:
        return {'ok': True, 'skipped': False, 'status': 200, 'code': '', 'msg': '%s: listed' % where}
    match = re.search(br'<Code>([A-Za-z]+)</Code>', body or b'')
    code = match.group(1).decode('ascii') if match else ''
    hint = HINTS.get(code, 'the S3 service refused the request')
    return {'ok': False, 'skipped': False, 'status': status, 'code': code,
            'msg': '%s answered HTTP %d%s: %s' % (where, status, ' %s' % code if code else '', hint)}
