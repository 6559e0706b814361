#!/bin/sh
# Entrypoint of the local redis stand-in (.ci/images/redis): like the official image, a command
# that starts with an option or a .conf file is given to redis-server; exec keeps redis PID 1.
set -eu
case ${1:-} in
    -* | *.conf) set -- redis-server "$@" ;;
esac
exec "$@"
