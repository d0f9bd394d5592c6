#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: registry_health
short_description: Check a container registry the way a client sees it
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - Runs read-only checks against a CNCF distribution registry, over the network, as a Docker client would.
  - C(tls) does a real TLS handshake verified against O(ca_path) or the system trust, with the host name checked,
    and reads the certificate's expiry date.
  - C(liveness) expects C(GET /) to answer 200.
  - C(anonymous) sends C(GET /v2/) without credentials. With O(auth_expected=true) it must answer 401 with a
    C(WWW-Authenticate) header holding a C(Basic realm=...) challenge; a registry that answers 200 B(fails) the check.
  - C(authenticated) sends C(GET /v2/) with O(username) and O(password) and expects 200 and
    the header C(Docker-Distribution-Api-Version) set to C(registry/2.0).
  - C(catalog) lists C(/v2/_catalog) (following C(Link) pages) and counts the repositories.
  - C(round_trip) (optional) pushes a tiny image (a random one-file layer, a config blob and a schema2 manifest
    under a unique tag) to O(round_trip_repository) through the HTTP API, pulls the manifest and the layer back,
    compares digests and deletes the manifest and blobs again.
  - Retries every second until all enabled checks pass or O(timeout) seconds have passed, so a role can call it
    right after starting the registry. Once a round trip has pushed and pulled back its image, it is not repeated;
    when only its delete failed, the module fails at once.
  - Never reports a change. All HTTP goes through Ansible's own C(module_utils.urls); no extra library is needed.
extends_documentation_fragment:
  - dockyard.registry._health
  - dockyard.registry.attributes
  - dockyard.registry.attributes.info_module
attributes:
  check_mode:
    details:
      - The checks run in check mode too. The O(round_trip) writes to (and, when deletes work, cleans up)
        O(round_trip_repository) in check mode as well, because that is what it checks.
options:
  validate_certs:
    description:
      - Verify the certificate and its host name.
      - With V(false) the C(tls) check still does a handshake and reports the expiry date (when the
        C(cryptography) library is available), and says the certificate was not verified.
    type: bool
    default: true
  timeout:
    description:
      - Overall seconds to keep retrying until all enabled checks pass. V(0) makes one attempt.
    type: int
    default: 60
  min_days_left:
    description:
      - Fail the C(tls) check when the certificate expires in fewer days than this. V(0) disables the check.
    type: int
    default: 0
  catalog:
    description:
      - Run the C(catalog) check. It is skipped when O(auth_expected=true) and no O(username) is given.
    type: bool
    default: true
  round_trip:
    description:
      - Run the C(round_trip) check (push, pull back, compare, delete). Needs O(username) when O(auth_expected=true).
      - It runs only once every other enabled check passed in the same attempt.
    type: bool
    default: false
  round_trip_repository:
    description:
      - Scratch repository the round trip pushes to. Each run uses a new tag C(health-<UTC time>-<random>).
      - When the registry has deletes disabled, those tags and their small blobs stay in this repository.
    type: str
    default: dockyard/health-check
  delete_expected:
    description:
      - With V(true), the round trip must be able to delete its manifest (202), and a registry with deletes
        disabled (405 C(UNSUPPORTED)) fails the check.
      - With V(false), a 405 on delete is fine and reported as "delete disabled on the registry".
    type: bool
    default: false
notes:
  - Only Basic (htpasswd) authentication is supported; a registry using token (Bearer) authentication fails the
    C(anonymous) check when O(auth_expected=true).
  - A check that is disabled or does not apply (C(tls) for an V(http) URL, C(authenticated) without
    O(username)) has RV(checks.tls.skipped=true) and RV(checks.tls.ok=true). A check that could not run because
    an earlier one failed has C(ok=false) and a C(msg) starting with C(not run:).
seealso:
  - name: Registry HTTP API V2
    description: The API the checks use.
    link: https://distribution.github.io/distribution/spec/api/
'''

EXAMPLES = r'''
- name: Wait until the freshly deployed registry is healthy, with a push/pull round trip
  dockyard.registry.registry_health:
    url: https://registry.example.com:5000
    ca_path: /etc/docker/certs.d/registry.example.com:5000/ca.crt
    username: health
    password: "{{ registry_health_password }}"
    round_trip: true
    delete_expected: true
    min_days_left: 14
    timeout: 120
  register: registry_health

- name: Show the certificate expiry and repository count
  ansible.builtin.debug:
    msg: "{{ registry_health.days_left }} days left, {{ registry_health.repositories }} repositories"

- name: Only check that anonymous access is refused, over an IP address
  dockyard.registry.registry_health:
    url: https://10.0.0.5:5000
    server_name: registry.example.com
    ca_path: /etc/docker/certs.d/registry.example.com:5000/ca.crt
    timeout: 0
'''

RETURN = r'''
checks:
  description:
    - Result of each check, keyed by C(tls), C(liveness), C(anonymous), C(authenticated), C(catalog), C(round_trip).
    - Returned on failure too.
  returned: always
  type: dict
  contains:
    tls:
      description: The TLS handshake and certificate expiry. Each other check has the same keys.
      type: dict
      returned: always
      contains:
        ok:
          description: Whether the check passed (V(true) for a skipped check).
          type: bool
          returned: always
        skipped:
          description: Whether the check was disabled or did not apply.
          type: bool
          returned: always
        status:
          description: HTTP status of the (last) request of the check, or V(null).
          type: int
          returned: always
        latency_ms:
          description: Milliseconds the check took, or V(null) when it did not run.
          type: int
          returned: always
        msg:
          description: What was seen. Never contains the password or the Authorization header.
          type: str
          returned: always
  sample:
    tls: {ok: true, skipped: false, status: null, latency_ms: 4,
          msg: "TLSv1.3, handshake done, certificate verified, expires 2027-01-01T00:00:00+00:00 (400 days left)"}
    liveness: {ok: true, skipped: false, status: 200, latency_ms: 3, msg: "GET / answered 200"}
    anonymous: {ok: true, skipped: false, status: 401, latency_ms: 2,
                msg: "anonymous request refused with 401 and a Basic challenge (realm 'Registry')"}
    authenticated: {ok: true, skipped: false, status: 200, latency_ms: 60,
                    msg: "GET /v2/ as user 'health' answered 200, Docker-Distribution-Api-Version: registry/2.0"}
    catalog: {ok: true, skipped: false, status: 200, latency_ms: 61, msg: "3 repositories listed"}
    round_trip: {ok: true, skipped: true, status: null, latency_ms: null, msg: "round_trip=false"}
api_version:
  description: Value of the C(Docker-Distribution-Api-Version) header, or V(null).
  returned: always
  type: str
  sample: registry/2.0
repositories:
  description: Number of repositories in the catalog, or V(null) when the catalog was not read.
  returned: always
  type: int
  sample: 3
cert_not_after:
  description: Expiry of the registry's certificate in ISO 8601, or V(null) (plain HTTP, or not readable).
  returned: always
  type: str
  sample: '2027-01-01T00:00:00+00:00'
days_left:
  description: Whole days until RV(cert_not_after), or V(null).
  returned: always
  type: int
  sample: 400
attempts:
  description: How many times the checks ran.
  returned: always
  type: int
  sample: 1
elapsed:
  description: Seconds spent in all attempts.
  returned: always
  type: float
  sample: 0.152
'''

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils._health import (
    HealthError,
    RegistryClient,
    client_argument_spec,
    empty_result,
    failing_checks,
    format_failure,
    make_ssl_context,
    run_checks,
    run_with_retries,
    validate_params,
)


def main():
    spec = client_argument_spec(request_timeout=10).update_argspec(
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='int', default=60),
        min_days_left=dict(type='int', default=0),
        catalog=dict(type='bool', default=True),
        round_trip=dict(type='bool', default=False),
        round_trip_repository=dict(type='str', default='dockyard/health-check'),
        delete_expected=dict(type='bool', default=False),
    ).update(required_together=[('username', 'password')])
    module = AnsibleModule(**spec.module_kwargs(supports_check_mode=True))
    params = module.params
    try:
        target = validate_params(params)
        context = make_ssl_context(params['ca_path'], params['validate_certs'], params['server_name'])
    except HealthError as exc:
        module.fail_json(msg=str(exc), **empty_result('invalid parameters'))

    client = RegistryClient(target, context, params['request_timeout'], params['username'], params['password'])

    state = {}

    def attempt():
        return run_checks(client, target, context, params, datetime.datetime.now(datetime.timezone.utc), state)

    def final(checks):
        # the image was pushed and pulled back, only its delete failed: retrying would push another one
        return failing_checks(checks) == ['round_trip'] and 'round_trip' in state

    checks, facts, attempts, elapsed = run_with_retries(attempt, params['timeout'], final=final)
    result = dict(changed=False, checks=checks, attempts=attempts, elapsed=elapsed, **facts)
    if any(not check['ok'] for check in checks.values()):
        module.fail_json(msg=format_failure(checks, attempts, elapsed), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
