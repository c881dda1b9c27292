// The dashboard: login, the packing view, lists, a workload page and a
// group page, kept current by the server's event stream. Read-only; every
// request goes with the session cookie set at login (see api/dashboard.cc
// for why a cookie). Data is only ever put into the page as text.
'use strict';

(() => {
  const $ = id => document.getElementById(id);
  const state = {me: null, cluster: null, fetchedAt: 0, detail: null,
                 zoom: 1, source: null, refreshTimer: null};

  async function api(path, init) {
    const res = await fetch(path, Object.assign({credentials: 'same-origin'}, init));
    if (res.status === 401) { showLogin(''); throw new Error('unauthenticated'); }
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    return body;
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  // Age from the server's clock, advanced by the time since the fetch.
  function age(t) {
    if (t == null || !state.cluster) return '';
    const now = state.cluster.now + (Date.now() - state.fetchedAt) / 1000;
    let s = Math.max(0, Math.round(now - t));
    if (s < 120) return s + 's';
    if (s < 7200) return Math.round(s / 60) + 'm';
    if (s < 172800) return Math.round(s / 3600) + 'h';
    return Math.round(s / 86400) + 'd';
  }
  function res(r) {
    return `${(r[0] / 1000).toFixed(r[0] % 1000 ? 1 : 0)} cpu, ${r[1]} MiB`;
  }
  function link(href, text) { return el('a', {href, text}); }
  function stateCell(s) { return el('td', {class: 'state-' + s, text: s}); }

  function table(id, headers, rows) {
    const t = el('table', {id});
    t.append(el('tr', {}, ...headers.map(h => el('th', {text: h}))));
    for (const cells of rows) {
      t.append(el('tr', {}, ...cells.map(c =>
        c instanceof HTMLElement && c.tagName === 'TD' ? c
          : el('td', {}, c instanceof Node ? c : String(c ?? '')))));
    }
    return t;
  }

  function showLogin(message) {
    state.me = null;
    if (state.source) { state.source.close(); state.source = null; }
    $('login').hidden = false;
    $('nav').hidden = true;
    $('logout').hidden = true;
    $('live').hidden = true;
    $('who').textContent = '';
    $('view').textContent = '';
    $('login-error').textContent = message || '';
  }

  // `cluster`: the first /api/ui/cluster answer when it was fetched
  // alongside /api/ui/me (a page load), so the first draw waits for one
  // round trip, not two.
  async function start(me, cluster) {
    state.me = me;
    $('login').hidden = true;
    $('nav').hidden = false;
    $('logout').hidden = false;
    $('who').textContent = me.operator ? `operator (${me.tenant})` : `tenant ${me.tenant}`;
    if (cluster && route().page === 'packing') {
      state.cluster = cluster;
      state.fetchedAt = Date.now();
      render();
    } else {
      await refresh();
    }
    openStream(state.cluster.seq);
  }

  // Live updates: every event the caller may see triggers one refetch,
  // coalesced, of what the current page shows.
  // Starts after `seq`, the state already drawn, so nothing in between is
  // missed; a reconnect resumes by Last-Event-ID.
  function openStream(seq) {
    if (state.source) state.source.close();
    const src = new EventSource('/api/ui/events?after=' + encodeURIComponent(seq));
    state.source = src;
    const live = $('live');
    live.hidden = false;
    let last = seq;
    src.onopen = () => { live.textContent = 'live'; live.className = 'live on'; };
    src.onerror = () => {
      live.textContent = 'reconnecting';
      live.className = 'live';
      // The browser retries by itself unless the answer was not a stream
      // (e.g. 503 while nestd has too many): then reopen after the last
      // event seen, and refetch in case one was missed.
      if (src.readyState === EventSource.CLOSED && state.source === src) {
        setTimeout(() => {
          if (state.source === src && state.me) { openStream(last); kick(); }
        }, 2000);
      }
    };
    const kick = () => {
      clearTimeout(state.refreshTimer);
      state.refreshTimer = setTimeout(() => refresh().catch(() => {}), 200);
    };
    src.addEventListener('change', ev => { last = ev.lastEventId || last; kick(); });
    src.addEventListener('reset', kick);
  }

  async function refresh() {
    const cluster = await api('/api/ui/cluster');
    state.cluster = cluster;
    state.fetchedAt = Date.now();
    const r = route();
    if (r.page === 'workload' || r.page === 'group') {
      state.detail = await api(detailPath(r)).catch(e => ({error: e.message}));
    }
    render();
  }

  // "#/workload/<tenant>/<name>": an operator sees every tenant's objects.
  function route() {
    const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
    return {page: parts[0] || 'packing', tenant: parts[1] || '', name: parts.slice(2).join('/')};
  }
  function pageLink(page, tenant, name) {
    return `#/${page}/${encodeURIComponent(tenant)}/${encodeURIComponent(name)}`;
  }
  function detailPath(r) {
    return `/api/ui/${r.page}?tenant=${encodeURIComponent(r.tenant)}&name=${encodeURIComponent(r.name)}`;
  }

  function render() {
    if (!state.me || !state.cluster) return;
    const r = route();
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('active', a.getAttribute('href') === '#/' + r.page);
    }
    const view = $('view');
    const scroll = window.scrollY;
    view.textContent = '';
    view.dataset.page = r.page;
    const pages = {packing, groups, workloads, vms, containers,
                   workload: workloadPage, group: groupPage};
    (pages[r.page] || packing)(view, r);
    view.dataset.seq = String(state.cluster.seq);
    window.scrollTo(0, scroll);
  }

  function packing(view) {
    const tools = el('div', {class: 'packing-tools'});
    const zoom = (f) => { state.zoom = Math.min(4, Math.max(0.15, state.zoom * f)); render(); };
    const minus = el('button', {type: 'button', id: 'zoom-out', text: '−'});
    const plus = el('button', {type: 'button', id: 'zoom-in', text: '+'});
    minus.onclick = () => zoom(1 / 1.5);
    plus.onclick = () => zoom(1.5);
    const legend = el('span', {class: 'legend'});
    for (const [s, c] of [['running', '#2e9d4a'], ['pending', '#e0b400'],
                          ['exited', '#8a8f98'], ['failed', '#d13b3b']]) {
      const i = el('i');
      i.style.background = c;
      legend.append(el('span', {}, i, s));
    }
    legend.append(el('span', {text: 'VM colour: tenant/group · host bars: cpu, memory, disk (grey allocated, blue requested)'}));
    tools.append(minus, plus, legend);
    const root = el('div', {id: 'packing'});
    view.append(tools, root);
    const packed = NestPacking.mount(root, state.cluster, {
      zoom: state.zoom,
      onSelect: (kind, obj) => {
        if (kind === 'container') location.hash = pageLink('workload', obj.tenant, obj.workload);
        else if (kind === 'vm') location.hash = pageLink('group', obj.tenant, obj.group);
      },
    });
    window.nestPacking = packed;
  }

  function groups(view) {
    view.append(el('h2', {text: 'VM groups'}), table('groups-table',
      ['name', 'tenant', 'VMs', 'running', 'pending', 'min/desired/max', 'containers', 'age', 'message'],
      state.cluster.groups.map(g => [link(pageLink('group', g.tenant, g.name), g.name), g.tenant,
        g.vms, g.running, g.pending, `${g.min}/${g.desired}/${g.max}`, g.containers,
        age(g.created), el('td', {class: 'msg', text: g.message})])));
  }

  function workloadRow(w) {
    const state_ = w.pending > 0 ? 'pending' : 'running';
    return [link(pageLink('workload', w.tenant, w.name), w.name), w.tenant, w.group,
      `${w.ready}/${w.replicas}`, w.running, el('td', {class: 'state-' + state_, text: String(w.pending)}),
      res(w.req), age(w.created), el('td', {class: 'msg', text: w.message})];
  }
  function workloads(view) {
    view.append(el('h2', {text: 'Workloads'}), table('workloads-table',
      ['name', 'tenant', 'group', 'ready', 'running', 'pending', 'requests', 'age', 'message'],
      state.cluster.workloads.map(workloadRow)));
  }

  function vms(view) {
    view.append(el('h2', {text: 'VMs'}), vmTable(state.cluster.vms));
  }
  function vmTable(list) {
    return table('vms-table', ['id', 'tenant', 'group', 'host', 'state', 'shape', 'containers', 'ip', 'age'],
      list.map(v => [v.id, v.tenant, link(pageLink('group', v.tenant, v.group), v.group),
        v.host, stateCell(v.state), res(v.shape), v.containers, v.ip, age(v.created)]));
  }

  function containers(view) {
    view.append(el('h2', {text: 'Containers'}), containerTable('containers-table', state.cluster.containers));
  }
  function containerTable(id, list) {
    return table(id, ['id', 'workload', 'tenant', 'state', 'vm', 'host', 'restarts', 'age', 'message'],
      list.map(c => [c.id, link(pageLink('workload', c.tenant, c.workload), c.workload), c.tenant,
        stateCell(c.state), c.vm, c.host, c.restarts, age(c.started ?? c.created),
        el('td', {class: 'msg', text: c.message})]));
  }

  function eventTable(list) {
    return table('events-table', ['time', 'reason', 'message'],
      list.slice().reverse().map(e => [age(e.time) + ' ago', e.reason, el('td', {class: 'msg', text: e.message})]));
  }

  function detailOr(view, r) {
    const d = state.detail;
    if (!d || d.error) {
      view.append(d ? el('p', {class: 'error', text: d.error})
                    : el('p', {class: 'loading', text: 'loading…'}));
      if (!d) api(detailPath(r))
        .then(x => { state.detail = x; render(); })
        .catch(e => { state.detail = {error: e.message}; render(); });
      return null;
    }
    return d;
  }

  function workloadPage(view, r) {
    const d = detailOr(view, r);
    if (!d) return;
    const w = d.workload;
    view.append(el('h2', {id: 'workload-title', text: `Workload ${w.name}`}),
      table('workload-summary', ['name', 'tenant', 'group', 'ready', 'running', 'pending', 'requests', 'age', 'message'],
        [workloadRow(w)]));
    if (d.explain) {
      const box = el('div', {class: 'explain', id: 'explain'});
      box.append(el('strong', {text: `${d.explain.pending} pending: why`}));
      const ul = el('ul');
      for (const r of d.explain.reasons) {
        ul.append(el('li', {text: `${r.reason} (${r.count} ${r.unit})`}));
      }
      box.append(ul);
      if (d.explain.suggestion) box.append(el('p', {class: 'suggestion', text: d.explain.suggestion}));
      view.append(el('h2', {text: 'Explain'}), box);
    }
    view.append(el('h2', {text: 'Replicas'}), containerTable('replicas-table', d.replicas),
      el('h2', {text: 'Events'}), eventTable(d.events));
  }

  // Size, running VMs and pending containers over the sampled history.
  function plot(history) {
    const NS = 'http://www.w3.org/2000/svg';
    const W = 720, H = 220, L = 40, B = 24;
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('width', W);
    svg.setAttribute('height', H);
    svg.setAttribute('class', 'plot');
    svg.id = 'group-plot';
    const add = (tag, attrs, text) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text != null) e.textContent = text;
      svg.append(e);
    };
    if (history.length === 0) {
      add('text', {x: 20, y: 40}, 'no samples yet');
      return svg;
    }
    const t0 = history[0].t, t1 = Math.max(t0 + 1, history[history.length - 1].t);
    const maxY = Math.max(1, ...history.map(p => Math.max(p.vms, p.desired, p.pending)));
    const x = t => L + (t - t0) / (t1 - t0) * (W - L - 10);
    const y = v => H - B - v / maxY * (H - B - 10);
    add('line', {x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: '#999'});
    add('line', {x1: L, y1: 10, x2: L, y2: H - B, stroke: '#999'});
    add('text', {x: 4, y: 16, 'font-size': 11}, String(maxY));
    add('text', {x: 4, y: H - B, 'font-size': 11}, '0');
    add('text', {x: L, y: H - 6, 'font-size': 11}, `${Math.round((t1 - t0) / 60)} min`);
    const series = [['vms', '#3b6fd4', 'VMs'], ['desired', '#9aa4b5', 'desired'],
                    ['pending', '#e0a000', 'pending containers']];
    series.forEach(([key, colour, label], i) => {
      const pts = history.map(p => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
      add('polyline', {points: pts, fill: 'none', stroke: colour, 'stroke-width': 2,
                       'data-series': key});
      // Dots too: a short history (or one sample) is still visible.
      if (history.length <= 120) {
        for (const p of history) {
          add('circle', {cx: x(p.t).toFixed(1), cy: y(p[key]).toFixed(1), r: 3, fill: colour});
        }
      }
      add('text', {x: L + 10 + i * 150, y: 22, fill: colour, 'font-size': 12}, label);
    });
    return svg;
  }

  function groupPage(view, r) {
    const d = detailOr(view, r);
    if (!d) return;
    const g = d.group;
    view.append(el('h2', {id: 'group-title', text: `VM group ${g.name}`}),
      el('p', {text: `${g.vms} VMs (${g.running} running, ${g.pending} pending), ` +
        `min ${g.min} / desired ${g.desired} / max ${g.max}, shape ${res(g.shape)}, ` +
        `${g.containers} containers`}),
      el('h2', {text: 'Size and pending containers over time'}), plot(d.history),
      el('h2', {text: 'VMs'}), vmTable(d.vms),
      el('h2', {text: 'Events'}), eventTable(d.events));
  }

  // A page left for another (or kept in the back/forward cache) must give
  // its stream's connection back: browsers allow six per server, and
  // lingering streams would make a later page load wait for one.
  window.addEventListener('pagehide', () => {
    if (state.source) { state.source.close(); state.source = null; }
  });
  window.addEventListener('pageshow', ev => {
    if (ev.persisted && state.me && state.cluster) { openStream(state.cluster.seq); refresh(); }
  });
  window.addEventListener('hashchange', () => {
    state.detail = null;
    render();
  });
  $('login-form').addEventListener('submit', async ev => {
    ev.preventDefault();
    const token = $('token').value.trim();
    $('token').value = '';
    try {
      const res = await fetch('/api/ui/login', {
        method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({token})});
      const body = await res.json();
      if (!res.ok) { $('login-error').textContent = body.error || res.statusText; return; }
      await start(body);
    } catch (e) {
      console.error(e);
      $('login-error').textContent = String(e.message || e);
    }
  });
  $('logout').addEventListener('click', async () => {
    await fetch('/api/ui/logout', {method: 'POST', credentials: 'same-origin'});
    showLogin('');
  });
  // Ages tick between events, and the group plot gains a sample every 5 s
  // (nestd samples on its own clock, not on events).
  setInterval(() => {
    const r = route();
    if (!state.me || r.page === 'packing') return;
    if (r.page !== 'group') return render();
    api(detailPath(r)).then(d => {
      if (location.hash === '#/' + ['group', r.tenant, r.name].map(encodeURIComponent).join('/')) {
        state.detail = d;
        render();
      }
    }).catch(() => {});
  }, 5000);

  const first = fetch('/api/ui/cluster', {credentials: 'same-origin'})
    .then(r => r.ok ? r.json() : null).catch(() => null);
  fetch('/api/ui/me', {credentials: 'same-origin'})
    .then(r => r.ok ? r.json().then(async me => start(me, await first))
                    : showLogin(''))
    .catch(() => showLogin(''));
})();
