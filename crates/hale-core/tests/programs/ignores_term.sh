#!/bin/sh
# Ignores SIGTERM (and so does the sleep it runs: ignored signals survive
# exec), says it started, and waits to be killed.
trap '' TERM
echo "started $$"
while :; do sleep 1; done
