#!/bin/sh
# Same dispatch as the official registry image's entrypoint:
#   registry config file (*.yml / *.yaml)  -> registry serve ARGS
#   serve, garbage-collect, help, -flags    -> registry ARGS
#   anything else (sh, wget, ...)           -> run it as given
set -e
case "$1" in
    *.yaml|*.yml) set -- /bin/registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- /bin/registry "$@" ;;
esac
exec "$@"
