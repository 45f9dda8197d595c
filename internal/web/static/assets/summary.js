// The summary of a past session as a streamer reads it: when it ran, for how long and why it
// stopped, the figures, the gifts, who gave, liked and chatted most, and the exports.
// Tests find the parts by data-* hooks: data-field (heading), data-figure, data-gift, data-board.
import { h, avatar, fmtInt, fmtDateTime } from './dom.js';
import { apiURL } from './params.js';

const endWords = {
  ended: 'the LIVE ended',
  suspended: 'the LIVE was suspended',
  offline: 'the host went offline',
  new_broadcast: 'a new LIVE began',
  requested: 'disconnected here',
  replaced: 'replaced by another room',
  shutdown: 'the server stopped',
  error: 'stopped on an error',
};

// endText says why a session ended; a session without a reason has not ended.
export function endText(reason) {
  if (reason === null || reason === undefined || reason === '') return 'live now';
  return endWords[reason] || String(reason).replaceAll('_', ' ');
}

// fmtDuration writes milliseconds as "1h 2m 5s", leaving out leading zero units.
export function fmtDuration(ms) {
  const s = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const [hh, mm, ss] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  if (hh) return hh + 'h ' + mm + 'm ' + ss + 's';
  return mm ? mm + 'm ' + ss + 's' : ss + 's';
}

// nameOf is the nickname, else @handle.
function nameOf(u) {
  if (!u) return 'someone';
  return u.nickname || (u.uniqueId ? '@' + u.uniqueId : 'someone');
}

const num = (v) => (typeof v === 'number' && isFinite(v) ? v : 0);

const figures = [
  ['peakViewers', 'Peak viewers', (s) => s.viewers && s.viewers.peak],
  ['averageViewers', 'Average viewers', (s) => Math.round(num(s.viewers && s.viewers.average))],
  ['likes', 'Likes', (s) => s.likes],
  ['diamonds', 'Diamonds', (s) => s.diamonds],
  ['chats', 'Chats', (s) => s.chats],
  ['uniqueChatters', 'Unique chatters', (s) => s.uniqueChatters],
  ['follows', 'Follows', (s) => s.follows],
  ['shares', 'Shares', (s) => s.shares],
  ['joins', 'Joins', (s) => s.joins],
  ['subscribers', 'Subscribers', (s) => s.subscribers],
  ['events', 'Events', (s) => s.session && s.session.events],
];

const boards = [
  ['topGifters', 'Top gifters', () => '💎'],
  ['topLikers', 'Top likers', () => '♥'],
  ['topChatters', 'Top chatters', (n) => (n === 1 ? 'chat' : 'chats')],
];

// renderSummary builds the summary of GET /v1/sessions/{id}/summary as one element.
export function renderSummary(id, s) {
  const sess = s.session || {};
  const reason = sess.endReason ?? null;
  const root = h('article', { class: 'recap', dataset: { summary: id, endReason: reason || 'live' } });

  root.append(
    h('h4', { dataset: { field: 'start' } }, h('time', { datetime: sess.startedAt || '', text: fmtDateTime(sess.startedAt) || 'Session ' + id })),
    h('p', { class: 'recap-meta' },
      h('span', { dataset: { field: 'duration' }, text: fmtDuration(s.durationMs) }), ' · ',
      h('span', { class: reason ? 'end' : 'end live', dataset: { field: 'end' }, text: endText(reason) })),
  );

  const dl = h('dl', { class: 'figures' });
  for (const [key, label, pick] of figures) {
    const v = num(pick(s));
    dl.append(h('div', { dataset: { figure: key, value: String(v) } }, h('dt', { text: label }), h('dd', { text: fmtInt(v) })));
  }
  root.append(dl);

  root.append(h('h5', { text: 'Gifts' }));
  const gifts = (Array.isArray(s.gifts) ? s.gifts : []).slice().sort((a, b) => num(b.diamonds) - num(a.diamonds) || num(b.count) - num(a.count));
  if (gifts.length === 0) {
    root.append(h('p', { class: 'muted', text: 'No gifts in this session.' }));
  } else {
    const body = h('tbody');
    for (const g of gifts) {
      const name = g.giftName || 'gift ' + g.giftId;
      body.append(h('tr', { dataset: { gift: name, count: String(num(g.count)), diamonds: String(num(g.diamonds)) } },
        h('td', { text: name }), h('td', { class: 'n', text: fmtInt(num(g.count)) }), h('td', { class: 'n', text: fmtInt(num(g.diamonds)) })));
    }
    root.append(h('table', { class: 'gifts' },
      h('thead', {}, h('tr', {}, h('th', { text: 'Gift' }), h('th', { class: 'n', text: 'Count' }), h('th', { class: 'n', text: 'Diamonds' }))),
      body));
  }

  const wrap = h('div', { class: 'recap-boards' });
  for (const [key, title, unit] of boards) {
    const list = (Array.isArray(s[key]) ? s[key] : []).slice(0, 5);
    const ol = h('ol', { class: 'mini-board' });
    if (list.length === 0) ol.append(h('li', { class: 'muted', text: 'nobody' }));
    for (const e of list) {
      ol.append(h('li', { dataset: { rank: String(e.rank), value: String(num(e.value)) } },
        h('span', { class: 'rank', text: String(e.rank) }), avatar(e.user),
        h('span', { class: 'who', text: nameOf(e.user) }),
        h('span', { class: 'val', text: fmtInt(num(e.value)) + ' ' + unit(num(e.value)) })));
    }
    wrap.append(h('section', { dataset: { board: key } }, h('h5', { text: title }), ol));
  }
  root.append(wrap);

  const base = '/v1/sessions/' + encodeURIComponent(id);
  root.append(h('p', { class: 'exports' }, 'Export: ',
    h('a', { href: apiURL(base + '/events', { format: 'csv' }), download: '', dataset: { export: 'csv' }, text: 'CSV' }), ' · ',
    h('a', { href: apiURL(base + '/events', { format: 'ndjson' }), download: '', dataset: { export: 'ndjson' }, text: 'NDJSON' }), ' · ',
    h('a', { href: apiURL(base + '/capture'), download: '', dataset: { export: 'capture' }, title: 'raw messages, replayable with fake-tiktok --capture', text: 'capture' })));
  return root;
}
