// What every overlay shares: styling from the URL, the room parameter, and a help text when it is
// missing. Values are validated in params.js; a bad one is ignored.
import { colorParam, fontParam, intParam, numParam, choiceParam, roomParam } from './params.js';
import { h } from './dom.js';

export function applyStyle() {
  const root = document.documentElement.style;
  const font = fontParam('font', '');
  if (font) root.setProperty('--font', font + ', system-ui, sans-serif');
  const size = intParam('size', 8, 200, 0);
  if (size) root.setProperty('--size', size + 'px');
  for (const [param, prop] of [
    ['color', '--color'],
    ['bg', '--bg'],
    ['accent', '--accent'],
    ['bar', '--bar'],
  ]) {
    const v = colorParam(param, '');
    if (v) root.setProperty(prop, v);
  }
  const fade = numParam('fade', 0, 10, -1);
  if (fade >= 0) root.setProperty('--fade', fade + 's');
  if (choiceParam('shadow', ['0', '1'], '1') === '1') document.body.classList.add('shadow');
}

// roomOrHelp returns the room, or shows how to use the overlay and returns ''.
export function roomOrHelp(name, example) {
  const room = roomParam();
  if (!room) {
    document.body.append(
      h('div', { class: 'help' },
        h('p', { text: 'This is the ' + name + ' overlay. Add the room to the address, e.g.:' }),
        h('p', {}, h('code', { text: location.pathname + '?room=USERNAME' + example }))),
    );
  }
  return room;
}

// later runs fn after ms; overlays use it for fading, never for synchronising with the server.
export function later(ms, fn) {
  return setTimeout(fn, ms);
}
