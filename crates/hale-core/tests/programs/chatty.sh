#!/bin/sh
# Writes to both streams, one line longer than Hale keeps, then waits.
echo "started $$"
echo "to stdout"
echo "to stderr" >&2
head -c 10000 /dev/zero | tr '\0' 'x'
echo
while :; do sleep 1; done
