# Receives tiktok-live-server webhooks and checks their signature (Python 3.9+, standard library).
# WEBHOOK_SECRET=whsec_... python3 receiver.py [port]
import base64, hashlib, hmac, json, os, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

KEY = base64.b64decode(os.environ["WEBHOOK_SECRET"].removeprefix("whsec_"))
seen = set()  # webhook-ids handled: a retry repeats the id


def verified(headers, body):
    msg_id, ts, sigs = headers.get("webhook-id"), headers.get("webhook-timestamp", ""), headers.get("webhook-signature", "")
    if not msg_id or not ts.isdigit() or abs(time.time() - int(ts)) > 300:  # 5 minutes: no replays
        return False
    mac = hmac.new(KEY, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    want = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(want, s) for s in sigs.split())  # two during a rotation


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if not verified(self.headers, body):
            self.send_response(401)
        else:
            if self.headers["webhook-id"] not in seen:
                seen.add(self.headers["webhook-id"])
                hook = json.loads(body)
                print(hook["type"], json.dumps(hook["data"]), flush=True)
            self.send_response(204)  # any 2xx: delivered; anything else is retried
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8000), Handler)
print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
