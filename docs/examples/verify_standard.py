"""Verifies a hookd `standard` (Standard Webhooks v1) signature with
Python's standard library. Usage: python3 verify_standard.py SECRET <
saved-body, with the headers in WEBHOOK_ID, WEBHOOK_TIMESTAMP and
WEBHOOK_SIGNATURE."""
import base64
import hashlib
import hmac
import os
import sys
import time


def verify_standard(secret, headers, body, tolerance_seconds=300):
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not (msg_id and ts and sigs):
        raise ValueError("missing webhook-id, webhook-timestamp or webhook-signature")
    if abs(time.time() - int(ts)) > tolerance_seconds:
        raise ValueError("timestamp outside the tolerance")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    # body must be the raw bytes received, never re-serialised JSON.
    expected = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    for entry in sigs.split(" "):
        version, _, b64 = entry.partition(",")
        if version == "v1" and hmac.compare_digest(base64.b64decode(b64), expected):
            return True
    raise ValueError("no signature matches")


if __name__ == "__main__":
    headers = {
        "webhook-id": os.environ.get("WEBHOOK_ID"),
        "webhook-timestamp": os.environ.get("WEBHOOK_TIMESTAMP"),
        "webhook-signature": os.environ.get("WEBHOOK_SIGNATURE"),
    }
    try:
        verify_standard(sys.argv[1], headers, sys.stdin.buffer.read())
        print("OK")
    except ValueError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
