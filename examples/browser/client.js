// Connects to /v1/ws, shows each chat message and completed gift as one line, and after a dropped
// connection resumes where it stopped (since=<last seq>&epoch=<its epoch>): nothing lost, nothing twice.
// Page parameters: ?server=URL&room=NAME, and for tests max-events=N (stop after N events) and
// drop-after=K (drop the connection once after K events, to show resuming).
const params = new URLSearchParams(location.search);
const server = params.get('server') || 'http://127.0.0.1:3000';
const room = params.get('room') || 'streamer';
const maxEvents = Number(params.get('max-events')) || 0;
const dropAfter = Number(params.get('drop-after')) || 0;

const list = document.getElementById('events');
const status = (text) => { document.getElementById('status').textContent += text + '\n'; };
document.getElementById('room').textContent = room; // textContent, never innerHTML: no HTML injection

let lastSeq = 0, epoch = ''; // the last event shown: where to resume from
let count = 0;

function connect() {
  const url = new URL('/v1/ws', server.replace(/^http/, 'ws'));
  url.search = new URLSearchParams({ rooms: room, types: 'chat,gift', gifts: 'final' });
  if (epoch) { // we have seen events: ask for everything after the last one
    url.searchParams.set('since', lastSeq);
    url.searchParams.set('epoch', epoch);
  }
  const ws = new WebSocket(url);
  ws.onopen = () => status('connected');
  ws.onmessage = (msg) => {
    if (ws.readyState !== WebSocket.OPEN) return; // we are closing this one: ignore the rest
    const ev = JSON.parse(msg.data);
    if (ev.type === 'resume') { // first message after a reconnect with since/epoch
      const { recovered, since, missed } = ev.data;
      status(`resumed after seq ${since} (recovered: ${recovered}, missed: ${missed})`);
      if (!recovered) { lastSeq = 0; epoch = ev.epoch; } // a new stream; a real app reloads here
      return;
    }
    lastSeq = ev.seq;
    epoch = ev.epoch;
    const text = ev.type === 'gift' ? `${ev.data.giftName} x${ev.data.repeatCount}` : ev.data.comment;
    const li = document.createElement('li');
    li.textContent = `${ev.seq} ${ev.type} ${ev.data.sender} ${text}`;
    list.append(li);
    count++;
    if (count === maxEvents) {
      ws.onclose = null; // no reconnect
      ws.close();
      status('done');
    } else if (count === dropAfter) {
      status('dropping the connection (drop-after)');
      ws.close();
    }
  };
  ws.onclose = () => {
    status('connection lost, resuming in 1s');
    setTimeout(connect, 1000); // a pause before reconnecting, as any client should
  };
}

connect();
