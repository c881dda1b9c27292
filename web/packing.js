// The packing view: hosts as boxes whose area is their memory capacity,
// VMs inside as tiles whose area is their memory shape (coloured by tenant
// and group), containers inside each VM as columns whose width is their
// memory request (coloured by state). Drawn on one canvas, so 200 hosts
// and 2,000 VMs stay fast; below a size where detail would be noise, tiles
// drop their labels and containers (aggregation), and zoom brings it back.
// Shared by the dashboard (app.js) and the benchmark's static page.
'use strict';

const NestPacking = (() => {
  const STATE_COLOURS = {
    running: '#2e9d4a', pending: '#e0b400', creating: '#e0b400',
    exited: '#8a8f98', failed: '#d13b3b', crashloop: '#d13b3b',
    unknown: '#8e5cc7',
  };
  const GAP = 10;
  const HEAD = 30;  // name and the three resource bars
  const DIM_NAMES = ['cpu', 'memory', 'disk'];

  function hue(text) {
    let h = 0;
    for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
    return h % 360;
  }
  function vmColour(vm) { return `hsl(${hue(vm.tenant + '/' + vm.group)},55%,72%)`; }
  function stateColour(state) { return STATE_COLOURS[state] || '#8e5cc7'; }

  function fmt(dim, v) {
    if (dim === 0) return (v / 1000).toFixed(v % 1000 ? 1 : 0) + ' cpu';
    if (v >= 1024) return (v / 1024).toFixed(1) + ' GiB';
    return v + ' MiB';
  }

  // Hosts with their VMs, VMs with their containers, and the requests
  // each level adds up. Tenants do not see hosts: their VMs are grouped
  // by host name, and a box is as big as the VMs it shows.
  function model(data) {
    const reqOf = {};
    for (const w of data.workloads) reqOf[w.tenant + '/' + w.name] = w.req;
    const vmById = {};
    const hosts = new Map();
    for (const h of data.hosts) {
      hosts.set(h.name, {name: h.name, state: h.state, cap: h.cap.slice(),
                         alloc: h.alloc.slice(), used: [0, 0, 0], vms: [],
                         known: true});
    }
    for (const vm of data.vms) {
      // `containers` becomes the list; the count stays as `count`.
      const v = Object.assign({}, vm, {containers: [], used: [0, 0, 0],
                                       count: vm.containers});
      vmById[vm.id] = v;
      const key = vm.host || '(unplaced)';
      if (!hosts.has(key)) {
        hosts.set(key, {name: key, state: vm.host ? '' : 'unplaced',
                        cap: [0, 0, 0], alloc: [0, 0, 0], used: [0, 0, 0],
                        vms: [], known: false});
      }
      const h = hosts.get(key);
      h.vms.push(v);
      if (!h.known) for (let d = 0; d < 3; d++) h.alloc[d] += vm.shape[d];
    }
    let unplaced = 0;
    for (const c of data.containers) {
      const v = vmById[c.vm];
      if (!v) { unplaced++; continue; }
      const req = reqOf[c.tenant + '/' + c.workload] || [0, 0, 0];
      const x = Object.assign({req}, c);
      v.containers.push(x);
      for (let d = 0; d < 3; d++) v.used[d] += req[d];
    }
    const list = [...hosts.values()];
    for (const h of list) {
      if (!h.known) h.cap = h.alloc.slice();
      h.vms.sort((a, b) => (b.shape[1] - a.shape[1]) || a.id.localeCompare(b.id));
      for (const v of h.vms) for (let d = 0; d < 3; d++) h.used[d] += v.used[d];
    }
    list.sort((a, b) => (a.known === b.known ? 0 : a.known ? -1 : 1) ||
                        a.name.localeCompare(b.name, undefined, {numeric: true}));
    const totals = {cap: [0, 0, 0], alloc: [0, 0, 0], used: [0, 0, 0]};
    for (const h of list) {
      for (let d = 0; d < 3; d++) {
        totals.cap[d] += h.cap[d];
        totals.alloc[d] += h.alloc[d];
        totals.used[d] += h.used[d];
      }
    }
    return {hosts: list, totals, unplaced, operator: !!data.operator};
  }

  // The scale, in px^2 per MiB: big enough that the smallest VM shows its
  // containers (36 px), unless the hosts would then cover more than about
  // two screens, but never so small that the biggest host is under 60 px.
  function scale(m, width) {
    let minVm = Infinity, sumCap = 0, maxCap = 1;
    for (const h of m.hosts) {
      sumCap += Math.max(h.cap[1], 1);
      maxCap = Math.max(maxCap, h.cap[1]);
      for (const v of h.vms) minVm = Math.min(minVm, Math.max(v.shape[1], 1));
    }
    if (minVm === Infinity) minVm = 256;
    const detail = (36 * 36) / minVm;
    const fit = (width * 2000 * 0.5) / Math.max(sumCap, 1);
    return Math.max(Math.min(detail, fit), (60 * 60) / maxCap);
  }

  // Positions every box; `zoom` multiplies the sides.
  function layout(m, width, zoom) {
    const k = scale(m, width) * zoom * zoom;  // px^2 per MiB
    const rects = [];
    let x = GAP, y = GAP, rowH = 0;
    for (const h of m.hosts) {
      const hs = Math.max(40, Math.sqrt(Math.max(h.cap[1], 1) * k));
      // Wider than the canvas: the same area, taller.
      const w = Math.min(Math.max(hs, 70), width - 2 * GAP);
      let bodyH = (hs * hs) / w;
      // Shelf-pack the VM tiles in the host's body.
      const tiles = [];
      let tx = 0, ty = 0, shelf = 0;
      for (const v of h.vms) {
        const s = Math.max(3, Math.sqrt(Math.max(v.shape[1], 1) * k) - 1);
        if (tx > 0 && tx + s > w - 4) { tx = 0; ty += shelf + 1; shelf = 0; }
        tiles.push({v, dx: 2 + tx, dy: ty, s});
        tx += s + 1;
        shelf = Math.max(shelf, s);
      }
      bodyH = Math.max(bodyH, ty + shelf + 4);
      const hh = HEAD + bodyH;
      if (x > GAP && x + w > width - GAP) { x = GAP; y += rowH + GAP; rowH = 0; }
      const host = {kind: 'host', obj: h, x, y, w, h: hh};
      rects.push(host);
      for (const t of tiles) {
        const vr = {kind: 'vm', obj: t.v, x: x + t.dx, y: y + HEAD + t.dy,
                    w: t.s, h: t.s, parent: host};
        rects.push(vr);
        if (t.s < 14) continue;  // aggregated: the tile shows its fill only
        const mem = Math.max(1, t.v.shape[1]);
        let cx = vr.x + 1;
        const top = vr.y + (t.s >= 40 ? 12 : 2);
        for (const c of t.v.containers) {
          const cw = Math.max(2, (c.req[1] / mem) * (t.s - 2) - 1);
          rects.push({kind: 'container', obj: c, x: cx, y: top, w: cw,
                      h: vr.y + t.s - 2 - top, parent: vr});
          cx += cw + 1;
        }
      }
      x += w + GAP;
      rowH = Math.max(rowH, hh);
    }
    return {rects, height: y + rowH + GAP};
  }

  function bar(ctx, x, y, w, cap, alloc, used) {
    ctx.fillStyle = '#e4e7ec';
    ctx.fillRect(x, y, w, 4);
    if (cap <= 0) return;
    ctx.fillStyle = '#9aa4b5';
    ctx.fillRect(x, y, Math.min(w, (alloc / cap) * w), 4);
    ctx.fillStyle = '#3b6fd4';
    ctx.fillRect(x, y, Math.min(w, (used / cap) * w), 4);
  }

  function paint(ctx, lay) {
    ctx.textBaseline = 'top';
    for (const r of lay.rects) {
      if (r.kind === 'host') {
        const h = r.obj;
        ctx.fillStyle = h.known ? '#ffffff' : '#f6f7f9';
        ctx.strokeStyle = h.state === 'ready' || !h.known ? '#b5bcc8' : '#d13b3b';
        ctx.lineWidth = 1;
        ctx.fillRect(r.x, r.y, r.w, r.h);
        ctx.strokeRect(r.x + 0.5, r.y + 0.5, r.w - 1, r.h - 1);
        ctx.fillStyle = '#222';
        ctx.font = '11px sans-serif';
        ctx.fillText(h.name, r.x + 3, r.y + 2, r.w - 6);
        for (let d = 0; d < 3; d++) {
          bar(ctx, r.x + 3, r.y + 15 + d * 5, r.w - 6, h.cap[d], h.alloc[d],
              h.used[d]);
        }
      } else if (r.kind === 'vm') {
        const v = r.obj;
        ctx.fillStyle = vmColour(v);
        ctx.fillRect(r.x, r.y, r.w, r.h);
        if (v.state !== 'running') {
          ctx.strokeStyle = stateColour(v.state === 'failed' ? 'failed' : 'pending');
          ctx.strokeRect(r.x + 0.5, r.y + 0.5, r.w - 1, r.h - 1);
        }
        if (r.w >= 40) {
          ctx.fillStyle = '#222';
          ctx.font = '9px sans-serif';
          ctx.fillText(v.group, r.x + 2, r.y + 1, r.w - 4);
        } else if (r.w < 14 && v.containers.length) {
          // Aggregated: the share of the VM its containers request.
          const f = Math.min(1, v.used[1] / Math.max(1, v.shape[1]));
          ctx.fillStyle = '#2e9d4a';
          ctx.fillRect(r.x, r.y + r.h * (1 - f), r.w, r.h * f);
        }
      } else {
        ctx.fillStyle = stateColour(r.obj.state);
        ctx.fillRect(r.x, r.y, r.w, r.h);
      }
    }
  }

  function summary(m) {
    const parts = [];
    for (let d = 0; d < 3; d++) {
      const t = m.totals;
      parts.push(`${DIM_NAMES[d]}: used ${fmt(d, t.used[d])} · allocated ` +
                 `${fmt(d, t.alloc[d])}` +
                 (m.operator ? ` · free ${fmt(d, Math.max(0, t.cap[d] - t.alloc[d]))}` : ''));
    }
    return parts;
  }

  function describe(r) {
    const o = r.obj;
    const lines = [];
    if (r.kind === 'host') {
      lines.push(`host ${o.name}` + (o.state ? ` (${o.state})` : ''));
      lines.push(`${o.vms.length} VMs`);
      for (let d = 0; d < 3; d++) {
        lines.push(`${DIM_NAMES[d]}: used ${fmt(d, o.used[d])}, allocated ` +
                   `${fmt(d, o.alloc[d])}` +
                   (o.known ? `, free ${fmt(d, Math.max(0, o.cap[d] - o.alloc[d]))} of ${fmt(d, o.cap[d])}` : ''));
      }
    } else if (r.kind === 'vm') {
      lines.push(`VM ${o.id} (${o.state})`);
      lines.push(`group ${o.group}, tenant ${o.tenant}`);
      lines.push(`shape ${fmt(0, o.shape[0])}, ${fmt(1, o.shape[1])}`);
      lines.push(`${o.containers.length} containers request ` +
                 `${fmt(0, o.used[0])}, ${fmt(1, o.used[1])}`);
      if (o.ip) lines.push(`ip ${o.ip}`);
      if (o.message) lines.push(o.message);
    } else {
      lines.push(`container ${o.id} (${o.state})`);
      lines.push(`workload ${o.workload}, tenant ${o.tenant}`);
      lines.push(`requests ${fmt(0, o.req[0])}, ${fmt(1, o.req[1])}`);
      if (o.message) lines.push(o.message);
    }
    return lines;
  }

  // Draws `data` (the /api/ui/cluster document) into `root`, replacing what
  // was there. opts: {zoom, onSelect(kind, obj)}. Returns the view, whose
  // rects() answer "what is drawn where" (also used by the browser tests).
  function mount(root, data, opts) {
    opts = opts || {};
    const m = model(data);
    root.textContent = '';
    const sum = document.createElement('div');
    sum.className = 'packing-summary';
    for (const line of summary(m)) {
      const span = document.createElement('span');
      span.textContent = line;
      sum.appendChild(span);
    }
    if (m.unplaced) {
      const span = document.createElement('span');
      span.className = 'pending';
      span.textContent = `${m.unplaced} containers not placed`;
      sum.appendChild(span);
    }
    root.appendChild(sum);
    const canvas = document.createElement('canvas');
    canvas.id = 'packing-canvas';
    root.appendChild(canvas);
    const tip = document.createElement('div');
    tip.className = 'packing-tip';
    tip.hidden = true;
    root.appendChild(tip);
    const width = Math.max(300, root.clientWidth || 1000);
    const lay = layout(m, width, opts.zoom || 1);
    const dpr = window.devicePixelRatio || 1;
    canvas.width = width * dpr;
    canvas.height = lay.height * dpr;
    canvas.style.width = width + 'px';
    canvas.style.height = lay.height + 'px';
    const ctx = canvas.getContext('2d');
    ctx.scale(dpr, dpr);
    paint(ctx, lay);

    // The innermost box under the pointer: containers are drawn last.
    function hit(ev) {
      const b = canvas.getBoundingClientRect();
      const px = ev.clientX - b.left, py = ev.clientY - b.top;
      for (let i = lay.rects.length - 1; i >= 0; i--) {
        const r = lay.rects[i];
        if (px >= r.x && px < r.x + r.w && py >= r.y && py < r.y + r.h) return r;
      }
      return null;
    }
    canvas.addEventListener('mousemove', ev => {
      const r = hit(ev);
      if (!r) { tip.hidden = true; return; }
      tip.textContent = '';
      for (const line of describe(r)) {
        const div = document.createElement('div');
        div.textContent = line;
        tip.appendChild(div);
      }
      tip.dataset.kind = r.kind;
      tip.style.left = (ev.clientX + 14) + 'px';
      tip.style.top = (ev.clientY + 14) + 'px';
      tip.hidden = false;
    });
    canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
    canvas.addEventListener('click', ev => {
      const r = hit(ev);
      if (r && opts.onSelect) opts.onSelect(r.kind, r.obj);
    });
    const counts = {hosts: m.hosts.filter(h => h.known).length,
                    vms: data.vms.length,
                    containers: lay.rects.filter(r => r.kind === 'container').length,
                    unplaced: m.unplaced};
    canvas.dataset.hosts = counts.hosts;
    canvas.dataset.vms = counts.vms;
    canvas.dataset.containers = counts.containers;
    canvas.dataset.unplaced = counts.unplaced;
    if (window.nestDrawnAt === undefined) window.nestDrawnAt = performance.now();
    document.documentElement.dataset.packingDrawn = String(data.seq || 0);
    return {
      counts,
      rects: () => lay.rects.map(r => ({
        kind: r.kind, id: r.obj.id || r.obj.name, state: r.obj.state || '',
        x: r.x, y: r.y, w: r.w, h: r.h})),
    };
  }

  return {mount, model, layout};
})();
