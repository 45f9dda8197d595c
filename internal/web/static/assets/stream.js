// EventStream is one WebSocket to /v1/ws that survives drops. It remembers, per room, the last
// (epoch, seq) it delivered; a reconnect asks the server to resume from there (since=, epoch=), so
// events sent while the socket was down arrive first, and an event is never delivered twice.
import { wsURL } from './params.js';

const MIN_DELAY = 250;
const MAX_DELAY = 10000;

export class EventStream {
  // opts: rooms (array of names), params (extra query: types, gifts), onEvent(ev), onReset(room,
  // ev) when the server could not resume (events were lost: reload state), onGap(room, from, to)
  // when a gap is seen without a resume answer, onStatus(state) with 'connecting', 'open', 'closed'.
  constructor(opts) {
    this.rooms = opts.rooms || [];
    this.params = opts.params || {};
    this.onEvent = opts.onEvent || (() => {});
    this.onReset = opts.onReset || (() => {});
    this.onGap = opts.onGap || null;
    this.onStatus = opts.onStatus || (() => {});
    this.state = new Map(); // room -> {epoch, seq}
    this.socket = null;
    this.stopped = true;
    this.delay = MIN_DELAY;
    this.timer = 0;
    this.opens = 0;
    this.held = false;
  }

  // hold(true) keeps a dropped socket from reconnecting until hold(false); tests use it to make
  // events happen while the page is away.
  hold(on) {
    this.held = !!on;
    if (!this.held && !this.socket && !this.stopped) {
      clearTimeout(this.timer);
      this.open();
    }
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) {
      const s = this.socket;
      this.socket = null;
      s.onclose = s.onmessage = s.onerror = s.onopen = null;
      s.close(1000, 'page left the room');
    }
  }

  lastSeq(room) {
    const st = this.state.get(room);
    return st ? st.seq : 0;
  }

  epoch(room) {
    const st = this.state.get(room);
    return st ? st.epoch : '';
  }

  url() {
    const q = { ...this.params };
    if (this.rooms.length) q.rooms = this.rooms.join(',');
    // Resume is per room: ask for it when this socket carries one room we have a position in.
    if (this.rooms.length === 1) {
      const st = this.state.get(this.rooms[0]);
      if (st && st.epoch && st.seq > 0) {
        q.since = st.seq;
        q.epoch = st.epoch;
      }
    }
    return wsURL('/v1/ws', q);
  }

  open() {
    if (this.stopped || this.held) return;
    this.onStatus('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.retry();
      return;
    }
    this.socket = ws;
    ws.onopen = () => {
      this.opens++;
      this.delay = MIN_DELAY;
      this.onStatus('open');
    };
    ws.onmessage = (m) => {
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch {
        return;
      }
      if (ev && typeof ev === 'object') this.handle(ev);
    };
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.socket = null;
      this.onStatus('closed');
      this.retry();
    };
    ws.onerror = () => {}; // onclose follows and retries
  }

  retry() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    // Jitter so many pages do not reconnect in lockstep after a server restart.
    const d = this.delay * (0.5 + Math.random() / 2);
    this.delay = Math.min(this.delay * 2, MAX_DELAY);
    this.timer = setTimeout(() => this.open(), d);
  }

  handle(ev) {
    const room = ev.username || '';
    if (ev.type === 'resume') {
      const d = ev.data || {};
      if (d.recovered === false) {
        // The missed events are gone (restart, or too far back): start over from here.
        this.state.set(room, { epoch: ev.epoch || '', seq: 0 });
        this.onReset(room, ev);
      } else if (ev.epoch) {
        const st = this.state.get(room);
        if (st) st.epoch = ev.epoch;
      }
      return;
    }
    const seq = typeof ev.seq === 'number' ? ev.seq : 0;
    if (room && seq > 0 && ev.epoch) {
      const st = this.state.get(room);
      if (st && st.epoch === ev.epoch) {
        if (seq <= st.seq) return; // already delivered
        if (this.onGap && st.seq > 0 && seq > st.seq + 1) this.onGap(room, st.seq + 1, seq - 1);
        st.seq = seq;
      } else {
        this.state.set(room, { epoch: ev.epoch, seq });
      }
    }
    this.onEvent(ev);
  }
}
