# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""main() of registry_retention through Ansible's module argument handling: bad input fails with one
clear error before any request. Only the AnsibleModule exit glue is faked; the requests that are sent
go to a loopback HTTP listener that counts them and answers 401 (the real registry is exercised in
tests/integration/test_registry_retention.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import threading

from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockyard.registry.tests.unit.plugins.modules.glue import Finished, fake_exit_glue
from ansible_collections.dockyard.registry.plugins.modules import registry_retention as module_under_test

SECRET = 'Unit-retention-pw-93'
GOOD_RULES = [{'repository': 'ci/*', 'keep_last': 3, 'keep_tags': ['latest'], 'older_than': '30d'}]


class _Refusing(BaseHTTPRequestHandler):
    def _answer(self):
        self.server.requests.append((self.command, self.path))
        body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
        self.send_response(401)
        self.send_header('WWW-Authenticate', 'Basic realm="unit"')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = do_DELETE = _answer

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def listener():
    server = HTTPServer(('127.0.0.1', 0), _Refusing)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def glue(monkeypatch):
    return fake_exit_glue(monkeypatch)


def run_main(args, check_mode=False):
    with patch_module_args(dict(args, _ansible_check_mode=check_mode)):
        with pytest.raises(Finished) as exc:
            module_under_test.main()
    return exc.value.args[0]


def args(listener, **kwargs):
    base = {'url': 'http://127.0.0.1:%d' % listener.server_address[1], 'username': 'cleaner', 'password': SECRET,
            'rules': GOOD_RULES}
    base.update(kwargs)
    return base


@pytest.mark.parametrize('rules, expected', [
    ([{'repository': 'ci/*', 'keep_last': -1}], 'rules[0].keep_last must be a whole number 0 or more, got -1'),
    ([{'repository': 'ci/*', 'keep_last': True}], 'rules[0].keep_last must be a whole number 0 or more, got True'),
    ([{'repository': 'ci/*', 'older_than': '30 days'}], "rules[0].older_than '30 days' is not an age: expected "
                                                        "a whole number and one unit of s, m, h, d, w"),
    ([{'repository': 'ci/*', 'older_than': '3y'}], "rules[0].older_than '3y' is not an age"),
    (GOOD_RULES + [{'repository': ['ci/*'], 'keep_last': 1}],
     "rules[1].repository must be a non-empty string (a glob such as v* or ci/*), got ['ci/*'] of type list"),
    ([{'repository': 'ci/*', 'keep_last': 1, 'keep_tags': ['latest', {'v*': None}]}],
     "rules[0].keep_tags[1] must be a non-empty string (a glob such as v* or ci/*), got {'v*': None} of type dict"),
    ([{'repository': 'ci/*', 'keep_last': 1, 'keep_tags': 'latest'}],
     "rules[0].keep_tags must be a list of tag globs, got 'latest' of type str"),
    ([{'repository': 'ci/*'}], "rules[0] (repository 'ci/*') needs keep_last, older_than or both"),
    ([], 'rules must be a non-empty list'),
])
@pytest.mark.parametrize('check_mode', [False, True])
def test_bad_rules_fail_before_any_request(listener, rules, expected, check_mode):
    result = run_main(args(listener, rules=rules), check_mode=check_mode)
    assert result['failed'] is True
    assert result['msg'] == expected or result['msg'].startswith(expected), result['msg']
    assert result['changed'] is False and result['deleted'] == []
    assert listener.requests == []
    assert SECRET not in json.dumps(result)


@pytest.mark.parametrize('extra, expected', [
    ({'rules': [{'repository': 'a', 'keep_last': 'three'}]}, "argument 'keep_last' is of type"),
    ({'rules': [{'repository': 'a', 'keep_last': 1, 'keep': 2}]}, 'keep'),
    ({'rules': [{'keep_last': 1}]}, 'missing required arguments: repository'),
    ({'password': 'DROP'}, 'parameters are required together: username, password'),
    ({'page_size': 0}, 'page_size must be 1 or more, got 0'),
    ({'request_timeout': 0}, 'request_timeout must be more than 0 seconds, got 0'),
    ({'server_name': 'registry.example.com'}, "server_name 'registry.example.com' is only used with an https:// url"),
    ({'ca_path': '/nonexistent/ca.crt'}, "ca_path '/nonexistent/ca.crt' is not a file"),
])
def test_other_bad_options_fail_before_any_request(listener, extra, expected):
    given = args(listener, **extra)
    if given['password'] == 'DROP':
        del given['password']
    result = run_main(given)
    assert result['failed'] is True
    assert expected in result['msg'], result['msg']
    assert listener.requests == []


def test_url_with_credentials_is_refused_without_echo(listener):
    url = 'http://cleaner:%s@127.0.0.1:%d' % (SECRET, listener.server_address[1])
    result = run_main(args(listener, url=url))
    assert result['failed'] is True
    assert 'url must not contain credentials' in result['msg']
    assert SECRET not in json.dumps(result)
    assert listener.requests == []


def test_control_good_rules_do_reach_the_registry(listener):
    """Negative control of the tests above: with good rules the module does send a request, and the
    401 is reported naming the user, never the password."""
    result = run_main(args(listener))
    assert result['failed'] is True
    assert listener.requests == [('GET', '/v2/_catalog?n=100')]
    assert result['msg'] == ("credentials of user 'cleaner' rejected: GET /v2/_catalog answered "
                             "HTTP 401 (UNAUTHORIZED: authentication required)")
    assert result['changed'] is False and result['deleted'] == []
    assert SECRET not in json.dumps(result)


def test_without_credentials_the_message_says_so(listener):
    result = run_main(args(listener, username=None, password=None, page_size=7))
    assert listener.requests == [('GET', '/v2/_catalog?n=7')]
    assert result['msg'].startswith('the registry needs credentials (username and password): GET /v2/_catalog')
