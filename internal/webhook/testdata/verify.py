#!/usr/bin/env python3
"""Verify a Standard Webhooks v1 signature with Python's standard library only.

verify() is what a receiver does; the main part lets the Go tests use it as an independent check.
Input on stdin: JSON {"secret", "id", "timestamp", "signature", "body_b64", "now"}.
Output: {"ok": bool, "expected": "v1,..."}.
"""
import base64
import hashlib
import hmac
import json
import sys
import time

TOLERANCE = 5 * 60


def expected_signature(secret, msg_id, timestamp, body):
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify(secret, msg_id, timestamp, signature_header, body, now=None):
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > TOLERANCE:
        return False
    want = expected_signature(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(want, s) for s in signature_header.split(" "))


if __name__ == "__main__":
    req = json.load(sys.stdin)
    body = base64.b64decode(req["body_b64"])
    ok = verify(req["secret"], req["id"], req["timestamp"], req["signature"], body, req["now"])
    json.dump({"ok": ok, "expected": expected_signature(req["secret"], req["id"], req["timestamp"], body)}, sys.stdout)
