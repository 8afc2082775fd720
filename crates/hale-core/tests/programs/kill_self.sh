#!/bin/sh
# Says it started, then ends itself with the signal named by $1.
echo "started $$"
kill -s "$1" $$
sleep 5
