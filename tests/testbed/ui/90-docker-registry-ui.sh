#!/bin/sh
# Test-bed stand-in for joxit/docker-registry-ui 2.6.0's
# /docker-entrypoint.d/90-docker-registry-ui.sh: turns the image's documented
# environment into the nginx server block and the attributes of the app element
# in index.html, ONCE, at the container's first start (a restarted container
# keeps what it generated; a changed environment needs a recreated container,
# as with the real image).
#
#   NGINX_LISTEN_PORT               port of the UI server block (default 80)
#   NGINX_PROXY_PASS_URL            non-empty: add "location /v2" proxying there
#   NGINX_PROXY_HEADER_<Name>       proxy_set_header <Name, _ -> -> "<value>"
#   NGINX_PROXY_PASS_HEADER_<Name>  proxy_pass_header <Name, _ -> ->
#   NGINX_RESOLVER                  resolver for the proxied host name
#   REGISTRY_TITLE, REGISTRY_URL, SINGLE_REGISTRY, DELETE_IMAGES, ...,
#   DOCKER_REGISTRY_UI_TITLE, ENABLE_VERSION_NOTIFICATION: attributes of the
#                                   <docker-registry-ui> element of index.html
# As the real image: NGINX_PROXY_HEADER_* and NGINX_PROXY_PASS_HEADER_* may also
# come from /etc/nginx/.env (NAME=value lines); a user other than root moves
# the default port 80 to 8080.
# Header values are never printed: they often carry credentials.
set -eu

conf=/etc/nginx/conf.d/default.conf
page=/usr/share/nginx/html/index.html
me=90-docker-registry-ui.sh

fail() {
    echo "$me: $*" >&2
    exit 1
}

# NAME=value lines from the environment, then from /etc/nginx/.env.
all_vars() {
    env
    if [ -f /etc/nginx/.env ]; then
        cat /etc/nginx/.env
        echo
    fi
}

# proxy_set_header / proxy_pass_header lines for every variable with prefix $1.
header_lines() {
    prefix=$1
    all_vars | while IFS= read -r line; do
        case "$line" in
            "$prefix"*=*) ;;
            *) continue ;;
        esac
        name=${line%%=*}
        value=${line#*=}
        header=$(printf '%s' "${name#"$prefix"}" | tr _ -)
        case "$header" in
            ''|*[!A-Za-z0-9-]*) fail "$name: '$header' is not a valid header name" ;;
        esac
        if [ "$prefix" = NGINX_PROXY_PASS_HEADER_ ]; then
            printf '        proxy_pass_header "%s";\n' "$header"
            continue
        fi
        # The real image pastes values into its config with sed (delimiter ^)
        # inside double quotes: these characters leave it with a broken config
        # and a container that does not start. Fail the same way, but clearly.
        case "$value" in
            *'"'*|*'^'*|*'&'*|*\\*)
                fail "$name: the value contains one of \" ^ & \\ which joxit/docker-registry-ui 2.x cannot put into its nginx config (value not shown)" ;;
        esac
        printf '        proxy_set_header %s "%s";\n' "$header" "$value"
    done
}

render_conf() {
    port=${NGINX_LISTEN_PORT:-80}
    if [ "$(id -u)" != 0 ] && [ "$port" = 80 ]; then
        port=8080
    fi
    # Joxit puts the value into `listen` as it is: a port, or an address and a port (127.0.0.1:80).
    case "${port##*:}" in
        ''|*[!0-9]*) fail "NGINX_LISTEN_PORT must be a port or ADDRESS:PORT, got '$port'" ;;
    esac
    url=${NGINX_PROXY_PASS_URL:-}
    resolver=${NGINX_RESOLVER:-}
    headers=''
    pass_headers=''
    if [ -n "$url" ]; then
        case "$url" in
            http://*|https://*) ;;
            *) fail "NGINX_PROXY_PASS_URL must start with http:// or https://, got '$url'" ;;
        esac
        headers=$(header_lines NGINX_PROXY_HEADER_) || exit 1
        pass_headers=$(header_lines NGINX_PROXY_PASS_HEADER_) || exit 1
    fi

    echo "server {"
    echo "    listen       $port;"
    echo "    server_name  localhost;"
    if [ -n "$url" ] && [ -n "$resolver" ]; then
        echo "    resolver $resolver;"
    fi
    cat <<'CONF'

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }
CONF
    if [ -n "$url" ]; then
        cat <<'CONF'

    location /v2 {
        # Like the real image: refuse docker 1.5 and older and bare Go clients.
        if ($http_user_agent ~ "^(docker\/1\.(3|4|5(?!\.[0-9]-dev))|Go ).*$" ) {
            return 404;
        }
        # Image layers: no size limit, no buffering, chunked uploads.
        client_max_body_size 0;
        chunked_transfer_encoding on;
        proxy_request_buffering off;
        proxy_buffering off;
        proxy_ignore_headers "X-Accel-Buffering";
        proxy_ssl_server_name on;
        proxy_http_version 1.1;
CONF
        [ -z "$headers" ] || printf '%s\n' "$headers"
        [ -z "$pass_headers" ] || printf '%s\n' "$pass_headers"
        if [ -n "$resolver" ]; then
            # A variable makes nginx resolve the name per request through the
            # resolver, so a recreated registry container is found again.
            echo "        set \$registry_upstream \"$url\";"
            echo "        proxy_pass \$registry_upstream;"
        else
            echo "        proxy_pass $url;"
        fi
        echo "    }"
    fi
    cat <<'CONF'

    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
CONF
}

# The page, as the real script makes it: every ${NAME} placeholder of index.html (the attributes
# of the app element) becomes the variable's value, an unset one an empty string; DELETE_IMAGES
# becomes true unless it is empty or "false". A page without placeholders (a restarted container)
# is left as it is.
render_page() {
    # shellcheck disable=SC2013  # placeholder names are single words
    for name in $(grep -o '[$]{[A-Z_]*}' "$page" | sed 's/^..//; s/.$//' | sort -u); do
        if [ "$name" = DELETE_IMAGES ]; then
            case "${DELETE_IMAGES:-}" in
                ''|false) value=false ;;
                *) value=true ;;
            esac
        else
            # (no printenv in busybox-static; $name is [A-Z_]+, from the grep above)
            eval "value=\${$name:-}"
        fi
        # The real script pastes values with sed (delimiter ~) the same way.
        sed -i "s~[$]{$name}~$value~g" "$page"
    done
}

# Only files still as shipped are (re)generated: a restarted container keeps
# its first configuration, and a directory mounted over conf.d is left alone.
if [ -f "$conf" ] && grep -q '^# dockyard-ui: pristine' "$conf"; then
    new=$(render_conf) || exit 1
    printf '%s\n' "$new" > "$conf"
    if [ -n "${NGINX_PROXY_PASS_URL:-}" ]; then
        echo "$me: wrote $conf with a /v2 proxy"
    else
        echo "$me: wrote $conf without a /v2 proxy"
    fi
fi
if [ -f "$page" ] && grep -q '[$]{[A-Z_]*}' "$page"; then
    render_page
fi
# Not root: no `user` directive, the pid file where this user may write it (as the real script).
if [ "$(id -u)" != 0 ] && [ -w /etc/nginx/nginx.conf ]; then
    sed -i -e '/^user  nginx;/d' -e 's,^pid .*,pid        /tmp/nginx.pid;,' /etc/nginx/nginx.conf
fi
