# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""registry_info's ui_certificate option: a second key and certificate (the registry UI's own),
judged exactly as the certificate option, independently of it. Real keys and certificates."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.dockyard.registry.plugins.module_utils import _certificate as c

from .test_registry_info import SANS, docker, glue, run, self_signed, write_cert, write_key  # noqa: F401 pylint: disable=unused-import


def _pair(directory, name):
    key = c.generate_private_key(c.key_spec())
    files = dict(path=str(directory / (name + '.crt')), privatekey_path=str(directory / (name + '.key')),
                 subject_alt_names=SANS)
    write_key(directory / (name + '.key'), key)
    return files, key


def test_each_pair_gets_its_own_verdict(tmp_path):
    registry, registry_key = _pair(tmp_path, 'registry')
    ui, ui_key = _pair(tmp_path, 'ui')
    write_cert(tmp_path / 'registry.crt', self_signed(registry_key))
    result = run(certificate=registry, ui_certificate=ui)
    assert not result['failed'], result
    assert result['certificate']['reason'] == 'valid'
    assert result['ui_certificate'] == {'reason': 'missing', 'not_after': None}
    # The UI's certificate for other names, then one of the registry's key: judged on the UI's files.
    write_cert(tmp_path / 'ui.crt', self_signed(ui_key, sans=['elsewhere.example']))
    assert run(certificate=registry, ui_certificate=ui)['ui_certificate']['reason'] == 'san_changed'
    write_cert(tmp_path / 'ui.crt', self_signed(registry_key))
    assert run(certificate=registry, ui_certificate=ui)['ui_certificate']['reason'] == 'key_mismatch'
    # Control: its own certificate is valid, and without the option there is no verdict.
    write_cert(tmp_path / 'ui.crt', self_signed(ui_key))
    assert run(certificate=registry, ui_certificate=ui)['ui_certificate']['reason'] == 'valid'
    assert 'ui_certificate' not in run(certificate=registry)


def test_a_bad_ui_certificate_option_is_named(tmp_path):
    ui, dummy = _pair(tmp_path, 'ui')
    result = run(ui_certificate=dict(ui, renew_before_days=-1))
    assert result['failed'] and result['msg'].startswith('ui_certificate.renew_before_days=-1'), result
