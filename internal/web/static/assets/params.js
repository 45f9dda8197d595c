// Query parameters and URLs. Every value read from the page's URL is validated here: a bad value is
// ignored (the default is used), so nothing from a URL reaches CSS, HTML or another URL unchecked.

const query = new URLSearchParams(location.search);

// token, when present, is passed on to every API and WebSocket URL (access control may require it).
const token = validToken(query.get('token'));

function validToken(v) {
  return v && /^[A-Za-z0-9._~-]{1,512}$/.test(v) ? v : '';
}

export function hasToken() {
  return token !== '';
}

// normalizeRoom turns "name", "@Name" or a profile URL into the lower-case handle, or '' when it is
// not a TikTok username.
export function normalizeRoom(v) {
  if (typeof v !== 'string') return '';
  let s = v.trim();
  const m = s.match(/@([A-Za-z0-9_.]{1,64})/);
  if (m) s = m[1];
  s = s.replace(/^@/, '').toLowerCase();
  return /^[a-z0-9_.]{1,64}$/.test(s) ? s : '';
}

export function roomParam() {
  return normalizeRoom(query.get('room') || '');
}

// intParam reads an integer within [min, max]; anything else gives def.
export function intParam(name, min, max, def) {
  const v = query.get(name);
  if (v === null || !/^-?\d{1,10}$/.test(v.trim())) return def;
  const n = Number(v);
  return n >= min && n <= max ? n : def;
}

// numParam reads a decimal number within [min, max].
export function numParam(name, min, max, def) {
  const v = query.get(name);
  if (v === null || !/^\d{1,6}(\.\d{1,3})?$/.test(v.trim())) return def;
  const n = Number(v);
  return n >= min && n <= max ? n : def;
}

// colorParam accepts #rgb, #rgba, #rrggbb, #rrggbbaa (with or without the #, as a URL makes '#'
// awkward), a CSS colour name, or rgb()/rgba()/hsl()/hsla() with numbers only.
export function colorParam(name, def) {
  let v = (query.get(name) || '').trim();
  if (v === '') return def;
  if (/^[0-9a-fA-F]{3,8}$/.test(v) && [3, 4, 6, 8].includes(v.length)) v = '#' + v;
  const ok =
    /^#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/.test(v) ||
    /^[a-zA-Z]{3,20}$/.test(v) ||
    /^(rgb|rgba|hsl|hsla)\(\s*[\d.%\s,/-]{1,60}\)$/.test(v);
  if (!ok) return def;
  if (globalThis.CSS && CSS.supports && !CSS.supports('color', v)) return def;
  return v;
}

// fontParam accepts a font family list of plain names ("Inter, sans-serif"); quotes and other
// characters that could break out of the CSS value are refused.
export function fontParam(name, def) {
  const v = (query.get(name) || '').trim();
  return /^[A-Za-z0-9 ,_-]{1,80}$/.test(v) ? v : def;
}

// textParam is free text shown with textContent (never parsed as HTML), bounded in length.
export function textParam(name, def, maxLen = 80) {
  const v = query.get(name);
  if (v === null) return def;
  const s = v.trim();
  return s.length > 0 && s.length <= maxLen ? s : def;
}

export function choiceParam(name, choices, def) {
  const v = query.get(name);
  return choices.includes(v) ? v : def;
}

// apiURL is a same-origin URL for path with extra query parameters and the token.
export function apiURL(path, params = {}) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  if (token) u.searchParams.set('token', token);
  return u.pathname + u.search;
}

// wsURL is the WebSocket URL of path on this server (ws: or wss: as the page is http: or https:).
export function wsURL(path, params = {}) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return scheme + '//' + location.host + apiURL(path, params);
}
