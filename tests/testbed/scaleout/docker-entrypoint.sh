#!/bin/sh
# As the official haproxy image's entry point: options alone run haproxy with them; `haproxy ...`
# runs in master-worker mode in the foreground (-W -db); anything else runs as given.
set -e
if [ "${1#-}" != "$1" ]; then
	set -- haproxy "$@"
fi
if [ "$1" = haproxy ]; then
	shift
	set -- haproxy -W -db "$@"
fi
exec "$@"
