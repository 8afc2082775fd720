"""A worker agent for examples/process_agents.rs, supervised by Hale.

Usage: agent.py NAME INBOX OUTBOX [--ignore-sigterm]

It speaks systemd's notify protocol: READY=1 once it is up, WATCHDOG=1
while it makes progress, STATUS=... as it goes. It takes jobs from INBOX
(one file per job, holding the fault the chaos plan chose for it: ok,
crash or hang) and writes each result to OUTBOX. A "crash" job makes it
exit with code 3; a "hang" job makes it stop making progress (and stop
pinging the watchdog) for good.
"""

import os
import signal
import socket
import sys
import time

name, inbox, outbox = sys.argv[1:4]
if "--ignore-sigterm" in sys.argv:
    # Deaf to SIGTERM: only the watchdog's SIGKILL after its grace ends it.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def notify(message):
    path = os.environ.get("NOTIFY_SOCKET")
    if path:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), path)


print(f"{name} started, pid {os.getpid()}", flush=True)
notify("READY=1\nSTATUS=waiting for jobs")
done = 0
while True:
    notify("WATCHDOG=1")
    for job in sorted(os.listdir(inbox)):
        path = os.path.join(inbox, job)
        try:
            with open(path) as file:
                fault = file.read().strip()
            os.remove(path)  # claimed: a crash from here on loses the job
        except FileNotFoundError:
            continue
        if fault == "crash":
            print(f"{name}: crashing on {job}", file=sys.stderr, flush=True)
            sys.exit(3)
        if fault == "hang":
            print(f"{name}: stuck on {job}", flush=True)
            while True:
                time.sleep(1)
        result = os.path.join(outbox, job)
        with open(result + ".tmp", "w") as file:
            file.write(f"{name} handled {job}\n")
        os.rename(result + ".tmp", result)
        done += 1
        notify(f"WATCHDOG=1\nSTATUS={done} jobs done")
    time.sleep(0.01)
