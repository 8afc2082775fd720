#!/bin/sh
# Starts a grandchild (`sleep`, in the background, in the same process group),
# says so, then either exits at once ($1 = exit) or waits ($1 = stay).
sleep 1000 &
echo "grandchild $!"
echo "started $$"
if [ "$1" = exit ]; then exit 0; fi
wait
