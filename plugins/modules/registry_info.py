#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: registry_info
short_description: Read-only facts about a registry host, gathered in one task
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - Gathers in one task, without changing anything, what is needed to decide whether a registry host
    is already exactly as wanted, so a role can skip its whole apply path on a rerun that has nothing to do.
  - Docker facts are always gathered (C(docker version), C(docker compose version)), then, when asked for,
    the containers of a Compose project and the local ids of images. The docker CLI calls run
    concurrently on threads, while the file checks run.
  - File facts for O(paths) (type, mode, owner, group, optionally a SHA-256 or a regular expression
    check), the key and certificate of O(certificate) judged as M(dockyard.registry.certificate)
    would judge them, and the users of O(htpasswd) as M(dockyard.registry.htpasswd) would change them
    (passwords verified with bcrypt, nothing hashed).
  - With O(health), one look at the registry as a client sees it (TLS, anonymous and authenticated C(/v2/)).
  - Never fails because docker is missing, a file is absent or the registry does not answer; that is reported. Fails only on invalid
    options. Never returns file contents, passwords or hashes.
extends_documentation_fragment:
  - dockyard.registry._certificate.info
  - dockyard.registry._certificate.ui_info
  - dockyard.registry._health.info
  - dockyard.registry._htpasswd.info
  - dockyard.registry.attributes
  - dockyard.registry.attributes.info_module
options:
  paths:
    description:
      - Files and directories to stat. C(os.stat) follows symbolic links.
      - A path may be listed more than once only with the same checks.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The path.
        type: path
        required: true
      checksum:
        description:
          - Return the SHA-256 of a regular file as RV(paths.sha256).
          - Not together with O(paths[].sha256).
        type: bool
        default: false
      sha256:
        description:
          - Expected SHA-256 of the file content (64 hexadecimal characters, any case); the result
            says whether it matches in RV(paths.sha256_matches). Never shown, never returned.
          - Not together with O(paths[].checksum=true), whose result would reveal it.
        type: str
      regexp:
        description:
          - A Python regular expression that must match the B(whole) text of the file
            (C(re.fullmatch) on the content decoded as UTF-8); the result is RV(paths.matches).
          - Inline flags such as V((?s\)) or V((?m\)) may be used.
          - A file that is not a regular file, cannot be read or is not valid UTF-8 does not match.
          - Never shown (it may hold a secret file's known lines).
        type: str
  certificate:
    description:
      - A private key and TLS server certificate to check the way M(dockyard.registry.certificate)
        decides in its V(self_signed) mode (no O(certificate.ca_cert_path)) or V(csr) mode (with it).
      - Nothing is generated, not even in memory.
    type: dict
  ui_certificate:
    description:
      - A second private key and certificate (the registry UI's own), judged exactly as O(certificate);
        the verdict is RV(ui_certificate).
    type: dict
  htpasswd:
    description:
      - An htpasswd file to compare with users, the way M(dockyard.registry.htpasswd) would change it.
      - Passwords are verified against the stored bcrypt hashes (C(bcrypt.checkpw), one thread per CPU);
        nothing is hashed and nothing is written.
    type: dict
  s3:
    description:
      - Probe the S3 bucket the registry's C(s3) storage driver will use, from this host, with one
        C(ListObjectsV2) request (C(max-keys=1)) signed with AWS Signature Version 4.
      - The result (RV(s3)) names the endpoint and the bucket and the S3 error code, never a key.
        Without keys the bucket is not probed.
    type: dict
    suboptions:
      endpoint:
        description: V(http(s\)://host[:port]) of the S3 service; empty for AWS S3 in O(s3.region).
        type: str
        default: ""
      region:
        description: The region the request is signed for.
        type: str
        default: us-east-1
      bucket:
        description: The bucket.
        type: str
        required: true
      access_key:
        description: The access key. Never shown, never returned.
        type: str
        default: ""
      secret_key:
        description: The secret key. Never shown, never returned.
        type: str
        default: ""
      path_style:
        description: Address the bucket by path (V(endpoint/bucket)) rather than host name.
        type: bool
        default: true
      timeout:
        description: Seconds to wait for the answer.
        type: int
        default: 10
  health:
    description:
      - Look at the registry as a client does, once. The TLS handshake (verified against
        O(health.ca_path) for O(health.server_name)), C(GET /), C(GET /v2/) without credentials
        (V(401) expected when O(health.auth_expected)) and with them (V(200)).
      - The same checks as M(dockyard.registry.registry_health) with O(dockyard.registry.registry_health#module:catalog=false),
        but one attempt, no waiting, and a failing check does not fail this module; it is reported in
        RV(health). Use M(dockyard.registry.registry_health) to wait for a registry and fail when it does not serve.
    type: dict
  project_name:
    description:
      - The Compose project whose containers to list (label C(com.docker.compose.project)).
    type: str
  images:
    description:
      - Image references whose local image id to report.
    type: list
    elements: str
    default: []
  ports:
    description:
      - TCP ports whose listening sockets on the host to report (from C(/proc/net/tcp) and C(/proc/net/tcp6)),
        to tell before deploying whether a port is taken (compare with RV(containers[].published) to know
        whether this project holds it).
    type: list
    elements: int
    default: []
  data_dir:
    description:
      - The registry's data directory (filesystem storage). Reports the free space of its file system
        (blocks available, as C(df) counts them) in RV(data_dir), and whether it is below O(data_dir.min_free_mb).
      - A directory that does not exist yet is judged by its nearest existing parent.
    type: dict
    suboptions:
      path:
        description: The data directory on the host.
        type: path
        required: true
      min_free_mb:
        description: MiB that must stay free; V(0) never reports it low.
        type: int
        default: 0
  mounts_under:
    description:
      - Report in RV(mounts) the mount points at or under this path (from C(/proc/self/mountinfo)), for example
        a data directory on its own disk, which a removal must empty rather than delete.
    type: path
requirements:
  - The docker CLI on the managed node for the Docker facts (found through E(PATH)).
  - cryptography >= 3.4 when O(certificate) is given.
  - bcrypt >= 3.1.7 when O(htpasswd) is given.
notes:
  - The docker CLI calls have no time limit of their own; a Docker engine that does not answer makes the
    task wait.
seealso:
  - module: dockyard.registry.certificate
  - module: dockyard.registry.htpasswd
  - module: dockyard.registry.registry_health
'''

EXAMPLES = r'''
- name: Gather what the registry role compares
  dockyard.registry.registry_info:
    paths:
      - path: /srv/registry/config.yml
        sha256: "{{ wanted_config | hash('sha256') }}"
      - path: /srv/registry/auth
      - path: /srv/registry/docker-compose.yml
        regexp: '(?s).*image: registry:2\.8\.3\n.*'
    certificate:
      path: /srv/registry/certs/registry.crt
      privatekey_path: /srv/registry/certs/registry.key
      subject_alt_names: [registry.example.com]
    htpasswd:
      path: /srv/registry/auth/htpasswd
      exclusive: true
      users:
        - name: ci
          password: "{{ vault_registry_ci_password }}"
    project_name: registry
    images: [registry:2.8.3]
  register: registry_facts

- name: Stop when Docker or Compose v2 is missing
  ansible.builtin.assert:
    that:
      - registry_facts.docker.available
      - registry_facts.docker.compose_version is not none
    fail_msg: "{{ registry_facts.docker.error or registry_facts.docker.compose_error }}"
'''

RETURN = r'''
changed:
  description: Always V(false).
  returned: always
  type: bool
  sample: false
docker:
  description: Whether Docker and Compose v2 answer.
  returned: always
  type: dict
  contains:
    available:
      description: Whether C(docker version) could reach the Docker engine.
      type: bool
      returned: always
      sample: true
    server_version:
      description: The engine version, or V(null) when not available.
      type: str
      returned: always
      sample: 20.10.24+dfsg1
    compose_version:
      description:
        - The Compose v2 version (C(docker compose version --short)), or V(null) when it failed or
          docker is not available.
      type: str
      returned: always
      sample: 2.26.1
    error:
      description:
        - When docker is not available, what C(docker version) said (or why it could not run).
        - Otherwise the errors of the container listing and of image look-ups, separated by V(; ),
          or the empty string.
      type: str
      returned: always
      sample: ''
    compose_error:
      description: What C(docker compose version) said when it failed, else the empty string.
      type: str
      returned: always
      sample: ''
paths:
  description:
    - Facts of each path of O(paths), keyed by the path (after C(~) expansion).
  returned: always
  type: dict
  contains:
    exists:
      description: Whether the path exists (a dangling symbolic link does not).
      type: bool
      returned: always
    type:
      description: V(file), V(directory), V(other), or V(null) when it does not exist.
      type: str
      returned: always
    mode:
      description: Permission bits as four octal digits, or V(null).
      type: str
      returned: always
    owner:
      description: Owner name (the uid as a string when it has no name), or V(null).
      type: str
      returned: always
    group:
      description: Group name (the gid as a string when it has no name), or V(null).
      type: str
      returned: always
    sha256:
      description: SHA-256 of the content, lower-case hex; V(null) when the file cannot be read.
      type: str
      returned: when O(paths[].checksum=true) and the path is a regular file
    sha256_matches:
      description: Whether the path is a regular file whose SHA-256 is O(paths[].sha256).
      type: bool
      returned: when O(paths[].sha256) is given
    matches:
      description: Whether O(paths[].regexp) matches the whole text of the file.
      type: bool
      returned: when O(paths[].regexp) is given
  sample:
    /srv/registry/config.yml: {exists: true, type: file, mode: '0640', owner: root, group: root,
                               sha256_matches: true}
    /srv/registry/auth: {exists: true, type: directory, mode: '0750', owner: root, group: root}
certificate:
  description: The verdict on O(certificate).
  returned: when O(certificate) is given
  type: dict
  contains:
    reason:
      description:
        - V(valid) when M(dockyard.registry.certificate) would change nothing, else why it would
          (re)create the key or the certificate.
        - V(missing), V(unreadable) and V(key_type_changed) are about the key (checked first) or the
          certificate; V(ca_missing) means the file at O(certificate.ca_cert_path) is missing or not
          a readable CA certificate; the others are about the certificate.
      type: str
      returned: always
      choices: [valid, missing, unreadable, key_type_changed, key_mismatch, san_changed, issuer_changed,
                expiring, ca_missing]
      sample: valid
    not_after:
      description: End of validity of the certificate, ISO 8601 UTC, or V(null) when it cannot be read.
      type: str
      returned: always
      sample: '2027-01-01T12:00:00Z'
ui_certificate:
  description: The verdict on O(ui_certificate), with the keys of RV(certificate) (C(reason), C(not_after)).
  returned: when O(ui_certificate) is given
  type: dict
  sample: {reason: valid, not_after: '2027-01-01T12:00:00Z'}
htpasswd:
  description: What M(dockyard.registry.htpasswd) would change in O(htpasswd.path). User names only.
  returned: when O(htpasswd) is given
  type: dict
  contains:
    changed:
      description: Whether it would change the file (also V(true) when the file does not exist).
      type: bool
      returned: always
      sample: false
    added:
      description: Users that would be added.
      type: list
      elements: str
      returned: always
      sample: []
    removed:
      description: Users that would be removed.
      type: list
      elements: str
      returned: always
      sample: []
    updated:
      description: Users whose password does not verify, or whose entry is not bcrypt.
      type: list
      elements: str
      returned: always
      sample: []
health:
  description: The registry as a client saw it (O(health)).
  returned: when O(health) is given
  type: dict
  contains:
    ok:
      description: Whether every check passed.
      type: bool
      returned: always
      sample: true
    msg:
      description: Every failing check and why (no credentials in it), or the empty string.
      type: str
      returned: always
      sample: ''
    checks:
      description:
        - Result of each check, keyed by C(tls), C(liveness), C(anonymous), C(authenticated), as
          RV(dockyard.registry.registry_health#module:checks). Empty when the options are unusable
          (for example a O(health.ca_path) that does not exist yet).
      type: dict
      returned: always
      sample:
        tls: {ok: true, skipped: false, status: null, latency_ms: 4, msg: "TLS 1.3, certificate valid for 364 days"}
s3:
  description: The probe of the S3 bucket (O(s3)).
  returned: when O(s3) is given
  type: dict
  contains:
    ok:
      description: Whether the keys could list the bucket (V(true) also when not probed).
      type: bool
      returned: always
      sample: false
    skipped:
      description: Whether the bucket was not probed (no keys given).
      type: bool
      returned: always
      sample: false
    status:
      description: The HTTP status of the answer; V(null) when none came.
      type: int
      returned: always
      sample: 403
    code:
      description: The S3 error code of the answer, or the empty string.
      type: str
      returned: always
      sample: SignatureDoesNotMatch
    msg:
      description: What happened, naming the endpoint and the bucket (never a key).
      type: str
      returned: always
      sample: "S3 bucket 'registry' at http://s3.example:7480 answered HTTP 403 SignatureDoesNotMatch: the secret key
        does not match the access key"
containers:
  description:
    - The containers of the Compose project O(project_name), sorted by service and name.
    - V(null) when docker is not available or the listing failed (the error is in RV(docker.error)).
  returned: when O(project_name) is given
  type: list
  elements: dict
  contains:
    name:
      description: Container name, without the leading C(/).
      type: str
    service:
      description: The Compose service (label C(com.docker.compose.service)).
      type: str
    state:
      description: C(.State.Status), for example V(running) or V(exited).
      type: str
    health:
      description: C(.State.Health.Status), or the empty string when there is no health check.
      type: str
    image_id:
      description: Id of the image the container runs (C(.Image)).
      type: str
    labels:
      description: The container's labels (an empty dictionary when it has none).
      type: dict
    started_at:
      description: C(.State.StartedAt).
      type: str
    published:
      description: The host ports the container publishes (from its configuration), as C(address) and C(port).
      type: list
      elements: dict
  sample:
    - name: registry-registry-1
      service: registry
      state: running
      health: healthy
      image_id: sha256:4b8b3f7c1b0e...
      labels: {com.docker.compose.project: registry, com.docker.compose.service: registry}
      started_at: '2026-01-01T12:00:00.000000000Z'
images:
  description:
    - Local image id of each reference of O(images), V(null) when the image is not there (or docker is not
      available).
  returned: when O(images) is not empty
  type: dict
  sample: {registry:2.8.3: "sha256:4b8b3f7c1b0e...", joxit/docker-registry-ui:2.5.7: null}
data_dir:
  description: The free space of the data directory's file system (O(data_dir)).
  returned: when O(data_dir) is given
  type: dict
  contains:
    path:
      description: The data directory.
      type: str
      returned: always
    checked_path:
      description: The path whose file system was measured (the nearest existing parent when O(data_dir.path) does not exist).
      type: str
      returned: always
    exists:
      description: Whether the data directory exists.
      type: bool
      returned: always
    total_bytes:
      description: Size of the file system, V(null) when it could not be read.
      type: int
      returned: always
    free_bytes:
      description: Bytes available (as C(df) counts them), V(null) when they could not be read.
      type: int
      returned: always
    min_free_bytes:
      description: O(data_dir.min_free_mb) in bytes.
      type: int
      returned: always
    low:
      description: Whether fewer than RV(data_dir.min_free_bytes) are free.
      type: bool
      returned: always
    msg:
      description: The path and the figures, in words.
      type: str
      returned: always
  sample:
    path: /opt/registry/data
    checked_path: /opt/registry/data
    exists: true
    total_bytes: 67108864
    free_bytes: 3145728
    min_free_bytes: 52428800
    low: true
    msg: data directory /opt/registry/data has 3 MiB free of 64 MiB, below registry_data_min_free_mb=50
mounts:
  description: Mount points at or under O(mounts_under), sorted.
  returned: when O(mounts_under) is given
  type: list
  elements: str
  sample: [/opt/registry/data]
ports:
  description:
    - For each port of O(ports), the addresses a socket listens on (V(0.0.0.0) and V(::) for all); an empty
      list when the port is free.
  returned: when O(ports) is not empty
  type: dict
  sample: {"5000": ["0.0.0.0"], "8443": []}
'''

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dockyard.registry.plugins.module_utils import _info
from ansible_collections.dockyard.registry.plugins.module_utils._bcrypt_dep import (
    BCRYPT_IMPORT_ERROR,
    HAS_BCRYPT,
)
from ansible_collections.dockyard.registry.plugins.module_utils._cryptography_dep import assert_cryptography
from ansible_collections.dockyard.registry.plugins.module_utils._certificate import certificate_argument_spec
from ansible_collections.dockyard.registry.plugins.module_utils._health import client_argument_spec
from ansible_collections.dockyard.registry.plugins.module_utils._htpasswd import htpasswd_argument_spec
from ansible_collections.dockyard.registry.plugins.module_utils._s3 import probe_bucket


def _runner(module):
    def run(argv):
        # A bare 'docker' found through PATH; no ~ or $VAR expansion of the arguments.
        return module.run_command(argv, expand_user_and_vars=False, handle_exceptions=False)
    return run


def _read_htpasswd(path):
    data = _info.read_source(path)
    if isinstance(data, _info.Unreadable):
        raise _info.InfoError('htpasswd.path: cannot read %r: %s' % (path, data.error))
    return data


def _certificate_facts(cert, now):
    spec, sans = _info.certificate_options(cert)
    ca_data = False if cert['ca_cert_path'] is None else _info.read_source(cert['ca_cert_path'])
    return _info.certificate_facts(_info.read_source(cert['privatekey_path']), _info.read_source(cert['path']),
                                   sans, spec, cert['renew_before_days'], now, ca_data=ca_data)


def _htpasswd_facts(auth):
    return _info.htpasswd_facts(_read_htpasswd(auth['path']), auth['users'], exclusive=auth['exclusive'],
                                update_password=auth['update_password'], cost=auth['cost'])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type='list', elements='dict', default=[], options=dict(
                path=dict(type='path', required=True),
                checksum=dict(type='bool', default=False),
                sha256=dict(type='str', no_log=True),
                regexp=dict(type='str', no_log=True),
            )),
            certificate=certificate_argument_spec(required=True).as_suboption(),
            ui_certificate=certificate_argument_spec(required=True).as_suboption(),
            htpasswd=htpasswd_argument_spec(info=True).as_suboption(no_log=False),
            health=client_argument_spec(request_timeout=_info.HEALTH_REQUEST_TIMEOUT).as_suboption(),
            s3=dict(type='dict', options=dict(
                endpoint=dict(type='str', default=''),
                region=dict(type='str', default='us-east-1'),
                bucket=dict(type='str', required=True),
                access_key=dict(type='str', default='', no_log=True),
                secret_key=dict(type='str', default='', no_log=True),
                path_style=dict(type='bool', default=True),
                timeout=dict(type='int', default=10),
            )),
            data_dir=dict(type='dict', options=dict(
                path=dict(type='path', required=True),
                min_free_mb=dict(type='int', default=0),
            )),
            mounts_under=dict(type='path'),
            project_name=dict(type='str'),
            images=dict(type='list', elements='str', default=[]),
            ports=dict(type='list', elements='int', default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['certificate'] is not None or params['ui_certificate'] is not None:
        assert_cryptography(module)
    if params['htpasswd'] is not None and not HAS_BCRYPT:
        module.fail_json(msg=missing_required_lib('bcrypt'), exception=BCRYPT_IMPORT_ERROR)
    if params['project_name'] is not None and not params['project_name'].strip():
        module.fail_json(msg='project_name: must not be empty')
    if params['data_dir'] is not None and params['data_dir']['min_free_mb'] < 0:
        module.fail_json(msg='data_dir.min_free_mb: %d is not allowed; allowed: 0 (no threshold) or more MiB.'
                         % params['data_dir']['min_free_mb'])
    try:
        checks = _info.validate_paths(params['paths'])
    except _info.InfoError as exc:
        module.fail_json(msg=str(exc))

    # Four things at once: the docker calls (on a thread of their own, which waits on the docker
    # processes), the htpasswd check (bcrypt verifies on worker threads, without the GIL), the
    # registry's answers to a client (network waits) and, here, the paths and the certificate
    # (importing cryptography is the slow part).
    result, errors, warnings = {}, [], []
    with ThreadPoolExecutor(max_workers=3) as executor:
        docker = executor.submit(_info.gather_docker, _runner(module), params['project_name'], params['images'])
        auth = executor.submit(_htpasswd_facts, params['htpasswd']) if params['htpasswd'] is not None else None
        health = executor.submit(_info.health_facts, params['health']) if params['health'] is not None else None
        result['paths'] = _info.paths_facts(checks)
        for option in ('certificate', 'ui_certificate'):
            if params[option] is not None:
                try:
                    result[option] = _certificate_facts(params[option], _info.utcnow())
                except _info.InfoError as exc:
                    errors.append(str(exc) if option == 'certificate' else 'ui_' + str(exc))
        if auth is not None:
            try:
                result['htpasswd'], warnings = auth.result()
            except _info.InfoError as exc:
                errors.append(str(exc))
        result.update(docker.result())
        if health is not None:
            result['health'] = health.result()
    if params['s3'] is not None:
        result['s3'] = probe_bucket(**params['s3'])
    if params['data_dir'] is not None:
        result['data_dir'] = _info.data_dir_facts(params['data_dir']['path'], params['data_dir']['min_free_mb'])
    if params['mounts_under'] is not None:
        with open('/proc/self/mountinfo') as mountinfo:
            result['mounts'] = _info.mounts_under(params['mounts_under'], mountinfo.read())
    if params['ports']:
        result['ports'] = dict((str(port), addresses) for port, addresses in _info.listening_ports(params['ports']).items())
    if errors:
        module.fail_json(msg='; '.join(errors))
    for warning in warnings:
        module.warn('htpasswd: %s' % warning)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
