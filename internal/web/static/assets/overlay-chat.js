// Chat overlay: the latest chat lines, each fading out after `duration` seconds.
// Parameters: room, max (lines, 1-50, default 8), duration (s, 0 = never fade, default 30),
// position (bottom|top), plus the shared styling ones (overlay.js).
import { applyStyle, roomOrHelp, later } from './overlay.js';
import { intParam, choiceParam } from './params.js';
import { EventStream } from './stream.js';
import { h, avatar, displayName } from './dom.js';

applyStyle();
const room = roomOrHelp('chat', '&max=8&duration=30');
const max = intParam('max', 1, 50, 8);
const duration = intParam('duration', 0, 3600, 30);
const box = h('div', { class: 'chat' + (choiceParam('position', ['top', 'bottom'], 'bottom') === 'top' ? ' top' : '') });
document.body.append(box);
let lines = 0;

function remove(line) {
  line.classList.add('fade');
  // The CSS transition fades it; the element goes when the transition ends (or at once if none).
  line.addEventListener('transitionend', () => line.remove(), { once: true });
  later(2000, () => line.remove());
}

function show(ev) {
  const d = ev.data || {};
  if (ev.type !== 'chat' || !d.comment) return;
  const line = h('div', { class: 'line', dataset: { seq: String(ev.seq || 0) } },
    avatar(d.user), h('span', { class: 'who', text: displayName(d.user) }), h('span', { class: 'text', text: d.comment }));
  box.append(line);
  lines++;
  document.body.dataset.lines = String(lines);
  while (box.childElementCount > max) box.firstElementChild.remove();
  if (duration > 0) later(duration * 1000, () => remove(line));
}

const stream = room ? new EventStream({ rooms: [room], params: { types: 'chat' }, onEvent: show }) : null;
if (stream) stream.start();
window.__overlay = {
  get socket() {
    return stream ? stream.socket : null;
  },
  lines: () => lines,
};
