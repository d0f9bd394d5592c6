#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: registry_retention
short_description: Delete old tags of a container registry by rules, keeping the newest and the protected ones
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - Applies retention rules to the repositories of a CNCF distribution registry through its HTTP API, as a
    client. It lists the catalog and each repository's tags (following C(Link) pages), resolves every tag's
    manifest (Docker image manifest, Docker manifest list, OCI image manifest or OCI index) to its digest and
    creation time, and deletes the manifests by digest that no rule keeps.
  - B(Which rule.) Each repository of the catalog is handled by the B(first) rule whose O(rules[].repository)
    glob matches its whole name; later rules are not looked at. Repositories no rule matches are not touched.
  - B(Creation time.) For an image manifest, the C(created) field of its image config blob. For an index or
    manifest list, the B(newest) C(created) among the platform images it references (so pushing one new
    platform makes the whole index new). A tag whose creation time cannot be read (no C(created), a schema 1
    manifest, an index whose platforms have none) is B(undated). It is always kept, takes no O(rules[].keep_last)
    place, and is reported in RV(undated) and as a warning.
  - B(Which tags a rule keeps.) A tag matching any O(rules[].keep_tags) glob is kept. The other dated tags are
    ranked newest first, equal creation times in tag name order; the first O(rules[].keep_last) of them are kept.
    With O(rules[].older_than), a tag that is not kept so far is kept too when it was created O(rules[].older_than)
    ago or less. Every other tag is selected for deletion. In short, a tag is deleted only if it is not protected
    by O(rules[].keep_tags), not among the newest O(rules[].keep_last), and (when O(rules[].older_than) is given)
    older than O(rules[].older_than).
  - B(Shared digests.) Deleting C(DELETE /v2/NAME/manifests/DIGEST) removes every tag pointing to that digest.
    A digest is therefore deleted only when no kept tag points to it, directly or as a platform manifest of a
    kept index or manifest list. A selected tag whose digest is still needed stays and is reported in
    RV(spared); when a digest is deleted, every tag on it is reported in RV(deleted).
  - Deleting an index or manifest list does not delete its platform manifests; like the blobs of deleted
    images, they stay on disk until the registry's garbage collection (C(registry garbage-collect),
    with C(--delete-untagged) for untagged manifests) removes them.
  - All HTTP goes through Ansible's own C(module_utils.urls), with the certificate verified against O(ca_path)
    (or the system trust), never skipped, and the credentials sent only to the registry's own origin.
extends_documentation_fragment:
  - dockyard.registry.attributes
  - dockyard.registry.registry_api
attributes:
  check_mode:
    support: full
    details:
      - Reads the registry and returns in RV(deleted) exactly what would be deleted; sends no C(DELETE).
  diff_mode:
    support: full
    details:
      - The tag list of each repository that loses tags, before and after.
  idempotent:
    support: full
    details:
      - A second run with the same rules deletes nothing, as long as no tag was pushed and no tag crossed an
        O(rules[].older_than) age in between.
options:
  username:
    description:
      - User to authenticate as (Basic authentication, as with htpasswd). It needs read and delete rights.
    type: str
  password:
    description:
      - Password of O(username). Never reported.
    type: str
  rules:
    description:
      - The retention rules, in order. The first rule whose O(rules[].repository) matches a repository applies to it.
      - All rules are checked before any request is sent; one bad rule fails the module and nothing is deleted.
    type: list
    elements: dict
    required: true
    suboptions:
      repository:
        description:
          - Glob (Python C(fnmatch), case-sensitive) matched against the whole repository name, for example
            V(ci/*) or V(team/app). C(*) also matches C(/).
          - Must be a non-empty string.
        type: raw
        required: true
      keep_last:
        description:
          - Number of the newest dated tags to keep, not counting the tags protected by O(rules[].keep_tags).
          - V(0) keeps none by count. A whole number 0 or more.
          - At least one of O(rules[].keep_last) and O(rules[].older_than) is required.
        type: int
      keep_tags:
        description:
          - Globs of tag names that are always kept, for example V(latest) and V(v*). Each must be a non-empty string.
        type: raw
        default: []
      older_than:
        description:
          - Delete only tags created more than this long ago. A whole number and one unit out of
            V(s) (seconds), V(m) (minutes), V(h) (hours), V(d) (days) and V(w) (weeks), for example V(30d).
          - Without it, age plays no part and every tag not kept by O(rules[].keep_last) or
            O(rules[].keep_tags) is deleted.
        type: str
  request_timeout:
    description:
      - Seconds to wait for each connection or request.
    type: int
    default: 30
  page_size:
    description:
      - Entries asked for per page of the catalog and of each tag list (the C(n) parameter); the C(Link) header
        of each page is followed to the next. The registry's C(catalog.maxentries) (default 1000) must not be
        smaller. distribution 2.8 pages the catalog but returns every tag of a repository at once.
    type: int
    default: 100
notes:
  - Only Basic (htpasswd) authentication is supported.
  - Deletes must be enabled on the registry (C(storage.delete.enabled), role variable
    C(registry_delete_enabled)); otherwise the first C(DELETE) answers 405 C(UNSUPPORTED) and the module fails
    with a message saying so.
  - Deleting tags frees no disk space by itself; run the registry's garbage collection afterwards.
seealso:
  - module: dockyard.registry.registry_health
  - name: Registry HTTP API V2
    description: The API this module uses.
    link: https://distribution.github.io/distribution/spec/api/
'''

EXAMPLES = r'''
- name: Keep the 20 newest CI builds of every ci/ repository, plus latest and releases; others go after 30 days
  dockyard.registry.registry_retention:
    url: https://registry.example.com:5000
    ca_path: /etc/docker/certs.d/registry.example.com:5000/ca.crt
    username: cleaner
    password: "{{ registry_cleaner_password }}"
    rules:
      - repository: "ci/*"
        keep_last: 20
        keep_tags: [latest, "v*"]
        older_than: 30d
      - repository: "*"
        keep_last: 100
  register: retention

- name: Show what was deleted
  ansible.builtin.debug:
    msg: "{{ retention.deleted | map(attribute='tag') | list }}"

- name: Preview, over the registry's IP address, what going by age alone would delete in team/ repositories
  dockyard.registry.registry_retention:
    url: https://10.0.0.5:5000
    server_name: registry.example.com
    ca_path: /etc/docker/certs.d/registry.example.com:5000/ca.crt
    username: cleaner
    password: "{{ registry_cleaner_password }}"
    rules:
      - repository: "team/*"
        keep_tags: [stable]
        older_than: 2w
  check_mode: true
  diff: true
  register: preview

# Deleting tags frees no disk space by itself: run the registry's garbage collection afterwards,
# with the registry in read-only mode (storage.maintenance.readonly) or stopped.
'''

RETURN = r'''
deleted:
  description:
    - The tags deleted (in check mode, the tags that would be deleted), sorted by repository and tag. Tags
      that shared a deleted digest are all listed, each with that digest.
    - On a failure during the deletes, the tags deleted before it.
  returned: always
  type: list
  elements: dict
  contains:
    repository:
      description: Repository name.
      type: str
      returned: always
    tag:
      description: Tag name.
      type: str
      returned: always
    digest:
      description: Digest of the manifest deleted.
      type: str
      returned: always
  sample:
    - {repository: ci/app, tag: build-17, digest: "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
    - {repository: ci/app, tag: nightly-3, digest: "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
spared:
  description: Tags the rules selected for deletion but kept, because a kept tag or kept index needs their digest.
  returned: always
  type: list
  elements: dict
  sample:
    - {repository: ci/app, tag: build-5, digest: "sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"}
undated:
  description: Tags kept because their creation time could not be read.
  returned: always
  type: list
  elements: dict
  sample: []
repositories:
  description: One entry per repository a rule matched, in name order.
  returned: always
  type: list
  elements: dict
  contains:
    rule:
      description: Index (from 0) of the rule that applied.
      type: int
      returned: always
    repository:
      description: Repository name, as the catalog lists it.
      returned: always
      type: str
    tags:
      description: Number of tags before.
      type: int
      returned: always
    kept:
      description: Number of tags that stay.
      type: int
      returned: always
    deleted:
      description: Number of tags deleted (or that would be in check mode).
      type: int
      returned: always
  sample:
    - {repository: ci/app, rule: 0, tags: 32, kept: 10, deleted: 22}
'''

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils._health import (
    HealthError,
    RegistryClient,
    api_argument_spec,
    make_ssl_context,
)
from ansible_collections.dockyard.registry.plugins.module_utils._retention import (
    USER_AGENT,
    Retention,
    RetentionError,
    apply,
    plan,
    summarize,
    validate_params,
)


def empty_result():
    return {'changed': False, 'deleted': [], 'spared': [], 'undated': [], 'repositories': []}


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            rules=dict(type='list', elements='dict', required=True, options=dict(
                repository=dict(type='raw', required=True),
                keep_last=dict(type='int'),
                keep_tags=dict(type='raw', default=[]),
                older_than=dict(type='str'),
            )),
            page_size=dict(type='int', default=100),
        ),
        required_together=[('username', 'password')],
        supports_check_mode=True,
    )
    params = module.params
    try:
        target, rules = validate_params(params)
        context = make_ssl_context(params['ca_path'], True, params['server_name'])
    except (RetentionError, HealthError) as exc:
        module.fail_json(msg=str(exc), **empty_result())

    client = RegistryClient(target, context, params['request_timeout'], params['username'], params['password'],
                            user_agent=USER_AGENT)
    retention = Retention(client, params['page_size'], params['username'])
    try:
        planned = plan(retention, rules, datetime.datetime.now(datetime.timezone.utc))
    except RetentionError as exc:
        module.fail_json(msg=str(exc), **empty_result())

    result = summarize(planned)
    diff = result.pop('diff')
    if module._diff:
        result['diff'] = diff
    for warning in retention.warnings:
        module.warn(warning)
    if result['undated']:
        module.warn('kept %d tag(s) whose creation time cannot be read: %s' % (
            len(result['undated']), ', '.join('%s:%s' % (e['repository'], e['tag']) for e in result['undated'])))

    if not module.check_mode:
        try:
            apply(retention, planned)
        except RetentionError as exc:
            done = getattr(exc, 'deleted', [])
            result.update(changed=bool(done), deleted=done)
            module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
