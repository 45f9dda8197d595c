// Decode comparison: times the Node library tiktok-live-connector (the version the conformance client
// installs, 2.0.7-beta1 by default) decoding the same push frames our Go BenchmarkDecodeFrame decodes,
// through its exported deserializeWebSocketMessage: push frame, gunzip, fetch result and each message
// with a schema into its typed value (its deserializeMessage recurses), as the library's client does.
//
//   go run ./cmd/tiktok-live-server bench -write-frames /tmp/frames.json
//   node scripts/node-decode-bench.mjs --frames /tmp/frames.json --lib-dir "$(../shared/conformance/node-client/run.sh --install-only)"
//   go run ./cmd/tiktok-live-server bench -decode-go /tmp/frames.json      # the Go figure, same format
//
// Prints one line per frame kind: "node plain|gzip  X µs/message (N frames of M messages)". One thread
// (gunzip runs on libuv's pool, awaited per frame, as the library does).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    frames: { type: 'string' }, 'lib-dir': { type: 'string' }, seconds: { type: 'string', default: '2' },
  },
});
if (!opt.frames || !opt['lib-dir']) {
  process.stderr.write('usage: node-decode-bench.mjs --frames FILE --lib-dir DIR [--seconds N]\n');
  process.exit(2);
}
const lib = createRequire(path.join(path.resolve(opt['lib-dir']), 'package.json'))('tiktok-live-connector');
const { deserializeWebSocketMessage } = lib;
if (typeof deserializeWebSocketMessage !== 'function') {
  process.stderr.write('this tiktok-live-connector does not export deserializeWebSocketMessage\n');
  process.exit(1);
}
const input = JSON.parse(readFileSync(opt.frames, 'utf8'));
const seconds = Number(opt.seconds);

// decodeAll decodes one frame; the library decodes every message with a schema into
// decodedData on the way (deserializeMessage of the fetch result recurses), as our Go decode does.
// It returns how many messages the frame held.
async function decodeAll(frame) {
  const f = await deserializeWebSocketMessage(frame);
  return f.protoMessageFetchResult?.messages?.length ?? 0;
}

for (const kind of ['plain', 'gzip']) {
  const frame = new Uint8Array(Buffer.from(input[kind], 'base64'));
  const n = await decodeAll(frame);
  if (n !== input.messages) {
    process.stderr.write(`${kind}: decoded ${n} messages, want ${input.messages}\n`);
    process.exit(1);
  }
  for (let i = 0; i < 200; i++) await decodeAll(frame); // warm the JIT
  let frames = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < end) {
    for (let i = 0; i < 50; i++) await decodeAll(frame);
    frames += 50;
    now = process.hrtime.bigint();
  }
  const us = Number(now - start) / 1e3 / (frames * input.messages);
  process.stdout.write(`node ${kind.padEnd(5)} ${us.toFixed(3).padStart(8)} µs/message (${frames} frames of ${input.messages} messages)\n`);
}
