#!/bin/sh
# Like the nginx image's entrypoint: when the command is nginx, run the
# executable /docker-entrypoint.d/*.sh scripts in order (a failing script
# stops the container), then exec the command.
set -e
case "$1" in
    nginx|nginx-debug)
        for script in /docker-entrypoint.d/*.sh; do
            if [ ! -f "$script" ] || [ ! -x "$script" ]; then continue; fi
            echo "$0: running $script"
            "$script"
        done
        echo "$0: configuration complete; ready for start up"
        ;;
esac
exec "$@"
