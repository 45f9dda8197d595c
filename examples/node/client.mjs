// A small client of tiktok-live-server for Node 20+, with no dependencies: it prints one room's chat
// messages and completed gifts from the Server-Sent Events stream (/v1/events), and after a dropped
// connection it resumes exactly where it stopped, with the Last-Event-ID header.
// Run: node examples/node/client.mjs --room streamer
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const { values: opt } = parseArgs({
  options: {
    server: { type: 'string', default: process.env.SERVER ?? 'http://127.0.0.1:3000' },
    room: { type: 'string', default: process.env.ROOM ?? 'streamer' },
    'max-events': { type: 'string', default: '0' }, // exit after this many events (0: never)
    'drop-after': { type: 'string', default: '0' }, // drop the connection once after this many, to show resuming
  },
});
const maxEvents = Number(opt['max-events']);
const dropAfter = Number(opt['drop-after']);
const url = `${opt.server}/v1/events?types=chat,gift&gifts=final&rooms=${encodeURIComponent(opt.room)}`;

let lastId = ''; // id of the last event received ("room:seq:epoch"): where to resume from
let count = 0;
let done = false;

// handle is called with each complete SSE event; it returns false to end this connection.
function handle({ id, event, data }) {
  const ev = JSON.parse(data);
  if (event === 'resume') { // first event after a reconnect with Last-Event-ID
    const { recovered, since, missed } = ev.data;
    console.error(`resumed after seq ${since} (recovered: ${recovered}, missed: ${missed})`);
    return true; // recovered false: events were lost (say the server restarted); a real app reloads here
  }
  if (event === 'close') { // the server closes the stream (say it shuts down)
    console.error(`closed by the server: ${data}`);
    return false;
  }
  if (id) lastId = id;
  const text = ev.type === 'gift' ? `${ev.data.giftName} x${ev.data.repeatCount}` : ev.data.comment;
  console.log(ev.seq, ev.type, ev.data.sender, text);
  count++;
  if (count === maxEvents) {
    done = true;
    return false;
  }
  if (count === dropAfter) {
    console.error('dropping the connection (--drop-after)');
    return false;
  }
  return true;
}

while (!done) {
  const abort = new AbortController();
  try {
    const res = await fetch(url, { headers: lastId ? { 'Last-Event-ID': lastId } : {}, signal: abort.signal });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    console.error('connected');
    // SSE is text: "field: value" lines, and a blank line ends an event.
    let buffered = '', fields = {};
    read: for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).replace(/\r$/, '');
        buffered = buffered.slice(nl + 1);
        if (line === '') {
          if (fields.data !== undefined && !handle(fields)) break read;
          fields = {};
        } else if (!line.startsWith(':')) { // lines starting with ':' are comments (keep-alive pings)
          const [, name, value] = line.match(/^([^:]*):? ?(.*)$/);
          fields[name] = fields[name] === undefined ? value : fields[name] + '\n' + value;
        }
      }
    }
    abort.abort(); // we stopped reading (or the server ended the stream): close the connection
  } catch (err) {
    console.error(`connection lost (${err.message})`);
  }
  if (!done) await sleep(1000); // a pause before reconnecting, as any client should
}
