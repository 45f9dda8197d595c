// Receives tiktok-live-server webhooks and checks their signature (Node 18+, standard library).
// WEBHOOK_SECRET=whsec_... node receiver.mjs [port]
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

const key = Buffer.from(process.env.WEBHOOK_SECRET.replace(/^whsec_/, ""), "base64");
const seen = new Set(); // webhook-ids handled: a retry repeats the id

function verified(headers, body) {
  const id = headers["webhook-id"], ts = headers["webhook-timestamp"] ?? "", sigs = headers["webhook-signature"] ?? "";
  if (!id || !/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false; // no replays
  const mac = createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest("base64");
  const want = Buffer.from(`v1,${mac}`);
  return sigs.split(" ").some((s) => { // two during a rotation
    const got = Buffer.from(s);
    return got.length === want.length && timingSafeEqual(got, want);
  });
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    if (!verified(req.headers, body)) return res.writeHead(401).end();
    if (!seen.has(req.headers["webhook-id"])) {
      seen.add(req.headers["webhook-id"]);
      const hook = JSON.parse(body);
      console.log(hook.type, JSON.stringify(hook.data));
    }
    res.writeHead(204).end(); // any 2xx: delivered; anything else is retried
  });
});
server.listen(Number(process.argv[2] ?? 8000), "127.0.0.1", () =>
  console.log(`listening on http://127.0.0.1:${server.address().port}`));
