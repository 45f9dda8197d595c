// Verify a Standard Webhooks v1 signature with Node's standard library only.
//
// verify() is what a receiver does; the main part lets the Go tests use it as an independent
// check. Input on stdin: JSON {secret, id, timestamp, signature, body_b64, now}.
// Output: {"ok": bool, "expected": "v1,..."}.
"use strict";
const crypto = require("node:crypto");

const TOLERANCE = 5 * 60;

function expectedSignature(secret, id, timestamp, body) {
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  return "v1," + crypto.createHmac("sha256", key).update(signed).digest("base64");
}

function verify(secret, id, timestamp, signatureHeader, body, now = Date.now() / 1000) {
  if (Math.abs(now - Number(timestamp)) > TOLERANCE) return false;
  const want = Buffer.from(expectedSignature(secret, id, timestamp, body));
  return signatureHeader.split(" ").some((s) => {
    const got = Buffer.from(s);
    return got.length === want.length && crypto.timingSafeEqual(got, want);
  });
}

let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const req = JSON.parse(input);
  const body = Buffer.from(req.body_b64, "base64");
  const ok = verify(req.secret, req.id, req.timestamp, req.signature, body, req.now);
  process.stdout.write(JSON.stringify({ ok, expected: expectedSignature(req.secret, req.id, req.timestamp, body) }));
});
