# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The test bed's locally built images honour the contracts of the real ones.

tests/testbed/setup.sh builds stand-ins for the official registry image (distribution 2.8, from
Debian's docker-registry) and for joxit/docker-registry-ui:2.6.0 (from Debian's nginx), under names
of their own (tests/testbed/stand-ins.yml; never an upstream name, which stays free for the real
images). Other tests deploy them through the role's image variables; here they are started with
plain `docker run` and probed from outside: HTTP status codes, headers, what reaches the upstream,
what runs inside. Every container, network and tag made here is removed again, also when a test
fails.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import os
import secrets
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

import roles_lib
from roles_lib import REGISTRY_IMAGE, REPO, UI_IMAGE, ui_app_attributes

SETUP_SH = os.path.join(REPO, "tests", "testbed", "setup.sh")
# The upstream names of the images the stand-ins stand for: the names earlier versions of setup.sh
# gave them, and what the role deploys by default. None of them may name a stand-in on this engine.
UPSTREAM_NAMES = ("registry:2", "registry:2.8.3", "registry:3", "registry:3.1.1",
                  "joxit/docker-registry-ui:2.5.7", "joxit/docker-registry-ui:2.6.0")
HELLO_IMAGE = "dockyard-test/hello:1"
HASH_LABEL = "org.dockyard.testbed.content-hash"
SETUP_HINT = "run tests/testbed/setup.sh (as root) to install and start the test bed"
TEST_LABEL = "org.dockyard.test=testbed"


def docker(*args, check=True, timeout=120):
    """Run the docker CLI; return the CompletedProcess (text)."""
    return roles_lib.docker(*args, check=check, timeout=timeout)


def http(url, headers=None, method="GET", data=None, context=None, timeout=10):
    """(status, headers, body bytes) for a request; HTTP errors are results, not exceptions."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


@pytest.fixture(scope="module", autouse=True)
def testbed(docker_engine):
    """docker_engine (conftest.py) skips only when no Docker engine answers and fails
    when the test bed's images are missing."""


class Docker:
    """Starts containers and networks with unique names and removes them at teardown."""

    def __init__(self):
        self.prefix = "dockyard-tb-" + uuid.uuid4().hex[:10]
        self.containers = []
        self.networks = []
        self.tags = []

    def name(self, role):
        return "%s-%s" % (self.prefix, role)

    def network(self):
        name = self.name("net")
        docker("network", "create", "--label", TEST_LABEL, name)
        self.networks.append(name)
        return name

    def run(self, role, image, args=(), env=None, publish=None, network=None, alias=None,
            volumes=(), wait_http=None, scheme="http"):
        """Start a detached container. publish: container port to publish on a free
        loopback port; returns (name, host port or None). wait_http: path polled
        until it answers at all (any status)."""
        name = self.name(role)
        for attempt in range(3):
            cmd = ["run", "-d", "--name", name, "--label", TEST_LABEL]
            port = None
            if publish:
                port = roles_lib.free_port()
                cmd += ["-p", "127.0.0.1:%d:%d" % (port, publish)]
            if network:
                cmd += ["--network", network]
                if alias:
                    cmd += ["--network-alias", alias]
            for key, value in (env or {}).items():
                cmd += ["-e", "%s=%s" % (key, value)]
            for volume in volumes:
                cmd += ["-v", volume]
            cmd += [image] + list(args)
            self.containers.append(name)
            proc = docker(*cmd, check=False)
            if proc.returncode == 0:
                break
            docker("rm", "-f", "-v", name, check=False)
            # Someone took the port between our probe and docker's bind: retry.
            if publish and "already" in proc.stderr and attempt < 2:
                continue
            raise AssertionError("docker run %s failed: %s" % (image, proc.stderr.strip()))
        if wait_http is not None:
            self.wait(name, "%s://127.0.0.1:%d%s" % (scheme, port, wait_http))
        return name, port

    def wait(self, name, url, timeout=30):
        context = None
        if url.startswith("https"):
            # Readiness only: whether the certificate is trusted is the test's business.
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                http(url, context=context, timeout=2)
                return
            except (OSError, ssl.SSLError):
                state = docker("inspect", "-f", "{{.State.Running}}", name, check=False).stdout.strip()
                if state == "false":
                    break
                time.sleep(0.2)
        logs = docker("logs", name, check=False)
        raise AssertionError("%s never answered at %s; logs:\n%s%s" % (name, url, logs.stdout, logs.stderr))

    def logs(self, name):
        proc = docker("logs", name, check=False)
        return proc.stdout + proc.stderr

    def cleanup(self):
        for name in reversed(self.containers):
            docker("rm", "-f", "-v", name, check=False)
        for name in self.networks:
            docker("network", "rm", name, check=False)
        for tag in self.tags:
            docker("rmi", tag, check=False)


@pytest.fixture
def dock(request):
    engine = Docker()
    request.addfinalizer(engine.cleanup)
    return engine


@pytest.fixture
def htpasswd_dir(tmp_path):
    """A directory holding an htpasswd file made by Apache's htpasswd (bcrypt)."""
    user, password = "dockyard", secrets.token_urlsafe(16)
    auth = tmp_path / "auth"
    auth.mkdir()
    subprocess.run(
        ["htpasswd", "-cbB", str(auth / "htpasswd"), user, password],
        check=True, capture_output=True,
    )
    return auth, user, password


AUTH_CONFIG = """\
version: 0.1
log:
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
auth:
  htpasswd:
    realm: dockyard-test
    path: /auth/htpasswd
"""


def start_auth_registry(dock, tmp_path, htpasswd, network=None, alias=None, role="registry"):
    config = tmp_path / "config.yml"
    config.write_text(AUTH_CONFIG)
    auth_dir = htpasswd[0]
    return dock.run(
        role, REGISTRY_IMAGE, publish=5000, network=network, alias=alias, wait_http="/",
        volumes=["%s:/etc/docker/registry/config.yml:ro" % config, "%s:/auth:ro" % auth_dir],
    )


def image_config(image):
    return json.loads(docker("image", "inspect", image).stdout)[0]


# ------------------------------------------------------------------ registry


def test_registry_image_has_the_official_layout():
    config = image_config(REGISTRY_IMAGE)
    assert config["Config"]["Entrypoint"] == ["/entrypoint.sh"]
    assert config["Config"]["Cmd"] == ["/etc/docker/registry/config.yml"]
    assert "5000/tcp" in config["Config"]["ExposedPorts"]
    assert "/var/lib/registry" in config["Config"]["Volumes"]
    assert config["Config"]["Labels"][HASH_LABEL], "built by setup.sh (content hash label)"


def test_registry_default_config_answers_without_auth(dock):
    name, port = dock.run("registry", REGISTRY_IMAGE, publish=5000, wait_http="/")
    status, dummy, body = http("http://127.0.0.1:%d/" % port)
    assert status == 200
    status, headers, body = http("http://127.0.0.1:%d/v2/" % port)
    assert status == 200
    assert json.loads(body) == {}
    assert headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    # Only the official default config sets this header.
    assert headers["X-Content-Type-Options"] == "nosniff"
    config = docker("exec", name, "cat", "/etc/docker/registry/config.yml").stdout
    assert "rootdirectory: /var/lib/registry" in config


def test_registry_reads_config_mounted_at_the_v2_path(dock, tmp_path, htpasswd_dir):
    dummy, user, password = htpasswd_dir
    name, port = start_auth_registry(dock, tmp_path, htpasswd_dir)
    url = "http://127.0.0.1:%d/v2/" % port
    # Health endpoint stays open.
    assert http("http://127.0.0.1:%d/" % port)[0] == 200
    # Negative controls: no credentials, wrong password.
    status, headers, dummy = http(url)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="dockyard-test"'
    assert http(url, headers={"Authorization": basic(user, password + "x")})[0] == 401
    assert http(url, headers={"Authorization": basic(user, password)})[0] == 200
    assert password not in dock.logs(name)


def test_wget_and_sh_inside_the_registry_image(dock):
    name, dummy = dock.run("registry", REGISTRY_IMAGE, publish=5000, wait_http="/")
    ok = docker("exec", name, "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5000/", check=False)
    assert ok.returncode == 0, ok.stderr
    # Negative control: the same probe against a port nothing listens on fails.
    bad = docker("exec", name, "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5999/", check=False)
    assert bad.returncode != 0
    shell = docker("exec", name, "sh", "-c", "test -x /bin/registry && echo shell-ok")
    assert shell.stdout.strip() == "shell-ok"


@pytest.mark.parametrize("args, rc_zero, expect", [
    (["--version"], True, "2.8."),
    (["help"], True, "garbage-collect"),
    (["sh", "-c", "echo passed-through"], True, "passed-through"),
    # A *.yml argument is a config file for `registry serve`.
    (["/nonexistent/config.yml"], False, "/nonexistent/config.yml"),
])
def test_registry_entrypoint_dispatch(args, rc_zero, expect):
    proc = docker("run", "--rm", "--label", TEST_LABEL, REGISTRY_IMAGE, *args, check=False, timeout=60)
    assert (proc.returncode == 0) is rc_zero, proc.stderr
    assert expect in proc.stdout + proc.stderr


def test_push_pull_hello_and_garbage_collect(dock):
    name, port = dock.run("registry", REGISTRY_IMAGE, publish=5000, wait_http="/")
    target = "127.0.0.1:%d/dockyard-test/hello:1" % port
    docker("tag", HELLO_IMAGE, target)
    dock.tags.append(target)
    docker("push", target)
    status, dummy, body = http("http://127.0.0.1:%d/v2/_catalog" % port)
    assert status == 200
    assert json.loads(body)["repositories"] == ["dockyard-test/hello"]
    # An independent client sees the same image.
    inspect = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "docker://" + target],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert json.loads(inspect.stdout)["Digest"].startswith("sha256:")
    docker("rmi", target)
    docker("pull", target)
    gc = docker("exec", name, "registry", "garbage-collect", "--dry-run", "/etc/docker/registry/config.yml")
    assert "dockyard-test/hello" in gc.stdout + gc.stderr


def test_hello_image_is_tiny_and_holds_one_file(dock, tmp_path):
    config = image_config(HELLO_IMAGE)
    assert config["Size"] < 4096
    name = dock.name("hello")
    dock.containers.append(name)
    docker("create", "--name", name, "--label", TEST_LABEL, HELLO_IMAGE)
    docker("cp", "%s:/hello.txt" % name, str(tmp_path / "hello.txt"))
    assert "dockyard.registry" in (tmp_path / "hello.txt").read_text()


# ------------------------------------------------------------------ names


def test_no_upstream_name_names_a_stand_in():
    """A machine that can pull gets the real image under the real name: no upstream name may point
    at one of the stand-ins (they all carry setup.sh's content-hash label; real images do not)."""
    ours = []
    for name in UPSTREAM_NAMES:
        proc = docker("image", "inspect", "-f", '{{ index .Config.Labels "%s" }}' % HASH_LABEL, name, check=False)
        if proc.returncode == 0 and proc.stdout.strip() not in ("", "<no value>"):
            ours.append(name)
    assert ours == [], "upstream names that name a test bed stand-in (run tests/testbed/setup.sh): %s" % ours
    for image in (REGISTRY_IMAGE, UI_IMAGE):
        assert image.startswith("dockyard-test/"), image


def test_setup_untags_retired_names_only_from_its_own_images(dock, tmp_path):
    """setup.sh removes a retired name only where it still names one of the test bed's images (the
    content-hash label); an image of the same kind of name built elsewhere keeps its name."""
    ours = "dockyard-retire-probe-%s/registry:2" % dock.prefix[-6:]
    foreign = "dockyard-retire-probe-%s/other:1" % dock.prefix[-6:]
    (tmp_path / "x").write_text("not ours\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY x /x\n")
    docker("tag", REGISTRY_IMAGE, ours)
    dock.tags.append(ours)
    build = subprocess.run(["docker", "build", "-q", "-t", foreign, str(tmp_path)], capture_output=True, text=True,
                           env=dict(os.environ, DOCKER_BUILDKIT="0"), timeout=120, check=False)
    dock.tags.append(foreign)
    assert build.returncode == 0, build.stderr
    env = dict(os.environ, DOCKYARD_TESTBED_RETIRED_TAGS="%s %s absent-%s:1" % (ours, foreign, dock.prefix))
    proc = subprocess.run(["bash", SETUP_SH, "stand-ins"], capture_output=True, text=True, env=env,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert docker("image", "inspect", ours, check=False).returncode != 0, "still there: " + ours
    assert "removing the upstream name %s" % ours in proc.stderr
    # Negative control: the image without the label keeps its name; the stand-in keeps its own.
    assert docker("image", "inspect", foreign, check=False).returncode == 0
    assert foreign not in proc.stderr
    assert docker("image", "inspect", REGISTRY_IMAGE, check=False).returncode == 0


# ------------------------------------------------------------------ UI


def test_ui_image_has_the_real_images_defaults():
    config = image_config(UI_IMAGE)["Config"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["NGINX_PROXY_HEADER_Host"] == "$http_host"
    assert env["NGINX_LISTEN_PORT"] == "80"
    assert "80/tcp" in config["ExposedPorts"]
    assert config["Cmd"] == ["nginx", "-g", "daemon off;"]


def test_ui_serves_title_and_has_no_proxy_without_url(dock):
    title = "Dockyard test %s" % uuid.uuid4().hex[:8]
    name, port = dock.run("ui", UI_IMAGE, publish=80, env={"REGISTRY_TITLE": title}, wait_http="/")
    status, dummy, body = http("http://127.0.0.1:%d/" % port)
    assert status == 200
    assert ui_app_attributes(body.decode())["name"] == title
    # No NGINX_PROXY_PASS_URL: /v2 is not proxied anywhere.
    assert http("http://127.0.0.1:%d/v2/" % port)[0] == 404
    conf = docker("exec", name, "cat", "/etc/nginx/conf.d/default.conf").stdout
    assert "location /v2" not in conf and "proxy_pass" not in conf
    ps = docker("exec", name, "ps", "-o", "user,args").stdout
    assert any(line.split()[0] == "root" and "nginx: master" in line for line in ps.splitlines())


def test_ui_listens_on_nginx_listen_port_and_keeps_config_on_restart(dock):
    title = "Port test %s" % uuid.uuid4().hex[:8]
    name, port = dock.run(
        "ui", UI_IMAGE, publish=8081, env={"REGISTRY_TITLE": title, "NGINX_LISTEN_PORT": "8081"},
        wait_http="/",
    )
    assert ui_app_attributes(http("http://127.0.0.1:%d/" % port)[2].decode())["name"] == title
    docker("restart", name)
    dock.wait(name, "http://127.0.0.1:%d/" % port)
    assert ui_app_attributes(http("http://127.0.0.1:%d/" % port)[2].decode())["name"] == title
    # Generated once, at the first start only.
    assert dock.logs(name).count("wrote /etc/nginx/conf.d/default.conf") == 1


def test_ui_page_carries_the_settings_as_app_attributes(dock):
    """Joxit 2.6.0's entrypoint: each setting becomes an attribute of <docker-registry-ui> in
    index.html; an unset one an empty string; DELETE_IMAGES true unless empty or "false"; the page's
    <title> is not a setting (the app sets the browser tab from DOCKER_REGISTRY_UI_TITLE)."""
    name, port = dock.run("ui", UI_IMAGE, publish=80, wait_http="/", env={
        "REGISTRY_TITLE": "Registry of team A", "SINGLE_REGISTRY": "true", "DELETE_IMAGES": "yes",
        "SHOW_CONTENT_DIGEST": "true", "THEME": "dark", "DOCKER_REGISTRY_UI_TITLE": "ACME images",
        "ENABLE_VERSION_NOTIFICATION": "false", "CATALOG_ELEMENTS_LIMIT": "500",
    })
    body = http("http://127.0.0.1:%d/" % port)[2].decode()
    app = ui_app_attributes(body)
    assert app["name"] == "Registry of team A"
    assert app["single-registry"] == "true"
    assert app["is-image-remove-activated"] == "true"
    assert app["show-content-digest"] == "true"
    assert app["theme"] == "dark"
    assert app["docker-registry-ui-title"] == "ACME images"
    assert app["enable-version-notification"] == "false"
    assert app["catalog-elements-limit"] == "500"
    assert app["registry-url"] == "" and app["pull-url"] == ""  # unset: empty, as the real sed leaves it
    assert app["show-catalog-nb-tags"] == "false"  # the image's own default
    assert "${" not in body
    assert "<title>Docker Registry UI</title>" in body and "ACME images</title>" not in body
    # Negative control: DELETE_IMAGES=false and unset both give "false"; no notification setting, empty.
    dummy, port2 = dock.run("ui2", UI_IMAGE, publish=80, wait_http="/", env={"DELETE_IMAGES": "false"})
    app2 = ui_app_attributes(http("http://127.0.0.1:%d/" % port2)[2].decode())
    assert app2["is-image-remove-activated"] == "false"
    assert app2["enable-version-notification"] == "" and app2["docker-registry-ui-title"] == ""
    dummy, port3 = dock.run("ui3", UI_IMAGE, publish=80, wait_http="/")
    assert ui_app_attributes(http("http://127.0.0.1:%d/" % port3)[2].decode())["is-image-remove-activated"] == "false"


def test_ui_reads_proxy_headers_from_the_env_file(dock, tmp_path):
    """NGINX_PROXY_HEADER_* from /etc/nginx/.env (a mounted file keeps them out of docker inspect)."""
    env_file = tmp_path / "ui.env"
    env_file.write_text("NGINX_PROXY_HEADER_X_Forwarded_User=dockyard\nNGINX_PROXY_PASS_HEADER_Docker_Distribution_Api_Version=1\n")
    name, dummy = dock.run("ui", UI_IMAGE, publish=80, wait_http="/", env={
        "NGINX_PROXY_PASS_URL": "http://127.0.0.1:5000"}, volumes=["%s:/etc/nginx/.env:ro" % env_file])
    conf = docker("exec", name, "cat", "/etc/nginx/conf.d/default.conf").stdout
    assert 'proxy_set_header X-Forwarded-User "dockyard";' in conf
    assert 'proxy_pass_header "Docker-Distribution-Api-Version";' in conf
    env = docker("inspect", "-f", "{{json .Config.Env}}", name).stdout
    assert "dockyard" not in env


ECHO_CONF = r"""
server {
    listen 8080;
    location / {
        add_header X-Pad "padded" always;
        return 200 "authorization=[$http_authorization]\nx-dockyard-test=[$http_x_dockyard_test]\nhost=[$http_host]\nuri=[$request_uri]\n";
    }
}
"""


def test_ui_proxies_v2_with_configured_headers(dock, tmp_path):
    """The upstream is another UI container with an extra server block mounted in
    conf.d, answering with the request headers it received."""
    net = dock.network()
    confd = tmp_path / "echo.conf"
    confd.write_text(ECHO_CONF)
    dock.run("echo", UI_IMAGE, network=net, alias="echo",
             volumes=["%s:/etc/nginx/conf.d/echo.conf:ro" % confd])
    secret = secrets.token_urlsafe(12)
    dummy, port = dock.run("ui", UI_IMAGE, publish=80, network=net, wait_http="/", env={
        "NGINX_PROXY_PASS_URL": "http://echo:8080",
        "NGINX_PROXY_HEADER_Authorization": "Bearer " + secret,
        "NGINX_PROXY_HEADER_X_Dockyard_Test": "value-1",
        "NGINX_PROXY_PASS_HEADER_X_Pad": "",
    })
    # Negative control: same upstream, no extra headers configured.
    dummy, plain_port = dock.run("plain", UI_IMAGE, publish=80, network=net, wait_http="/",
                                 env={"NGINX_PROXY_PASS_URL": "http://echo:8080"})

    status, headers, body = http("http://127.0.0.1:%d/v2/some/repo/tags/list" % port)
    text = body.decode()
    assert status == 200, text
    assert "authorization=[Bearer %s]" % secret in text
    assert "x-dockyard-test=[value-1]" in text
    assert "host=[127.0.0.1:%d]" % port in text  # NGINX_PROXY_HEADER_Host=$http_host default
    assert "uri=[/v2/some/repo/tags/list]" in text
    assert headers["X-Pad"] == "padded"

    status, headers, body = http("http://127.0.0.1:%d/v2/some/repo/tags/list" % plain_port)
    text = body.decode()
    assert status == 200
    assert "authorization=[]" in text and "x-dockyard-test=[]" in text
    assert headers["X-Pad"] is None
    # The page itself is not proxied.
    assert "authorization=" not in http("http://127.0.0.1:%d/" % port)[2].decode()


def test_ui_proxy_authenticates_to_registry_and_streams_uploads(dock, tmp_path, htpasswd_dir):
    dummy, user, password = htpasswd_dir
    net = dock.network()
    dummy, registry_port = start_auth_registry(dock, tmp_path, htpasswd_dir, network=net, alias="registry")
    name, port = dock.run("ui", UI_IMAGE, publish=80, network=net, wait_http="/", env={
        "NGINX_PROXY_PASS_URL": "http://registry:5000",
        "NGINX_PROXY_HEADER_Authorization": basic(user, password),
    })
    dummy, open_port = dock.run("noauth", UI_IMAGE, publish=80, network=net, wait_http="/",
                                env={"NGINX_PROXY_PASS_URL": "http://registry:5000"})
    base = "http://127.0.0.1:%d" % port
    status, headers, dummy = http(base + "/v2/")
    assert status == 200
    assert headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    # Negative controls: the registry itself and a proxy without the header say 401.
    assert http("http://127.0.0.1:%d/v2/" % registry_port)[0] == 401
    status, headers, dummy = http("http://127.0.0.1:%d/v2/" % open_port)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="dockyard-test"'

    # A 3 MiB blob in one request: nginx's default 1 MiB body limit must be off.
    blob = os.urandom(3 * 1024 * 1024)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    status, headers, dummy = http(base + "/v2/dockyard-test/big/blobs/uploads/", method="POST", data=b"")
    assert status == 202
    location = headers["Location"]
    assert location.startswith(base + "/v2/"), "Host passed through: registry builds URLs for the UI"
    sep = "&" if "?" in location else "?"
    status, dummy, body = http(location + sep + "digest=" + digest, method="PUT", data=blob,
                               headers={"Content-Type": "application/octet-stream"})
    assert status == 201, body
    assert http(base + "/v2/dockyard-test/big/blobs/" + digest, method="HEAD")[0] == 200

    # The Docker client pushes (chunked PATCH uploads) through the proxy.
    target = "127.0.0.1:%d/dockyard-test/hello:1" % port
    docker("tag", HELLO_IMAGE, target)
    dock.tags.append(target)
    docker("push", target)
    catalog = json.loads(http(base + "/v2/_catalog")[2])
    assert "dockyard-test/hello" in catalog["repositories"]
    conf = docker("exec", name, "cat", "/etc/nginx/conf.d/default.conf").stdout
    for directive in ("client_max_body_size 0;", "chunked_transfer_encoding on;",
                      "proxy_request_buffering off;", "proxy_buffering off;"):
        assert directive in conf
    assert password not in dock.logs(name)


def test_ui_resolver_finds_a_recreated_registry(dock):
    net = dock.network()
    dock.run("registry", REGISTRY_IMAGE, network=net, alias="registry")
    name, port = dock.run("ui", UI_IMAGE, publish=80, network=net, wait_http="/", env={
        "NGINX_PROXY_PASS_URL": "http://registry:5000",
        "NGINX_RESOLVER": "127.0.0.11",
    })
    conf = docker("exec", name, "cat", "/etc/nginx/conf.d/default.conf").stdout
    assert "resolver 127.0.0.11;" in conf
    url = "http://127.0.0.1:%d/v2/" % port
    assert http(url)[0] == 200
    # Recreate the registry behind the same alias (a filler container takes the old address).
    docker("rm", "-f", dock.name("registry"))
    dock.run("filler", REGISTRY_IMAGE, args=["sh", "-c", "sleep 300"], network=net)
    dock.run("registry2", REGISTRY_IMAGE, network=net, alias="registry")
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        status = http(url)[0]
        if status == 200:
            break
        time.sleep(0.3)
    assert status == 200


def test_ui_includes_tls_server_block_from_conf_d(dock, tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run([
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout", str(certs / "tls.key"), "-out", str(certs / "tls.crt"),
    ], check=True, capture_output=True)
    tls_conf = tmp_path / "tls.conf"
    tls_conf.write_text(
        "server {\n"
        "    listen 443 ssl;\n"
        "    ssl_certificate /etc/nginx/certs/tls.crt;\n"
        "    ssl_certificate_key /etc/nginx/certs/tls.key;\n"
        "    location / { root /usr/share/nginx/html; index index.html; }\n"
        "}\n"
    )
    title = "TLS test %s" % uuid.uuid4().hex[:8]
    dummy, port = dock.run(
        "ui", UI_IMAGE, publish=443, scheme="https", wait_http="/", env={"REGISTRY_TITLE": title},
        volumes=["%s:/etc/nginx/conf.d/tls.conf:ro" % tls_conf, "%s:/etc/nginx/certs:ro" % certs],
    )
    url = "https://127.0.0.1:%d/" % port
    trusted = ssl.create_default_context(cafile=str(certs / "tls.crt"))
    status, dummy, body = http(url, context=trusted)
    assert status == 200
    assert ui_app_attributes(body.decode())["name"] == title
    # Negative controls: not trusted without the CA; plain HTTP on the TLS port refused.
    with pytest.raises(urllib.error.URLError) as excinfo:
        http(url, context=ssl.create_default_context())
    assert isinstance(excinfo.value.reason, ssl.SSLCertVerificationError)
    assert http("http://127.0.0.1:%d/" % port)[0] == 400


@pytest.mark.parametrize("value", ['say "hi"', "a^b", "a&b", "a\\b"])
def test_ui_refuses_header_values_the_real_image_breaks_on(dock, value):
    name, dummy = dock.run("ui", UI_IMAGE, env={
        "NGINX_PROXY_PASS_URL": "http://127.0.0.1:5000",
        "NGINX_PROXY_HEADER_Authorization": value,
    })
    rc = docker("wait", name, timeout=30).stdout.strip()
    assert rc != "0"
    logs = dock.logs(name)
    assert "NGINX_PROXY_HEADER_Authorization" in logs
    assert value not in logs


def test_ui_accepts_a_plain_header_value(dock):
    """Control for the test above: same variables, harmless value, nginx runs."""
    name, port = dock.run("ui", UI_IMAGE, publish=80, wait_http="/", env={
        "NGINX_PROXY_PASS_URL": "http://127.0.0.1:5000",
        "NGINX_PROXY_HEADER_Authorization": "Basic ZG9ja3lhcmQ6cGFzcw==",
    })
    assert docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"
    # Nothing listens on 5000 inside the UI container: the proxy answers 502.
    assert http("http://127.0.0.1:%d/v2/" % port)[0] == 502
