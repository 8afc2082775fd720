#!/bin/sh
# Writes $1 lines, then goes silent for good (a hang, seen through output).
# With a second argument `stubborn`, it (and the sleep it runs) ignores
# SIGTERM, so only SIGKILL ends it.
if [ "$2" = stubborn ]; then trap '' TERM; fi
echo "started $$"
i=0
while [ "$i" -lt "$1" ]; do
    echo "tick $i"
    i=$((i + 1))
    sleep 0.05
done
exec sleep 1000
