// Gift alerts overlay: one alert per completed streak or single gift, never one per streak step
// (the socket asks for gifts=final, and each event's streakState is checked again here).
// Parameters: room, duration (s per alert, 1-60, default 5), max (alerts waiting, 1-100, default
// 20), min (smallest total diamonds that alerts, default 0), plus the shared styling ones.
import { applyStyle, roomOrHelp, later } from './overlay.js';
import { intParam } from './params.js';
import { EventStream } from './stream.js';
import { h, avatar, displayName, fmtInt } from './dom.js';

applyStyle();
const room = roomOrHelp('gift alerts', '&duration=5');
const duration = intParam('duration', 1, 60, 5);
const max = intParam('max', 1, 100, 20);
const minDiamonds = intParam('min', 0, 1000000000, 0);
const stage = h('div', { class: 'alerts', 'aria-live': 'polite' });
document.body.append(stage);

const queue = [];
const received = []; // every alert accepted, for tests: {streakId, user, giftName, repeatCount, seq}
const seen = new Set(); // streak keys already alerted: a streak alerts once even if its end comes twice
let showing = false;
let shownCount = 0;

function accept(ev) {
  const d = ev.data || {};
  if (ev.type !== 'gift' || (d.streakState !== 'final' && d.streakState !== 'single')) return;
  if ((d.totalDiamonds || 0) < minDiamonds) return;
  if (d.streakId && d.streakState === 'final') {
    const key = d.streakId + '|' + ((d.user && (d.user.userId || d.user.uniqueId)) || '');
    if (seen.has(key)) return;
    seen.add(key);
    if (seen.size > 5000) seen.clear();
  }
  received.push({
    streakId: d.streakId || '', user: (d.user && d.user.uniqueId) || '', giftName: d.giftName || '',
    repeatCount: d.repeatCount || 1, seq: ev.seq || 0,
  });
  if (queue.length >= max) queue.shift(); // a flood: drop the oldest waiting alert
  queue.push(ev);
  next();
}

function next() {
  if (showing || queue.length === 0) return;
  showing = true;
  const ev = queue.shift();
  const d = ev.data || {};
  const count = d.repeatCount > 1 ? ' ×' + d.repeatCount : '';
  const el = h('div', { class: 'alert', dataset: { seq: String(ev.seq || 0), streakId: d.streakId || '' } },
    avatar(d.user),
    h('div', {},
      h('div', {}, h('span', { class: 'who', text: displayName(d.user) }), ' sent ',
        h('span', { class: 'gift', text: (d.giftName || 'a gift') + count })),
      d.totalDiamonds ? h('div', { class: 'dia', text: fmtInt(d.totalDiamonds) + ' diamonds' }) : null));
  stage.append(el);
  shownCount++;
  document.body.dataset.alerts = String(shownCount);
  later(duration * 1000, () => {
    el.classList.add('fade');
    later(1000, () => {
      el.remove();
      showing = false;
      next();
    });
  });
}

const stream = room
  ? new EventStream({ rooms: [room], params: { types: 'gift', gifts: 'final' }, onEvent: accept })
  : null;
if (stream) stream.start();
window.__overlay = {
  get socket() {
    return stream ? stream.socket : null;
  },
  received: () => received.slice(),
  shown: () => shownCount,
};
