// Small fetch helpers for the server's JSON API. Every answer comes back as {status, ok, body}; a
// network failure is status 0, so callers can treat "route not there yet" (404) and "server down"
// without exceptions.
import { apiURL } from './params.js';

export async function call(method, path, params = {}) {
  try {
    const resp = await fetch(apiURL(path, params), {
      method,
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'same-origin',
    });
    let body = null;
    const ct = resp.headers.get('Content-Type') || '';
    if (ct.startsWith('application/json')) {
      try {
        body = await resp.json();
      } catch {
        body = null;
      }
    }
    return { status: resp.status, ok: resp.ok, body };
  } catch (err) {
    return { status: 0, ok: false, body: null, error: String(err) };
  }
}

export const get = (path, params) => call('GET', path, params);

export function roomPath(name, rest = '') {
  return '/v1/rooms/' + encodeURIComponent(name) + rest;
}

// errorText is the message of an error answer, in words.
export function errorText(res) {
  if (res.status === 0) return 'the server cannot be reached';
  const b = res.body || {};
  return b.message || b.error || 'HTTP ' + res.status;
}
