#!/bin/sh
# Crashes (exit 1) on its first run, when the marker file $1 does not exist
# yet; every later run creates nothing and stays up.
echo "started $$"
if [ ! -e "$1" ]; then
    : > "$1"
    exit 1
fi
while :; do sleep 1; done
