// DOM and wording helpers. Text always goes in with textContent: event data is never parsed as HTML.

// h creates an element: h('li', {class: 'x', dataset: {seq: 1}, title: 't'}, 'text', childNode).
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'hidden') el.hidden = !!v;
    else el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

export function displayName(user) {
  if (!user) return 'someone';
  return user.nickname || user.uniqueId || 'someone';
}

// initials stands in for the avatar: TikTok's image URLs are never loaded (nothing leaves the
// machine), so a user is shown by up to two letters of their name.
export function initials(user) {
  const name = displayName(user).trim();
  const words = name.split(/[\s._-]+/u).filter((w) => /[\p{L}\p{N}]/u.test(w));
  const first = (w) => Array.from(w.replace(/[^\p{L}\p{N}]/gu, ''))[0] || '';
  let s = words.length >= 2 ? first(words[0]) + first(words[1]) : first(words[0] || name);
  if (s === '') s = '?';
  return s.toUpperCase();
}

// avatar is the initials badge; its hue comes from the user id so a user keeps one colour.
export function avatar(user) {
  const el = h('span', { class: 'avatar', 'aria-hidden': 'true', text: initials(user) });
  const key = (user && (user.userId || user.uniqueId)) || '';
  let hash = 0;
  for (const ch of key) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  el.dataset.hue = String(hash % 12);
  return el;
}

const nf = new Intl.NumberFormat();
export function fmtInt(n) {
  return typeof n === 'number' && isFinite(n) ? nf.format(n) : '0';
}

export function fmtTime(iso) {
  const d = iso ? new Date(iso) : new Date();
  if (isNaN(d)) return '';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtDateTime(iso) {
  const d = new Date(iso);
  if (!iso || isNaN(d)) return '';
  return d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

// secondsUntil is how many whole seconds from now until iso (never negative); null without iso.
export function secondsUntil(iso, now = Date.now()) {
  if (!iso) return null;
  const t = Date.parse(iso);
  if (isNaN(t)) return null;
  return Math.max(0, Math.ceil((t - now) / 1000));
}

function inSeconds(iso, now) {
  const s = secondsUntil(iso, now);
  if (s === null) return '';
  if (s === 0) return 'now';
  return s >= 120 ? 'in ' + Math.round(s / 60) + ' min' : 'in ' + s + ' s';
}

const stopReasons = {
  requested: 'disconnected',
  replaced: 'replaced by another room',
  shutdown: 'the server shut down',
};

// describeState says a room's state in plain words, e.g. "rate limited, retrying in 12 s".
export function describeState(st, now = Date.now()) {
  if (!st) return 'unknown';
  const when = inSeconds(st.nextRetryAt, now);
  switch (st.state) {
    case 'connected':
      return 'connected';
    case 'connecting':
      return st.attempt > 1 ? 'connecting (attempt ' + st.attempt + ')' : 'connecting';
    case 'reconnecting': {
      let s = 'reconnecting';
      if (st.attempt) s += ' (attempt ' + st.attempt + ')';
      if (when) s += ', next try ' + when;
      return s;
    }
    case 'rate_limited':
      return when ? 'rate limited, retrying ' + when : 'rate limited';
    case 'waiting_for_live':
      return when ? 'waiting for the host to go live, next check ' + when : 'waiting for the host to go live';
    case 'stopped': {
      const r = st.stopReason ? stopReasons[st.stopReason] || 'stopped: ' + st.stopReason.replaceAll('_', ' ') : 'stopped';
      return r;
    }
    default:
      return String(st.state || 'unknown').replaceAll('_', ' ');
  }
}
