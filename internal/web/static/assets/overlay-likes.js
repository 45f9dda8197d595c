// Like goal overlay: a bar filling up to `goal` likes (the room's total).
// Parameters: room, goal (1-1000000000, default 10000), label (text, default "Like goal"), plus
// the shared styling ones (bar sets the bar's colour).
import { applyStyle, roomOrHelp } from './overlay.js';
import { intParam, textParam } from './params.js';
import { EventStream } from './stream.js';
import { get, roomPath } from './api.js';
import { h, fmtInt } from './dom.js';

applyStyle();
const room = roomOrHelp('like goal', '&goal=10000');
const goal = intParam('goal', 1, 1000000000, 10000);
const label = textParam('label', 'Like goal', 60);
const count = h('span', { class: 'count' });
const fill = h('div', { class: 'fill' });
const box = h('div', { class: 'goal', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(goal) },
  h('div', { class: 'label' }, h('span', { text: label }), count), h('div', { class: 'track' }, fill));
let likes = 0;

function render() {
  const pct = Math.min(100, (likes / goal) * 100);
  fill.style.width = pct.toFixed(2) + '%'; // CSSOM, which the page's CSP allows (inline style attributes it does not)
  count.textContent = fmtInt(likes) + ' / ' + fmtInt(goal);
  box.setAttribute('aria-valuenow', String(likes));
  box.classList.toggle('done', likes >= goal);
  document.body.dataset.likes = String(likes);
}

// set keeps the highest total seen: events and the status poll may arrive in either order.
function set(n) {
  if (typeof n === 'number' && isFinite(n) && n > likes) {
    likes = n;
    render();
  }
}

async function refresh() {
  const res = await get(roomPath(room));
  if (res.ok && res.body && res.body.counters) set(res.body.counters.likes);
}

let stream = null;
if (room) {
  document.body.append(box);
  render();
  refresh();
  setInterval(refresh, 5000);
  stream = new EventStream({
    rooms: [room],
    params: { types: 'like' },
    onEvent: (ev) => {
      const d = ev.data || {};
      if (typeof d.totalLikeCount === 'number' && d.totalLikeCount > 0) set(d.totalLikeCount);
      else if (typeof d.likeCount === 'number') set(likes + d.likeCount);
    },
    onReset: () => {
      likes = 0;
      refresh();
    },
  });
  stream.start();
}
window.__overlay = {
  get socket() {
    return stream ? stream.socket : null;
  },
  likes: () => likes,
};
