#!/bin/sh
# Says it started, waits until the file $1 exists, then exits with code $2.
echo "started $$"
while [ ! -e "$1" ]; do sleep 0.02; done
exit "$2"
