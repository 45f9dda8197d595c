// The dashboard: connect and disconnect rooms, their state in words, counters, a live feed with
// filters and pause, gift streaks growing in place, a viewer chart, leaderboards and past sessions.
import { call, get, roomPath, errorText } from './api.js';
import { EventStream } from './stream.js';
import { h, clear, avatar, displayName, fmtInt, fmtTime, fmtDateTime, describeState } from './dom.js';
import { describe, group, groups, giftText } from './describe.js';
import { ViewerChart } from './chart.js';
import { renderSummary, endText } from './summary.js';
import { normalizeRoom, roomParam } from './params.js';

const POLL_MS = 1500;
const FEED_MAX = 400; // rows kept in the feed
const BUFFER_MAX = 5000; // events held while paused
const SEQ_LOG_MAX = 20000;

const $ = (id) => document.getElementById(id);

const ui = {
  form: $('connect-form'),
  input: $('username'),
  formMsg: $('form-msg'),
  roomList: $('room-list'),
  noRooms: $('no-rooms'),
  view: $('room-view'),
  title: $('room-title'),
  state: $('room-state'),
  error: $('room-error'),
  disconnect: $('disconnect'),
  feed: $('feed'),
  filters: $('filters'),
  pause: $('pause'),
  buffered: $('buffered'),
  chart: new ViewerChart($('chart')),
  gifters: $('top-gifters'),
  likers: $('top-likers'),
  giftersSrc: $('gifters-src'),
  likersSrc: $('likers-src'),
  sessions: $('sessions'),
  sessionsMsg: $('sessions-msg'),
  summary: $('summary'),
  overlayLinks: $('overlay-links'),
  socketState: $('socket-state'),
};

// state of the page
let statuses = []; // last GET /v1/rooms answer
let selected = ''; // the room shown
let stream = null;
let paused = false;
let buffer = [];
const shown = new Set(groups.map(([g]) => g).filter((g) => g !== 'roomUser'));
const streakRows = new Map(); // room|streakId|user -> row
const counters = { viewers: 0, likes: 0, diamonds: 0, follows: 0, shares: 0 };
const gifters = new Map(); // user key -> {user, value}
const likers = new Map();
const server = { gifters: null, likers: null }; // server leaderboards when the route exists
const seqLog = new Map(); // room -> seqs delivered, in order (for tests and the gap check)

// ---- connect form ----

ui.form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = normalizeRoom(ui.input.value);
  if (!name) {
    say('That is not a TikTok username: use letters, digits, "_" and "." (e.g. @someone).', true);
    return;
  }
  say('Connecting ' + name + '…');
  const res = await call('PUT', roomPath(name));
  if (!res.ok) {
    say('Could not connect ' + name + ': ' + errorText(res), true);
    return;
  }
  say(res.status === 201 ? 'Watching ' + name + '.' : name + ' was already watched.');
  ui.input.value = '';
  select(name);
  poll();
});

function say(text, bad = false) {
  ui.formMsg.textContent = text;
  ui.formMsg.classList.toggle('bad', bad);
}

ui.disconnect.addEventListener('click', async () => {
  if (!selected) return;
  const name = selected;
  const res = await call('DELETE', roomPath(name));
  say(res.ok ? 'Disconnected ' + name + '.' : 'Could not disconnect ' + name + ': ' + errorText(res), !res.ok);
  poll();
});

// ---- rooms and their state ----

async function poll() {
  const res = await get('/v1/rooms');
  if (!res.ok || !res.body || !Array.isArray(res.body.rooms)) {
    ui.socketState.textContent = 'server unreachable';
    return;
  }
  statuses = res.body.rooms;
  if (!selected) {
    const want = roomParam();
    const pick = statuses.find((s) => s.username === want) || statuses.find((s) => s.state !== 'stopped');
    if (pick) select(pick.username);
  }
  const st = statuses.find((s) => s.username === selected);
  if (st) {
    Object.assign(counters, pickCounters(st.counters));
    renderCounters();
    // Before TikTok's first viewer count the counter is 0, which is not a measurement.
    if (st.state === 'connected' && st.counters && st.counters.viewers > 0) ui.chart.add(Date.now(), st.counters.viewers);
  }
  renderRooms();
}

function pickCounters(c) {
  const out = {};
  if (!c) return out;
  for (const k of Object.keys(counters)) if (typeof c[k] === 'number') out[k] = c[k];
  return out;
}

function renderRooms() {
  const now = Date.now();
  clear(ui.roomList);
  ui.noRooms.hidden = statuses.length > 0;
  for (const st of statuses) {
    const li = h(
      'li',
      { class: 'room' + (st.username === selected ? ' selected' : ''), dataset: { room: st.username, state: st.state } },
      h('button', { type: 'button', class: 'link', text: '@' + st.username }),
      h('span', { class: 'state state-' + st.state, text: describeState(st, now) }),
    );
    li.querySelector('button').addEventListener('click', () => select(st.username));
    ui.roomList.append(li);
  }
  const st = statuses.find((s) => s.username === selected);
  if (st) {
    ui.state.textContent = describeState(st, now);
    ui.state.dataset.state = st.state;
    const err = st.lastError && st.lastError.message ? 'last error: ' + st.lastError.message : '';
    ui.error.hidden = !err || st.state === 'connected';
    ui.error.textContent = err;
    ui.disconnect.disabled = st.state === 'stopped';
  } else if (selected) {
    ui.state.textContent = 'not watched';
    ui.disconnect.disabled = true;
  }
}

function renderCounters() {
  for (const [k, v] of Object.entries(counters)) {
    const el = $('c-' + k);
    if (el) el.textContent = fmtInt(v);
  }
}

// ---- the selected room ----

function select(name) {
  if (name === selected) return;
  if (stream) stream.stop();
  selected = name;
  const u = new URL(location.href);
  u.searchParams.set('room', name);
  history.replaceState(null, '', u.pathname + u.search);
  ui.view.hidden = false;
  ui.title.textContent = '@' + name;
  resetRoom();
  ui.chart.reset();
  renderOverlayLinks(name);
  stream = new EventStream({
    rooms: [name],
    onEvent: onEvent,
    onReset: () => {
      resetRoom();
      poll();
    },
    onGap: (room, from, to) => {
      // Without server resume the missed events cannot be fetched; the counters come from polling.
      addRow({ type: 'gap', username: room, seq: 0, data: {} }, 'missed events ' + from + '–' + to);
      poll();
    },
    onStatus: (s) => {
      ui.socketState.dataset.state = s;
      ui.socketState.textContent = s === 'open' ? 'live' : s === 'connecting' ? 'connecting…' : 'reconnecting…';
    },
  });
  stream.start();
  renderRooms();
}

function resetRoom() {
  seqLog.delete(selected);
  clear(ui.feed);
  buffer = [];
  streakRows.clear();
  gifters.clear();
  likers.clear();
  for (const k of Object.keys(counters)) counters[k] = 0;
  renderCounters();
  renderPauseState();
  loadBoards();
  loadSessions();
}

function onEvent(ev) {
  if (ev.username !== selected) return;
  logSeq(ev);
  tally(ev);
  if (paused) {
    buffer.push(ev);
    if (buffer.length > BUFFER_MAX) buffer.splice(0, buffer.length - BUFFER_MAX);
    renderPauseState();
    return;
  }
  showEvent(ev);
}

function logSeq(ev) {
  if (!ev.seq) return;
  let log = seqLog.get(ev.username);
  if (!log) seqLog.set(ev.username, (log = []));
  log.push(ev.seq);
  if (log.length > SEQ_LOG_MAX) log.splice(0, log.length - SEQ_LOG_MAX);
}

// tally updates counters, chart and leaderboards from one event (also while the feed is paused).
function tally(ev) {
  const d = ev.data || {};
  const final = ev.type === 'gift' && (d.streakState === 'final' || d.streakState === 'single');
  switch (ev.type) {
    case 'roomUser':
      if (typeof d.viewerCount === 'number') {
        counters.viewers = d.viewerCount;
        ui.chart.add(Date.parse(ev.time) || Date.now(), d.viewerCount);
      }
      break;
    case 'like':
      if (typeof d.totalLikeCount === 'number' && d.totalLikeCount > counters.likes) counters.likes = d.totalLikeCount;
      else if (typeof d.likeCount === 'number') counters.likes += d.likeCount;
      bump(likers, d.user, d.likeCount || 0);
      renderBoards();
      break;
    case 'gift':
      if (final) {
        counters.diamonds += d.totalDiamonds || 0;
        bump(gifters, d.user, d.totalDiamonds || 0);
        renderBoards();
      }
      break;
    case 'social':
      if (d.action === 'follow') counters.follows++;
      if (d.action === 'share') counters.shares++;
      break;
    case 'connection_closed':
    case 'connection_created':
    case 'disconnected':
    case 'reconnecting':
    case 'live_started':
    case 'live_ended':
      poll();
      break;
  }
  renderCounters();
}

function userKey(u) {
  return (u && (u.userId || u.uniqueId || u.nickname)) || '';
}

function bump(board, user, n) {
  const key = userKey(user);
  if (!key || !n) return;
  const e = board.get(key) || { user, value: 0 };
  e.user = user;
  e.value += n;
  board.set(key, e);
}

// ---- feed ----

function typeShown(type) {
  return shown.has(group(type));
}

function showEvent(ev) {
  const d = ev.data || {};
  if (ev.type === 'gift' && d.streakId && d.streakState !== 'single') {
    const key = ev.username + '|' + d.streakId + '|' + userKey(d.user);
    const row = streakRows.get(key);
    if (row && row.isConnected) {
      row.querySelector('.what').textContent = giftText(d);
      row.dataset.seqs += ' ' + ev.seq;
      row.dataset.streak = d.streakState;
      row.dataset.repeat = String(d.repeatCount || 0);
      row.classList.toggle('settled', d.streakState === 'final');
      if (d.streakState === 'final') streakRows.delete(key);
      return;
    }
    const li = addRow(ev);
    if (li && d.streakState === 'progress') streakRows.set(key, li);
    return;
  }
  addRow(ev);
}

function addRow(ev, text) {
  const d = ev.data || {};
  const { who, what } = text ? { who: '', what: text } : describe(ev);
  const li = h(
    'li',
    {
      class: 'ev ev-' + group(ev.type) + (ev.history ? ' history' : ''),
      dataset: { seq: String(ev.seq || 0), seqs: String(ev.seq || 0), type: ev.type, room: ev.username || '' },
    },
    d.user && who ? avatar(d.user) : h('span', { class: 'avatar sys', 'aria-hidden': 'true', text: '•' }),
    h('time', { text: fmtTime(ev.time), datetime: ev.time || '' }),
    who ? h('span', { class: 'who', text: who }) : null,
    h('span', { class: 'what', text: what }),
  );
  if (ev.type === 'gift') {
    li.dataset.streak = d.streakState || '';
    li.dataset.streakId = d.streakId || '';
    li.dataset.repeat = String(d.repeatCount || 0);
    li.classList.toggle('settled', d.streakState !== 'progress');
  }
  li.hidden = !typeShown(ev.type);
  ui.feed.prepend(li);
  while (ui.feed.childElementCount > FEED_MAX) ui.feed.lastElementChild.remove();
  return li;
}

for (const [g, label] of groups) {
  const box = h('input', { type: 'checkbox', name: 'type', value: g, id: 'f-' + g });
  box.checked = shown.has(g);
  box.addEventListener('change', () => {
    if (box.checked) shown.add(g);
    else shown.delete(g);
    for (const li of ui.feed.children) li.hidden = !typeShown(li.dataset.type);
  });
  ui.filters.append(h('label', { for: 'f-' + g }, box, ' ' + label));
}

ui.pause.addEventListener('click', () => {
  paused = !paused;
  if (!paused) {
    const held = buffer;
    buffer = [];
    for (const ev of held) showEvent(ev);
  }
  renderPauseState();
});

function renderPauseState() {
  ui.pause.textContent = paused ? 'Resume' : 'Pause';
  ui.pause.setAttribute('aria-pressed', String(paused));
  ui.buffered.textContent = paused ? buffer.length + ' new while paused' : '';
  ui.buffered.dataset.count = String(buffer.length);
}

// ---- leaderboards ----

// entriesOf reads a leaderboard answer whatever its exact shape: a list, or {entries|items|...: list}.
function entriesOf(body, by) {
  const list = Array.isArray(body)
    ? body
    : body && (body.entries || body.leaderboard || body.items || body.top || body.users || body[by]);
  if (!Array.isArray(list)) return null;
  return list.map((e) => ({
    user: e.user || { nickname: e.nickname, uniqueId: e.uniqueId, userId: e.userId },
    value: Number(e[by] ?? e.value ?? e.total ?? e.score ?? e.count ?? 0),
  }));
}

async function loadBoards() {
  const name = selected;
  for (const [by, key] of [
    ['diamonds', 'gifters'],
    ['likes', 'likers'],
  ]) {
    const res = await get(roomPath(name, '/leaderboard'), { by, limit: 10 });
    if (name !== selected) return;
    server[key] = res.ok ? entriesOf(res.body, by) : null;
  }
  renderBoards();
}

function renderBoards() {
  board(ui.gifters, ui.giftersSrc, server.gifters, gifters, '💎');
  board(ui.likers, ui.likersSrc, server.likers, likers, '♥');
}

function board(el, src, fromServer, local, unit) {
  // The server's list (whole session) wins when it exists; otherwise what this page has seen.
  const list = fromServer || [...local.values()].sort((a, b) => b.value - a.value).slice(0, 10);
  src.textContent = fromServer ? '(this session)' : '(since this page opened)';
  clear(el);
  if (list.length === 0) el.append(h('li', { class: 'muted', text: 'nobody yet' }));
  for (const e of list) {
    el.append(
      h('li', { dataset: { user: userKey(e.user), value: String(e.value) } }, avatar(e.user),
        h('span', { class: 'who', text: displayName(e.user) }),
        h('span', { class: 'val', text: fmtInt(e.value) + ' ' + unit })),
    );
  }
}

// The server leaderboard, when it exists, is refreshed now and then instead of on every event.
setInterval(() => {
  if (selected && (server.gifters || server.likers)) loadBoards();
}, 5000);

// ---- past sessions ----

let summaryAsked = 0; // the latest summary request: an older answer arriving late is dropped

async function loadSessions() {
  const name = selected;
  clear(ui.sessions);
  ui.summary.hidden = true;
  summaryAsked++;
  const res = await get(roomPath(name, '/sessions'));
  if (name !== selected) return;
  if (res.status === 404 || res.status === 405 || res.status === 0) {
    ui.sessionsMsg.textContent = 'This server does not keep past sessions.';
    return;
  }
  const list = res.body && (Array.isArray(res.body) ? res.body : res.body.sessions);
  if (!res.ok || !Array.isArray(list)) {
    ui.sessionsMsg.textContent = 'Past sessions could not be loaded: ' + errorText(res);
    return;
  }
  ui.sessionsMsg.textContent = list.length ? '' : 'No past sessions yet.';
  for (const s of list) {
    const id = String(s.id ?? s.sessionId ?? '');
    if (!id) continue;
    const when = fmtDateTime(s.startedAt || s.start || s.connectedAt);
    const li = h('li', { dataset: { session: id } },
      h('button', { type: 'button', class: 'link', text: when || 'session ' + id }), ' ',
      h('span', { class: 'muted', text: endText(s.endReason) }));
    li.querySelector('button').addEventListener('click', () => loadSummary(id));
    ui.sessions.append(li);
  }
}

async function loadSummary(id) {
  const asked = ++summaryAsked;
  for (const li of ui.sessions.children) li.classList.toggle('selected', li.dataset.session === id);
  ui.summary.hidden = false;
  ui.summary.setAttribute('aria-busy', 'true');
  const res = await get('/v1/sessions/' + encodeURIComponent(id) + '/summary');
  if (asked !== summaryAsked) return;
  clear(ui.summary);
  ui.summary.removeAttribute('aria-busy');
  if (!res.ok || !res.body || typeof res.body !== 'object') {
    ui.summary.append(h('p', { class: 'muted', text: res.status === 404 ? 'No summary for this session.' : errorText(res) }));
    return;
  }
  ui.summary.append(renderSummary(id, res.body));
}

// ---- overlays ----

function renderOverlayLinks(name) {
  clear(ui.overlayLinks);
  for (const [path, label, extra] of [
    ['/overlay/chat', 'Chat', ''],
    ['/overlay/gifts', 'Gift alerts', ''],
    ['/overlay/likes', 'Like goal', '&goal=10000'],
  ]) {
    // The page's token is not copied into overlay links: an OBS scene should get a read-only one.
    const href = path + '?room=' + encodeURIComponent(name) + extra;
    ui.overlayLinks.append(h('li', {}, h('a', { href, target: '_blank', rel: 'noopener', text: label }), ' ', h('code', { text: href })));
  }
}

// ---- start ----

poll();
setInterval(poll, POLL_MS);
// Countdowns ("retrying in 12 s") tick between polls.
setInterval(renderRooms, 1000);
renderPauseState();
renderBoards();

// Hooks for tests (and the curious): the live socket, positions, and what the feed holds.
window.__dash = {
  get socket() {
    return stream ? stream.socket : null;
  },
  lastSeq: (room) => (stream ? stream.lastSeq(room) : 0),
  epoch: (room) => (stream ? stream.epoch(room) : ''),
  feedCount: () => ui.feed.childElementCount,
  seqs: (room) => (seqLog.get(room) || []).slice(),
  opens: () => (stream ? stream.opens : 0),
  hold: (on) => stream && stream.hold(on),
  selected: () => selected,
};
