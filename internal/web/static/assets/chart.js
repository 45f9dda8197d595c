// ViewerChart draws viewers over time as an inline SVG line (no library, no canvas).
const NS = 'http://www.w3.org/2000/svg';
const H = 160; // CSS pixels, as .chart sets
const PAD = 4;
const MAX_POINTS = 600;

function svg(tag, attrs = {}) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export class ViewerChart {
  constructor(el) {
    this.el = el;
    this.points = [];
    // The viewBox follows the element's width, so one unit is one pixel and the labels keep
    // their shape (a stretched viewBox would squash the text).
    this.w = 600;
    el.setAttribute('role', 'img');
    this.area = svg('path', { class: 'area' });
    this.line = svg('polyline', { class: 'line', fill: 'none' });
    this.maxLabel = svg('text', { y: 14, 'text-anchor': 'end', class: 'label' });
    this.minLabel = svg('text', { y: H - PAD, 'text-anchor': 'end', class: 'label' });
    el.append(this.area, this.line, this.maxLabel, this.minLabel);
    window.addEventListener('resize', () => this.render());
    this.render();
  }

  reset() {
    this.points = [];
    this.render();
  }

  // add records a viewer count at time t (ms); a point no newer than the last replaces nothing.
  add(t, v) {
    if (typeof v !== 'number' || !isFinite(v) || v < 0) return;
    const last = this.points[this.points.length - 1];
    if (last && t < last.t) return;
    if (last && last.v === v && t - last.t < 1000) return; // same value, same second: no new point
    this.points.push({ t, v });
    if (this.points.length > MAX_POINTS) this.points.splice(0, this.points.length - MAX_POINTS);
    this.render();
  }

  render() {
    const W = Math.max(200, Math.round(this.el.clientWidth || this.w));
    this.w = W;
    this.el.setAttribute('viewBox', `0 0 ${W} ${H}`);
    this.maxLabel.setAttribute('x', W - PAD);
    this.minLabel.setAttribute('x', W - PAD);
    const p = this.points;
    this.el.dataset.points = String(p.length);
    this.el.setAttribute('aria-label', p.length ? 'viewers over time, now ' + p[p.length - 1].v : 'no viewer counts yet');
    if (p.length === 0) {
      this.line.setAttribute('points', '');
      this.area.setAttribute('d', '');
      this.maxLabel.textContent = '';
      this.minLabel.textContent = '';
      return;
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (const q of p) {
      lo = Math.min(lo, q.v);
      hi = Math.max(hi, q.v);
    }
    if (hi === lo) {
      hi += 1;
      lo = Math.max(0, lo - 1);
    }
    const t0 = p[0].t;
    const span = Math.max(1, p[p.length - 1].t - t0);
    const x = (q) => (p.length === 1 ? W : PAD + ((q.t - t0) / span) * (W - 2 * PAD));
    const y = (q) => H - PAD - ((q.v - lo) / (hi - lo)) * (H - 2 * PAD - 16);
    const pts = p.map((q) => x(q).toFixed(1) + ',' + y(q).toFixed(1));
    this.line.setAttribute('points', pts.join(' '));
    this.area.setAttribute('d', 'M' + x(p[0]).toFixed(1) + ',' + (H - PAD) + ' L' + pts.join(' L') + ' L' + x(p[p.length - 1]).toFixed(1) + ',' + (H - PAD) + ' Z');
    this.maxLabel.textContent = String(hi);
    this.minLabel.textContent = String(lo);
  }
}
