"""A test agent that speaks systemd's notify protocol.

Usage: notify_agent.py MODE [N]
  ready       READY=1, then WATCHDOG=1 at half of WATCHDOG_USEC, forever
  hang N      READY=1, N pings, then silence (a hang)
  no_ready    exits with code 4 before it is ready
  stubborn N  like hang, but ignores SIGTERM
"""

import os
import signal
import socket
import sys
import time


def notify(message):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), os.environ["NOTIFY_SOCKET"])


mode = sys.argv[1]
print(f"started {os.getpid()}", flush=True)
print(f"WATCHDOG_USEC={os.environ.get('WATCHDOG_USEC', '')}", flush=True)
if mode == "no_ready":
    print("failing before ready", file=sys.stderr, flush=True)
    sys.exit(4)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
notify("STATUS=warming up")
notify("READY=1\nSTATUS=serving")
interval = int(os.environ.get("WATCHDOG_USEC", "1000000")) / 2e6
pings = int(sys.argv[2]) if len(sys.argv) > 2 else None
while pings is None or pings > 0:
    notify("WATCHDOG=1")
    if pings is not None:
        pings -= 1
    time.sleep(interval)
while True:
    time.sleep(1)
