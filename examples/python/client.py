#!/usr/bin/env python3
"""A small client of tiktok-live-server in plain Python 3 (standard library only).

It prints one room's chat messages and completed gifts from the Server-Sent Events stream
(/v1/events), and after a dropped connection it resumes exactly where it stopped, by sending the
last event's id back in the Last-Event-ID header.
Run: python3 examples/python/client.py --room streamer
"""
import argparse
import json
import os
import signal
import sys
import time
import urllib.parse
import urllib.request

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--server", default=os.environ.get("SERVER", "http://127.0.0.1:3000"))
p.add_argument("--room", default=os.environ.get("ROOM", "streamer"))
p.add_argument("--max-events", type=int, default=0, help="exit after this many events (0: never)")
p.add_argument("--drop-after", type=int, default=0, help="drop the connection once after this many")
args = p.parse_args()
signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl+C: just stop, no traceback
url = f"{args.server}/v1/events?types=chat,gift&gifts=final&rooms={urllib.parse.quote(args.room)}"


def log(*what):  # status lines go to stderr, events to stdout
    print(*what, file=sys.stderr, flush=True)


def events(resp):
    """Yields (id, event, data) for each SSE event: "field: value" lines, ended by a blank line."""
    fields = {}
    for raw in resp:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if "data" in fields:
                yield fields.get("id"), fields.get("event"), fields["data"]
            fields = {}
        elif not line.startswith(":"):  # a line starting with ":" is a comment (keep-alive ping)
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            fields[name] = fields[name] + "\n" + value if name in fields else value


last_id = None  # id of the last event received ("room:seq:epoch"): where to resume from
count = 0
while True:
    req = urllib.request.Request(url, headers={"Last-Event-ID": last_id} if last_id else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:  # the server pings every 15 s
            log("connected")
            for event_id, kind, data in events(resp):
                ev = json.loads(data)
                if kind == "resume":  # first event after a reconnect with Last-Event-ID
                    d = ev["data"]  # recovered false: events were lost; a real app reloads here
                    log(f"resumed after seq {d['since']} (recovered: {str(d['recovered']).lower()}, missed: {d['missed']})")
                    continue
                if kind == "close":  # the server closes the stream (say it shuts down)
                    log(f"closed by the server: {data}")
                    break
                last_id = event_id or last_id
                d = ev["data"]
                text = f"{d['giftName']} x{d['repeatCount']}" if ev["type"] == "gift" else d.get("comment", "")
                print(ev["seq"], ev["type"], d.get("sender", ""), text, flush=True)
                count += 1
                if count == args.max_events:
                    sys.exit(0)
                if count == args.drop_after:
                    log("dropping the connection (--drop-after)")
                    break  # leaving the "with" block closes the connection
    except OSError as err:  # refused, reset, timed out...
        log(f"connection lost ({err})")
    time.sleep(1)  # a pause before reconnecting, as any client should
