#!/bin/sh
# Spins on the CPU until a CPU-time limit ends it.
echo "started $$"
while :; do :; done
