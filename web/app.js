// The portrait dashboard: plain JavaScript over the HTTP API, charts with Apache ECharts.
// The token lives in sessionStorage and goes with every /api call as a bearer token.
'use strict';

(function () {
  const TOKEN_KEY = 'portrait.token';
  const LANG_KEY = 'portrait.lang';
  const PALETTE = ['#1d4179', '#2f6fb3', '#5b9bd5', '#c9a45c', '#6aa88f', '#e07a5f', '#8e7cc3',
    '#9fb4cc', '#3d8a9e', '#d4b483'];

  // ---- i18n ---------------------------------------------------------------------------------
  // Labels: one dictionary per language, web/i18n/zh.json and web/i18n/en.json (shared with
  // the Excel workbooks): `ui` strings of the page, `fields` (column → label), `prefixes`
  // (`share_` → '{x}消费占比') and `values` (coded value → label). Loaded before the first page.
  const DICT = { zh: null, en: null };
  async function loadDicts() {
    await Promise.all(['zh', 'en'].map(async (l) => {
      const r = await fetch('/assets/i18n/' + l + '.json');
      if (!r.ok) throw new Error(`/assets/i18n/${l}.json: ${r.status}`);
      DICT[l] = await r.json();
    }));
  }

  let lang = localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'zh';
  const zh = () => lang === 'zh';
  function t(key, vars) {
    let s = DICT[lang].ui[key] || DICT.zh.ui[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace('{' + k + '}', v);
    return s;
  }
  function lv(v) {
    if (v === null || v === undefined || v === '') return t('unknown');
    const d = DICT[lang].values;
    return Object.prototype.hasOwnProperty.call(d, v) ? d[v] : String(v);
  }
  // A column's label: its own, else a prefix's template around the label of the rest.
  function lf(k) {
    const d = DICT[lang];
    if (d.fields[k] !== undefined) return d.fields[k];
    const p = Object.keys(d.prefixes).filter((x) => k.startsWith(x) && k.length > x.length)
      .sort((a, b) => b.length - a.length)[0];
    if (p) { const x = k.slice(p.length); return d.prefixes[p].replace('{x}', d.values[x] || x); }
    return k;
  }
  let tagLabels = {};
  function ltag(tag) { const e = tagLabels[tag]; return e ? e[zh() ? 0 : 1] : tag; }

  // ---- helpers ------------------------------------------------------------------------------
  const $ = (sel, root) => (root || document).querySelector(sel);
  function esc(v) {
    return String(v === null || v === undefined ? '' : v).replace(/[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }
  function num(v, digits) {
    if (v === null || v === undefined) return '—';
    return new Intl.NumberFormat(zh() ? 'zh-CN' : 'en-US', { maximumFractionDigits: digits || 0 }).format(v);
  }
  const pct = (v, d) => (v === null || v === undefined ? '—' : (v * 100).toFixed(d === undefined ? 1 : d) + '%');
  const yi = (v) => (v === null || v === undefined ? '—' : num(v / 1e8, 2));
  function money(v) {
    if (v === null || v === undefined) return '—';
    if (Math.abs(v) >= 1e8) return num(v / 1e8, 2) + (zh() ? ' 亿' : ' × 100 M');
    if (Math.abs(v) >= 1e4) return num(v / 1e4, 1) + (zh() ? ' 万' : ' × 10 k');
    return num(v, 2);
  }
  function debounce(fn, ms) {
    let h;
    return (...a) => { clearTimeout(h); h = setTimeout(() => fn(...a), ms); };
  }

  // ---- API ----------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }
  async function api(path, opts) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = { Authorization: 'Bearer ' + token };
    const init = { method: 'GET', headers };
    if (opts && opts.body !== undefined) {
      init.method = 'POST';
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    if (opts && opts.signal) init.signal = opts.signal;
    const r = await fetch(path, init);
    let body = null;
    try { body = await r.json(); } catch (_) { body = null; }
    if (!r.ok) {
      const e = (body && body.error) || {};
      if (r.status === 401) { showLogin(t('login.bad')); }
      throw new ApiError(r.status, e.code || String(r.status), e.message || r.statusText);
    }
    return body;
  }
  // A file from a POST: saved through a link to its bytes; the export id comes back.
  async function download(path, body, filename) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const r = await fetch(path, {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!r.ok) {
      let e = {};
      try { e = ((await r.json()) || {}).error || {}; } catch (_) { /* not JSON */ }
      if (r.status === 401) { showLogin(t('login.bad')); }
      throw new ApiError(r.status, e.code || String(r.status), e.message || r.statusText);
    }
    const blob = await r.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    return { exportId: r.headers.get('x-export-id') || '', bytes: blob.size };
  }
  const qs = (o) => Object.entries(o).map(([k, v]) => k + '=' + encodeURIComponent(v)).join('&');

  // ---- charts -------------------------------------------------------------------------------
  let charts = [];
  function chart(el, option) {
    const c = echarts.init(el, null, { renderer: 'canvas' });
    c.setOption(Object.assign({ color: PALETTE, textStyle: { fontFamily: getComputedStyle(document.documentElement).fontFamily } }, option));
    charts.push(c);
    return c;
  }
  function disposeCharts() { charts.forEach((c) => c.dispose()); charts = []; }
  window.addEventListener('resize', debounce(() => charts.forEach((c) => c.resize()), 150));

  const grid = { left: 12, right: 20, top: 24, bottom: 8, containLabel: true };
  function bar(el, rows, opts) {
    const o = opts || {};
    const cats = rows.map((r) => (o.label ? o.label(r) : lv(r.value)));
    const vals = rows.map((r) => (o.val ? o.val(r) : r.parties));
    const horizontal = !!o.horizontal;
    const catAxis = { type: 'category', data: cats, axisTick: { show: false }, inverse: horizontal,
      axisLabel: { interval: 0, rotate: !horizontal && cats.length > 8 ? 30 : 0 } };
    const valAxis = { type: 'value', splitLine: { lineStyle: { color: '#eef1f6' } } };
    return chart(el, {
      grid, tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      xAxis: horizontal ? valAxis : catAxis, yAxis: horizontal ? catAxis : valAxis,
      series: [{ type: 'bar', data: vals, name: o.name || t('parties'), barMaxWidth: 36,
        itemStyle: { color: o.color || PALETTE[1], borderRadius: horizontal ? [0, 4, 4, 0] : [4, 4, 0, 0] } }],
    });
  }
  function pie(el, rows, opts) {
    const o = opts || {};
    return chart(el, {
      tooltip: { trigger: 'item', formatter: (p) => `${esc(p.name)}<br>${num(p.value)} (${p.percent}%)` },
      legend: { bottom: 0, type: 'scroll' },
      series: [{ type: 'pie', radius: ['42%', '68%'], center: ['50%', '44%'], avoidLabelOverlap: true,
        itemStyle: { borderColor: '#fff', borderWidth: 2 },
        label: { formatter: '{d}%', fontSize: 11 }, labelLine: { length: 6, length2: 6 },
        data: rows.map((r) => ({ name: o.label ? o.label(r) : lv(r.value), value: o.val ? o.val(r) : r.parties })) }],
    });
  }

  // ---- shell --------------------------------------------------------------------------------
  let me = null;
  function applyStatic() {
    document.documentElement.lang = zh() ? 'zh-CN' : 'en';
    document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll('.lang-toggle').forEach((b) => { b.textContent = zh() ? 'English' : '中文'; });
    $('#token').placeholder = 'pt_…';
    if (me) $('#who').textContent = `${me.user} · ${me.role}`;
    document.title = 'Portrait · ' + t('app.name');
  }
  function showLogin(message) {
    disposeCharts();
    $('#shell').hidden = true;
    $('#login').hidden = false;
    const err = $('#login-error');
    err.hidden = !message;
    err.textContent = message || '';
    $('#token').focus();
  }
  async function start() {
    try {
      me = await api('/api/me');
    } catch (e) {
      if (e.status !== 401) showLogin(e.message);
      return;
    }
    $('#login').hidden = true;
    $('#shell').hidden = false;
    applyStatic();
    route();
  }
  $('#login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
    $('#token').value = '';
    start();
  });
  $('#logout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    me = null;
    showLogin('');
  });
  document.querySelectorAll('.lang-toggle').forEach((b) => b.addEventListener('click', () => {
    lang = zh() ? 'en' : 'zh';
    localStorage.setItem(LANG_KEY, lang);
    applyStatic();
    if (!$('#shell').hidden) route();
  }));

  // ---- routing ------------------------------------------------------------------------------
  const PAGES = { overview, rfm: rfmPage, segments: segmentsPage, audience: audiencePage,
    affinity: affinityPage, customers: customersPage, customer: customerPage, coverage: coveragePage,
    audit: auditPage };
  // The route each page reads: the navigation shows the pages whose route the caller's role may
  // call (`/api/me` lists them) and opens the first of them.
  const PAGE_API = { overview: '/api/overview', rfm: '/api/rfm', segments: '/api/segments',
    audience: '/api/audience/count', affinity: '/api/tags/affinity', customers: '/api/customers',
    customer: '/api/customers',
    coverage: '/api/coverage', audit: '/api/audit' };
  const allowed = (page) => !me || (me.routes || []).some((r) => r.path === PAGE_API[page]);
  let generation = 0;
  async function route() {
    const first = Object.keys(PAGE_API).find(allowed) || 'overview';
    const parts = (location.hash.replace(/^#\/?/, '') || first).split('/');
    const name = PAGES[parts[0]] && allowed(parts[0]) ? parts[0] : first;
    document.querySelectorAll('.side a[data-page]').forEach((a) => { a.hidden = !allowed(a.dataset.page); });
    const arg = parts.slice(1).map(decodeURIComponent).join('/');
    document.querySelectorAll('.side a').forEach((a) => {
      a.classList.toggle('active', a.dataset.page === name || (name === 'customer' && a.dataset.page === 'customers'));
    });
    $('#title').textContent = t('nav.' + name);
    disposeCharts();
    const view = $('#view');
    view.innerHTML = `<div class="loading">${esc(t('loading'))}</div>`;
    const gen = ++generation;
    try {
      await PAGES[name](view, arg, () => gen === generation);
    } catch (e) {
      if (gen !== generation) return;
      if (e.status === 401) return;
      view.innerHTML = `<div class="card"><p class="error">${esc(e.status === 403 ? t('forbidden') : e.message)}</p></div>`;
    }
  }
  window.addEventListener('hashchange', () => { if (!$('#shell').hidden) route(); });

  // ---- overview -----------------------------------------------------------------------------
  async function overview(view, _arg, live) {
    const [o, d] = await Promise.all([api('/api/overview'), api('/api/distributions')]);
    if (!live()) return;
    $('#asof').textContent = `${t('asof')} ${o.as_of || '—'}`;
    const active = (o.recency_classes || []).find((r) => r.value === 'active');
    view.innerHTML = `
      <section class="cards">
        <div class="card figure"><div class="label">${esc(t('fig.parties'))}</div><div class="value">${num(o.parties)}</div>
          <div class="sub">${esc(t('asof'))} ${esc(o.as_of)}</div></div>
        <div class="card figure"><div class="label">${esc(t('fig.customers'))}</div><div class="value">${num(o.customers)}</div>
          <div class="sub">${esc(t('fig.customers.sub', { n: num(o.parties) }))}</div></div>
        <div class="card figure"><div class="label">${esc(t('fig.households'))}</div><div class="value">${num(o.households)}</div></div>
        <div class="card figure gold"><div class="label">${esc(t('fig.assets'))}</div><div class="value">${yi(o.financial_assets)}</div>
          <div class="sub">${esc(t('fig.assets.sub'))}</div></div>
        <div class="card figure gold"><div class="label">${esc(t('fig.pb'))}</div><div class="value">${num(o.private_banking)}</div></div>
        <div class="card figure"><div class="label">${esc(t('fig.active'))}</div><div class="value">${num(active ? active.parties : null)}</div>
          <div class="sub">${active && o.parties ? pct(active.parties / o.parties) : ''}</div></div>
      </section>
      <section class="grid2">
        <div class="card"><h2>${esc(t('d.age_group'))}</h2><div class="chart" id="c-age"></div></div>
        <div class="card"><h2>${esc(t('d.province'))}</h2><div class="chart" id="c-prov"></div></div>
      </section>
      <section class="grid3">
        <div class="card"><h2>${esc(t('d.gender'))}</h2><div class="chart" id="c-gender"></div></div>
        <div class="card"><h2>${esc(t('d.channel'))}</h2><div class="chart" id="c-channel"></div></div>
        <div class="card"><h2>${esc(t('d.recency_class'))}</h2><div class="chart" id="c-recency"></div></div>
      </section>
      <section class="grid2">
        <div class="card"><h2>${esc(t('d.asset_tier'))}</h2><div class="chart" id="c-tier"></div></div>
        <div class="card"><h2>${esc(t('d.assets_by_tier'))}</h2><div class="chart" id="c-tier-assets"></div></div>
      </section>`;
    const ageOrder = (v) => (v === null ? 99 : v === '<18' ? 0 : parseInt(v, 10) || 98);
    const ages = [...(d.age_group || [])].sort((a, b) => ageOrder(a.value) - ageOrder(b.value));
    bar($('#c-age'), ages);
    bar($('#c-prov'), (d.province || []).filter((r) => r.value !== null).slice(0, 15), { horizontal: true, color: PALETTE[0] });
    pie($('#c-gender'), d.gender || []);
    pie($('#c-channel'), d.channel || []);
    pie($('#c-recency'), d.recency_class || []);
    const tierOrder = ['diamond', 'platinum', 'gold', 'silver', 'ordinary'];
    const tiers = [...(d.asset_tier || [])].sort((a, b) => tierOrder.indexOf(a.value) - tierOrder.indexOf(b.value));
    pie($('#c-tier'), tiers);
    const ta = [...(o.asset_tiers || [])].sort((a, b) => tierOrder.indexOf(a.value) - tierOrder.indexOf(b.value));
    bar($('#c-tier-assets'), ta, { val: (r) => +(r.financial_assets / 1e8).toFixed(2), name: t('fig.assets'), color: PALETTE[3] });
  }

  // ---- RFM and retention --------------------------------------------------------------------
  async function rfmPage(view, _arg, live) {
    const [r, ret] = await Promise.all([api('/api/rfm'), api('/api/retention')]);
    if (!live()) return;
    const table = (rows) => `<table><thead><tr><th>${esc(t('ret.group'))}</th><th class="num">${esc(t('parties'))}</th>
        <th class="num">${esc(t('clv'))}</th><th class="num">${esc(t('churn'))}</th><th class="num">${esc(t('assets'))}</th></tr></thead>
        <tbody>${rows.map((g) => `<tr><td>${esc(lv(g.value))}</td><td class="num">${num(g.parties)}</td>
        <td class="num">${money(g.clv)}</td><td class="num">${pct(g.churn_probability)}</td>
        <td class="num">${money(g.financial_assets)}</td></tr>`).join('')}</tbody></table>`;
    view.innerHTML = `
      <section class="grid2">
        <div class="card"><h2>${esc(t('rfm.matrix'))}</h2><div class="chart tall" id="c-rfm"></div></div>
        <div class="card"><h2>${esc(t('rfm.classes'))}</h2><div class="chart tall" id="c-classes"></div></div>
      </section>
      <section class="grid2">
        <div class="card"><h2>${esc(t('ret.groups'))}</h2><div class="chart" id="c-ret"></div>${table(ret.retention_groups || [])}</div>
        <div class="card"><h2>${esc(t('ret.recency'))}</h2><div class="chart" id="c-rec"></div>${table(ret.recency_classes || [])}</div>
      </section>
      <section class="grid2">${churnModelCard(ret.churn_model)}${atRiskCard(ret.at_risk || [])}</section>`;
    const cells = r.cells || [];
    const scores = [1, 2, 3, 4, 5];
    const max = Math.max(1, ...cells.map((c) => c.parties));
    const byKey = {};
    cells.forEach((c) => { byKey[c.r_score + ',' + c.f_score] = c; });
    chart($('#c-rfm'), {
      tooltip: { formatter: (p) => { const c = byKey[p.data[0] + 1 + ',' + (p.data[1] + 1)];
        return c ? `R ${c.r_score} · F ${c.f_score}<br>${esc(t('parties'))}: ${num(c.parties)}<br>${esc(t('rfm.avg'))}: ${money(c.avg_monetary)}` : ''; } },
      grid: { left: 60, right: 90, top: 10, bottom: 50 },
      xAxis: { type: 'category', data: scores.map(String), name: t('rfm.r'), nameLocation: 'middle', nameGap: 28, splitArea: { show: true } },
      yAxis: { type: 'category', data: scores.map(String), name: t('rfm.f'), nameLocation: 'middle', nameGap: 36, splitArea: { show: true } },
      visualMap: { min: 0, max, calculable: true, orient: 'vertical', right: 0, top: 'middle', itemHeight: 200,
        inRange: { color: ['#eef3fa', '#9fc0e4', '#2f6fb3', '#14305a'] } },
      series: [{ type: 'heatmap', name: t('parties'), label: { show: true },
        data: cells.map((c) => [c.r_score - 1, c.f_score - 1, c.parties]),
        emphasis: { itemStyle: { shadowBlur: 8, shadowColor: 'rgba(0,0,0,.3)' } } }],
    });
    bar($('#c-classes'), r.classes || [], { horizontal: true, color: PALETTE[0] });
    const retBars = (el, rows) => chart(el, {
      grid, tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } }, legend: { top: 0 },
      xAxis: { type: 'category', data: rows.map((g) => lv(g.value)), axisLabel: { interval: 0, fontSize: 11 } },
      yAxis: [{ type: 'value', splitLine: { lineStyle: { color: '#eef1f6' } } },
        { type: 'value', max: 1, axisLabel: { formatter: (v) => v * 100 + '%' }, splitLine: { show: false } }],
      series: [{ type: 'bar', name: t('parties'), data: rows.map((g) => g.parties), barMaxWidth: 36, itemStyle: { color: PALETTE[1] } },
        { type: 'scatter', symbolSize: 11, name: t('churn'), yAxisIndex: 1, data: rows.map((g) => +(g.churn_probability || 0).toFixed(3)), itemStyle: { color: PALETTE[5] } }],
    });
    retBars($('#c-ret'), ret.retention_groups || []);
    retBars($('#c-rec'), ret.recency_classes || []);
    const m = ret.churn_model;
    const bins = (m && m.calibration && m.calibration.table) || [];
    if (bins.length && $('#c-calib')) {
      chart($('#c-calib'), {
        grid, tooltip: { trigger: 'item', formatter: (p) => `${esc(t('ret.predicted'))} ${pct(p.data[0])}<br>${esc(t('ret.observed'))} ${pct(p.data[1])}<br>${esc(t('parties'))} ${num(p.data[2])}` },
        xAxis: { type: 'value', min: 0, max: 1, name: t('ret.predicted'), nameLocation: 'middle', nameGap: 24, axisLabel: { formatter: (v) => v * 100 + '%' } },
        yAxis: { type: 'value', min: 0, max: 1, name: t('ret.observed'), axisLabel: { formatter: (v) => v * 100 + '%' } },
        series: [{ type: 'line', data: [[0, 0], [1, 1]], symbol: 'none', lineStyle: { type: 'dashed', color: '#9aa5b4' }, silent: true },
          { type: 'scatter', data: bins.map((b) => [b.mean_predicted, b.observed_rate, b.count]),
            symbolSize: (d) => 6 + Math.min(18, Math.sqrt(d[2])), itemStyle: { color: PALETTE[5] } }],
      });
    }
    view.querySelectorAll('tr[data-id]').forEach((tr) => tr.addEventListener('click', () => {
      location.hash = '#/customer/' + encodeURIComponent(tr.dataset.id);
    }));
  }

  function churnModelCard(m) {
    if (!m || !m.evaluations) return `<div class="card"><h2>${esc(t('ret.calib'))}</h2><p>${esc(t('ret.nomodel'))}</p></div>`;
    const title = t('ret.model').replace('{d}', m.test_as_of).replace('{n}', num(m.n_test)).replace('{r}', pct(m.test_churn_rate));
    const rows = m.evaluations.map((e) => `<tr><td>${esc(e.model)}${e.model === m.scored_with ? ' ✓' : ''}</td>
        <td class="num">${(+e.auc).toFixed(3)}</td><td class="num">${(+e.pr_auc).toFixed(3)}</td>
        <td class="num">${(+e.lift_at_10pct).toFixed(2)}</td><td class="num">${pct(e.capture_at_10pct)}</td></tr>`).join('');
    const c = m.calibration || {};
    return `<div class="card"><h2>${esc(title)}</h2>
      <table><thead><tr><th></th><th class="num">ROC-AUC</th><th class="num">PR-AUC</th><th class="num">lift@10%</th><th class="num">capture@10%</th></tr></thead><tbody>${rows}</tbody></table>
      <p>${esc(t('ret.calibration'))}: ${esc(c.method || 'none')} · Brier ${(+c.brier_raw || 0).toFixed(4)} → ${(+c.brier_calibrated || 0).toFixed(4)} · ${esc(t('ret.churned'))}: ${num(m.churned_at_as_of || 0)}</p>
      <h3>${esc(t('ret.calib'))}</h3><div class="chart" id="c-calib"></div></div>`;
  }

  function atRiskCard(rows) {
    return `<div class="card"><h2>${esc(t('ret.atrisk'))}</h2><table><thead><tr><th>${esc(t('ret.party'))}</th>
      <th class="num">${esc(t('churn'))}</th><th class="num">${esc(t('clv'))}</th><th>${esc(t('ret.group'))}</th><th class="num">${esc(t('recency_days'))}</th></tr></thead>
      <tbody>${rows.map((r) => `<tr data-id="${esc(r.party_id)}" class="link"><td>${esc(r.party_id)}</td><td class="num">${pct(r.churn_probability)}</td>
      <td class="num">${money(r.clv)}</td><td>${esc(lv(r.retention_group))}</td><td class="num">${num(r.recency_days)}</td></tr>`).join('')}</tbody></table></div>`;
  }

  // ---- segments -----------------------------------------------------------------------------
  async function segmentsPage(view, _arg, live) {
    const s = await api('/api/segments');
    if (!live()) return;
    const models = {};
    (s.segments || []).forEach((r) => { (models[r.model] = models[r.model] || []).push(r); });
    const names = Object.keys(models);
    if (!names.length) { view.innerHTML = `<div class="card empty">${esc(t('none'))}</div>`; return; }
    const label = (r) => (zh() ? r.label_zh || r.label : r.label) || String(r.segment);
    view.innerHTML = names.map((m, i) => `
      <section class="card">
        <h2>${esc(t('seg.model'))}: ${esc(m)}</h2>
        <div class="chart" id="c-seg-${i}"></div>
        <table><thead><tr><th>${esc(t('seg.segment'))}</th><th>${esc(t('seg.label'))}</th><th class="num">${esc(t('seg.size'))}</th>
          <th class="num">${esc(t('share'))}</th><th class="num">${esc(t('value_share'))}</th><th>${esc(t('seg.action'))}</th>
          <th>${esc(t('seg.persona'))}</th></tr></thead>
        <tbody>${models[m].map((r) => `<tr class="click" data-expr="${esc('segment_' + m + ':' + quoteValue(r.segment + '-' + r.label))}">
          <td>${esc(r.segment)}</td><td><b>${esc(label(r))}</b></td><td class="num">${num(r.size)}</td>
          <td class="num">${pct(r.share)}</td><td class="num">${pct(r.value_share)}</td>
          <td><span class="badge">${esc(lv(r.action))}</span></td>
          <td class="persona">${esc(zh() ? r.persona_zh || r.persona : r.persona)}</td></tr>`).join('')}</tbody></table>
      </section>`).join('');
    view.querySelectorAll('tr[data-expr]').forEach((tr) => tr.addEventListener('click', () => {
      sessionStorage.setItem('portrait.expr', tr.dataset.expr);
      location.hash = '#/audience';
    }));
    names.forEach((m, i) => {
      const rows = models[m];
      chart($(`#c-seg-${i}`), {
        grid, legend: { top: 0 }, tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => v + '%' },
        xAxis: { type: 'category', data: rows.map(label), axisLabel: { interval: 0 } },
        yAxis: { type: 'value', axisLabel: { formatter: '{value}%' }, splitLine: { lineStyle: { color: '#eef1f6' } } },
        series: [
          { type: 'bar', name: t('share'), data: rows.map((r) => +(r.share * 100).toFixed(1)), barMaxWidth: 30, itemStyle: { color: PALETTE[1] } },
          { type: 'bar', name: t('value_share'), data: rows.map((r) => +(r.value_share * 100).toFixed(1)), barMaxWidth: 30, itemStyle: { color: PALETTE[3] } },
        ],
      });
    });
  }

  // ---- audience builder ---------------------------------------------------------------------
  let catalogue = null;
  async function loadCatalogue() {
    if (!catalogue) {
      catalogue = await api('/api/tags');
      tagLabels = {};
      catalogue.tags.forEach((x) => { tagLabels[x.tag] = [x.label_zh, x.label_en]; });
    }
    return catalogue;
  }
  function quoteValue(v) { return /^[A-Za-z0-9_\-\u4e00-\u9fff]+$/.test(v) && !/^-/.test(v) ? v : '"' + v.replace(/"/g, '\\"') + '"'; }

  async function audiencePage(view, _arg, live) {
    const cat = await loadCatalogue();
    let saved = { audiences: [] };
    try { saved = await api('/api/audiences'); } catch (_) { /* listed below when allowed */ }
    if (!live()) return;
    const initial = sessionStorage.getItem('portrait.expr') || 'gender:female AND asset_tier:(gold|platinum|diamond)';
    const byDefault = 'age_group';
    view.innerHTML = `
      <div class="audience-layout">
        <div style="display:flex;flex-direction:column;gap:20px;min-width:0">
          <section class="card">
            <h2>${esc(t('aud.expr'))}</h2>
            <textarea id="expr" rows="3" spellcheck="false" placeholder="${esc(t('aud.placeholder'))}"></textarea>
            <p id="expr-error" class="error" hidden></p>
            <div class="row" style="margin-top:14px;justify-content:space-between;align-items:flex-end">
              <div><div class="muted">${esc(t('aud.count'))}</div><div class="big" id="count">—</div>
                <div class="muted" id="count-sub">&nbsp;</div></div>
              <div class="row"><input id="aud-name" placeholder="${esc(t('aud.name'))}" maxlength="100">
                <button class="btn primary" id="save">${esc(t('aud.save'))}</button>
                <button class="btn" id="export-csv">${esc(t('aud.export.csv'))}</button>
                <button class="btn" id="export-xlsx">${esc(t('aud.export.xlsx'))}</button></div>
            </div>
            <p id="save-msg" class="muted" hidden></p>
          </section>
          <section class="card">
            <div class="row" style="justify-content:space-between"><h2 style="margin:0">${esc(t('aud.breakdown'))}</h2>
              <label class="row">${esc(t('aud.by'))}
              <select id="by">${cat.tags.map((x) => `<option value="${esc(x.tag)}"${x.tag === byDefault ? ' selected' : ''}>${esc(zh() ? x.label_zh : x.label_en)} (${esc(x.tag)})</option>`).join('')}</select></label></div>
            <div class="chart tall" id="c-breakdown"></div>
          </section>
          <section class="card"><h2>${esc(t('aud.portrait'))}</h2><p class="muted">${esc(t('aud.portrait.hint'))}</p>
            <div id="portrait"></div></section>
          <section class="card"><h2>${esc(t('aud.ll'))}</h2><p class="muted">${esc(t('aud.ll.hint'))}</p>
            <div class="row"><label class="row">${esc(t('aud.ll.size'))} <input id="ll-size" type="number" min="1" max="100000" value="1000" style="width:8em"></label>
              <button class="btn" id="ll-run">${esc(t('aud.ll.run'))}</button>
              <button class="btn" id="ll-save" hidden>${esc(t('aud.ll.save'))}</button></div>
            <p id="ll-msg" class="muted" hidden></p><div id="ll-out"></div></section>
          <section class="card"><h2>${esc(t('aud.list'))}</h2><div id="saved"></div></section>
        </div>
        <section class="card catalogue"><h2>${esc(t('aud.catalogue'))}</h2><p class="muted">${esc(t('aud.catalogue.hint'))}</p>
          ${cat.tags.map((x) => `<details><summary>${esc(zh() ? x.label_zh : x.label_en)} <span class="muted">${esc(x.tag)} · ${num(x.parties)}</span></summary>
            <div class="chips">${x.values.map((v) => `<button class="chip" data-term="${esc(x.tag + ':' + quoteValue(v.value))}">${esc(lv(v.value))} <span class="muted">${num(v.parties)}</span></button>`).join('')}</div></details>`).join('')}
        </section>
      </div>`;
    const exprEl = $('#expr');
    exprEl.value = initial;
    // A saved lookalike's request (`@lookalike {json}`): its exclusion and method are kept when
    // it is run or saved again from here, until the expression is edited.
    const LOOKALIKE = '@lookalike ';
    let llSpec = null;
    let llBusy = false;
    const bdChart = chart($('#c-breakdown'), {});
    let controller = null;
    const renderSaved = (list) => {
      $('#saved').innerHTML = list.length ? `<table><thead><tr><th>${esc(t('aud.name'))}</th><th>${esc(t('aud.expr'))}</th>
        <th class="num">${esc(t('parties'))}</th><th>${esc(t('aud.savedat'))}</th></tr></thead><tbody>
        ${list.map((a) => `<tr class="click" data-expr="${esc(a.expr)}"><td>${esc(a.audience)}</td><td><code>${esc(a.expr)}</code></td>
        <td class="num">${num(a.parties)}</td><td>${esc(a.saved_at)}</td></tr>`).join('')}</tbody></table>`
        : `<div class="empty">${esc(t('none'))}</div>`;
      $('#saved').querySelectorAll('tr[data-expr]').forEach((tr) => tr.addEventListener('click', () => {
        // A saved lookalike keeps its request: its seed goes to the editor, its size below.
        const e = tr.dataset.expr;
        llSpec = null;
        if (e.startsWith(LOOKALIKE)) {
          try { llSpec = JSON.parse(e.slice(LOOKALIKE.length)); } catch (_) { return; }
          exprEl.value = llSpec.seed;
          $('#ll-size').value = llSpec.size;
        } else exprEl.value = e;
        update();
      }));
    };
    renderSaved(saved.audiences || []);
    const tagLabel = (tag) => {
      const x = cat.tags.find((c) => c.tag === tag);
      return x ? (zh() ? x.label_zh : x.label_en) : tag;
    };
    const renderPortrait = (p) => {
      const el = $('#portrait');
      if (!p) { el.innerHTML = ''; return; }
      if (p.suppressed) { el.innerHTML = `<div class="empty">${esc(t('aud.portrait.small', { n: num(p.min_parties) }))}</div>`; return; }
      if (!p.rows.length) { el.innerHTML = `<div class="empty">${esc(t('none'))}</div>`; return; }
      const pv = (x) => (x < 0.001 ? '<0.001' : x.toFixed(3));
      el.innerHTML = `<table><thead><tr><th>${esc(t('aud.tag'))}</th><th>${esc(t('aud.value'))}</th>
        <th class="num">${esc(t('aud.audience'))}</th><th class="num">${esc(t('aud.all'))}</th>
        <th class="num">${esc(t('aud.lift'))}</th><th class="num">p</th></tr></thead><tbody>
        ${p.rows.map((r) => `<tr><td>${esc(tagLabel(r.tag))}</td><td>${esc(lv(r.value))}</td><td class="num">${pct(r.share)}</td>
        <td class="num">${pct(r.population_share)}</td><td class="num">${r.lift.toFixed(2)}</td><td class="num">${pv(r.p_value)}</td></tr>`).join('')}
        </tbody></table>`;
    };
    async function update() {
      const expr = exprEl.value.trim();
      sessionStorage.setItem('portrait.expr', expr);
      if (controller) controller.abort();
      if (!expr) { $('#count').textContent = '—'; $('#count-sub').innerHTML = '&nbsp;'; bdChart.clear(); renderPortrait(null); return; }
      controller = new AbortController();
      const signal = controller.signal;
      $('#count-sub').textContent = t('aud.typing');
      try {
        const by = $('#by').value;
        const [c, b, p] = await Promise.all([
          api('/api/audience/count?' + qs({ expr }), { signal }),
          api('/api/audience/breakdown?' + qs({ expr, by }), { signal }),
          api('/api/audience/portrait?' + qs({ expr }), { signal }),
        ]);
        if (!live()) return;
        $('#expr-error').hidden = true;
        $('#count').textContent = num(c.parties);
        $('#count-sub').textContent = `${t('aud.consenting')} ${num(c.consenting)} · ${pct(c.population ? c.parties / c.population : 0)} ${t('aud.population')}`;
        renderPortrait(p);
        const rows = b.rows || [];
        bdChart.setOption({
          grid, legend: { top: 0 },
          tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, formatter: (ps) => {
            const r = rows[ps[0].dataIndex];
            return `${esc(lv(r.value))}<br>${esc(t('aud.audience'))}: ${num(r.parties)} (${pct(r.share)})<br>${esc(t('aud.all'))}: ${num(r.population)} (${pct(r.population_share)})<br>${esc(t('aud.lift'))}: ${r.lift === null ? '—' : r.lift.toFixed(2)}`;
          } },
          xAxis: { type: 'category', data: rows.map((r) => lv(r.value)), axisLabel: { interval: 0, rotate: rows.length > 8 ? 30 : 0 } },
          yAxis: { type: 'value', axisLabel: { formatter: '{value}%' }, splitLine: { lineStyle: { color: '#eef1f6' } } },
          series: [
            { type: 'bar', name: t('aud.audience'), data: rows.map((r) => +((r.share || 0) * 100).toFixed(1)), barMaxWidth: 28, itemStyle: { color: PALETTE[1] } },
            { type: 'bar', name: t('aud.all'), data: rows.map((r) => +((r.population_share || 0) * 100).toFixed(1)), barMaxWidth: 28, itemStyle: { color: '#b9c6d8' } },
          ],
        }, true);
      } catch (e) {
        if (e.name === 'AbortError' || !live()) return;
        $('#expr-error').hidden = false;
        $('#expr-error').textContent = e.message;
        $('#count').textContent = '—';
        $('#count-sub').innerHTML = '&nbsp;';
        renderPortrait(null);
      }
    }
    const later = debounce(update, 300);
    exprEl.addEventListener('input', later);
    $('#by').addEventListener('change', update);
    view.querySelectorAll('button[data-term]').forEach((b) => b.addEventListener('click', () => {
      const cur = exprEl.value.trim();
      exprEl.value = cur ? cur + ' AND ' + b.dataset.term : b.dataset.term;
      update();
    }));
    $('#save').addEventListener('click', async () => {
      const msg = $('#save-msg');
      msg.hidden = false;
      msg.className = 'muted';
      try {
        const r = await api('/api/audience/save', { body: { name: $('#aud-name').value.trim(), expr: exprEl.value.trim() } });
        msg.textContent = t('aud.saved', { name: r.audience, n: num(r.parties) });
        const list = await api('/api/audiences');
        renderSaved(list.audiences || []);
      } catch (e) {
        msg.className = 'error';
        msg.textContent = e.status === 403 ? t('forbidden') : e.message;
      }
    });
    const exportAs = (format) => async () => {
      const msg = $('#save-msg');
      msg.hidden = false;
      msg.className = 'muted';
      try {
        const file = 'audience.' + format;
        const r = await download('/api/audience/export', { expr: exprEl.value.trim(), format, lang }, file);
        msg.textContent = t('aud.exported', { file, id: r.exportId });
      } catch (e) {
        msg.className = 'error';
        msg.textContent = e.status === 403 ? t('forbidden') : e.message;
      }
    };
    // 相似人群扩展: the parties most like the audience, and how the method was chosen.
    const lookalike = async (save) => {
      const msg = $('#ll-msg');
      msg.hidden = false;
      msg.className = 'muted';
      msg.textContent = t('aud.typing');
      if (llBusy) return;
      const body = { seed: exprEl.value.trim(), size: Number($('#ll-size').value) };
      if (llSpec && llSpec.seed === body.seed) {
        if (llSpec.exclude) body.exclude = llSpec.exclude;
        if (llSpec.method) body.method = llSpec.method;
      }
      if (save) body.save = $('#aud-name').value.trim();
      llBusy = true;
      $('#ll-run').disabled = true;
      $('#ll-save').disabled = true;
      try {
        const r = await api('/api/audience/lookalike', { body });
        if (!live()) return;
        const method = (m) => t('aud.ll.method.' + m);
        const checks = r.checks.length
          ? r.checks.map((c) => t('aud.ll.check', { m: method(c.method), h: num(c.hidden), r: pct(c.recall), b: pct(c.base_rate) })).join('；')
          : t('aud.ll.small');
        msg.textContent = `${t('aud.ll.result', { n: num(r.parties), m: method(r.method) })} · ${checks}`
          + (save ? ' · ' + t('aud.saved', { name: r.saved, n: num(r.parties) }) : '');
        $('#ll-out').innerHTML = `<table><thead><tr><th>${esc(t('aud.ll.party'))}</th><th class="num">${esc(t('aud.ll.score'))}</th>
          <th>${esc(t('aud.ll.why'))}</th></tr></thead><tbody>
          ${r.members.slice(0, 20).map((m) => `<tr class="click" data-id="${esc(m.party_id)}"><td><code>${esc(m.party_id)}</code></td>
          <td class="num">${m.score.toFixed(3)}</td><td>${m.why.map((w) => esc(lf(w.feature))).join('、')}</td></tr>`).join('')}</tbody></table>`;
        $('#ll-out').querySelectorAll('tr[data-id]').forEach((tr) => tr.addEventListener('click', () => {
          location.hash = '#/customer/' + encodeURIComponent(tr.dataset.id);
        }));
        $('#ll-save').hidden = !maySave;
        if (save) renderSaved((await api('/api/audiences')).audiences || []);
      } catch (e) {
        msg.className = 'error';
        msg.textContent = e.status === 403 ? t('forbidden') : e.message;
      } finally {
        llBusy = false;
        for (const id of ['#ll-run', '#ll-save']) { const b = $(id); if (b) b.disabled = false; }
      }
    };
    $('#ll-run').addEventListener('click', () => lookalike(false));
    $('#ll-save').addEventListener('click', () => lookalike(true));
    $('#export-csv').addEventListener('click', exportAs('csv'));
    $('#export-xlsx').addEventListener('click', exportAs('xlsx'));
    const mayExport = (me.routes || []).some((r) => r.path === '/api/audience/export');
    const maySave = (me.routes || []).some((r) => r.path === '/api/audience/save');
    $('#export-csv').hidden = !mayExport;
    $('#export-xlsx').hidden = !mayExport;
    update();
  }

  // ---- tag affinity (标签关联) -----------------------------------------------------------------
  async function affinityPage(view, arg, live) {
    const cat = await loadCatalogue();
    if (!live()) return;
    const initial = arg || sessionStorage.getItem('portrait.affinity') || 'interest:red_wine';
    view.innerHTML = `
      <section class="card"><form id="aff-form" class="row">
        <input id="aff-expr" style="flex:1;min-width:240px" spellcheck="false" maxlength="500" placeholder="${esc(t('aud.placeholder'))}">
        <button class="btn primary" type="submit">${esc(t('aff.go'))}</button></form>
        <p class="muted">${esc(t('aff.hint'))}</p><p id="aff-sub" class="muted"></p></section>
      <section class="card" style="margin-top:20px"><h2>${esc(t('aff.top'))}</h2><div class="chart tall" id="c-aff"></div></section>
      <section class="card" style="margin-top:20px"><h2>${esc(t('aff.rows'))}</h2><div id="aff-rows"></div></section>`;
    const input = $('#aff-expr');
    input.value = initial;
    const affChart = chart($('#c-aff'), {});
    const tagLabel = (tag) => {
      const x = cat.tags.find((c) => c.tag === tag);
      return x ? (zh() ? x.label_zh : x.label_en) : tag;
    };
    const load = async () => {
      const expr = input.value.trim();
      if (!expr) return;
      sessionStorage.setItem('portrait.affinity', expr);
      const rowsEl = $('#aff-rows');
      rowsEl.innerHTML = `<div class="loading">${esc(t('loading'))}</div>`;
      try {
        const r = await api('/api/tags/affinity?' + qs({ expr }));
        if (!live()) return;
        $('#aff-sub').textContent = t('aff.parties', { n: num(r.parties) });
        if (r.suppressed) {
          rowsEl.innerHTML = `<div class="empty">${esc(t('aud.portrait.small', { n: num(r.min_parties) }))}</div>`;
          affChart.clear();
          return;
        }
        const rows = r.rows || [];
        const name = (x) => `${tagLabel(x.tag)}：${lv(x.value)}`;
        rowsEl.innerHTML = rows.length ? `<table><thead><tr><th>${esc(t('aud.tag'))}</th><th>${esc(t('aud.value'))}</th>
          <th class="num">${esc(t('aff.both'))}</th><th class="num">${esc(t('aff.confidence'))}</th>
          <th class="num">${esc(t('aff.support'))}</th><th class="num">${esc(t('aud.lift'))}</th></tr></thead><tbody>
          ${rows.map((x) => `<tr><td>${esc(tagLabel(x.tag))}</td><td>${esc(lv(x.value))}</td><td class="num">${num(x.both)}</td>
          <td class="num">${pct(x.confidence)}</td><td class="num">${pct(x.support)}</td><td class="num">${x.lift.toFixed(2)}</td></tr>`).join('')}
          </tbody></table>` : `<div class="empty">${esc(t('none'))}</div>`;
        const top = rows.slice(0, 15).reverse();
        affChart.setOption({
          grid: { left: 160, right: 30, top: 10, bottom: 30 },
          tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
          xAxis: { type: 'value', name: t('aud.lift') },
          yAxis: { type: 'category', data: top.map(name) },
          series: [{ type: 'bar', data: top.map((x) => +x.lift.toFixed(2)), itemStyle: { color: PALETTE[1] }, barMaxWidth: 22 }],
        }, true);
      } catch (e) {
        if (e.status !== 401) rowsEl.innerHTML = `<p class="error">${esc(e.status === 403 ? t('forbidden') : e.message)}</p>`;
      }
    };
    $('#aff-form').addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
    await load();
  }

  // ---- coverage (满足度) ---------------------------------------------------------------------
  async function coveragePage(view, _arg, live) {
    const c = await api('/api/coverage');
    if (!live()) return;
    const rows = c.coverage || [];
    const tables = [...new Set(rows.map((r) => r.table))];
    const byTable = tables.map((tb) => {
      const rs = rows.filter((r) => r.table === tb);
      return { table: tb, columns: rs.length, rows: rs.length ? rs[0].rows : 0,
        mean: rs.reduce((s, r) => s + (r.coverage_pct || 0), 0) / Math.max(rs.length, 1) };
    });
    const low = rows.filter((r) => r.rows > 0 && r.coverage_pct < 80).length;
    view.innerHTML = `
      <section class="card"><h2>${esc(t('cov.tables'))}</h2>
        <p class="muted">${esc(t('cov.hint', { n: num(rows.length), low: num(low) }))}</p>
        <div class="chart" id="c-cov"></div></section>
      <section class="card" style="margin-top:20px"><h2>${esc(t('cov.columns'))}</h2>
        <label class="row">${esc(t('cov.table'))} <select id="cov-table"><option value="">${esc(t('cov.all'))}</option>
          ${tables.map((tb) => `<option value="${esc(tb)}">${esc(tb)}</option>`).join('')}</select></label>
        <div id="cov-rows" style="margin-top:12px"></div></section>`;
    bar($('#c-cov'), byTable, { label: (r) => r.table, val: (r) => +r.mean.toFixed(1), name: t('cov.mean') });
    const render = () => {
      const tb = $('#cov-table').value;
      const shown = rows.filter((r) => !tb || r.table === tb);
      $('#cov-rows').innerHTML = `<table><thead><tr><th>${esc(t('cov.table'))}</th><th>${esc(t('cov.column'))}</th>
        <th class="num">${esc(t('cov.rows'))}</th><th class="num">${esc(t('cov.valid'))}</th><th class="num">${esc(t('cov.pct'))}</th><th></th></tr></thead><tbody>
        ${shown.map((r) => `<tr><td>${esc(r.table)}</td><td>${esc(zh() ? r.label : lf(r.column))} <span class="muted">${esc(r.column)}</span></td>
          <td class="num">${num(r.rows)}</td><td class="num">${num(r.valid)}</td><td class="num">${num(r.coverage_pct, 1)}%</td>
          <td style="width:160px"><div class="meter"><span style="width:${Math.max(0, Math.min(100, r.coverage_pct || 0))}%"></span></div></td></tr>`).join('')}
        </tbody></table>`;
    };
    $('#cov-table').addEventListener('change', render);
    render();
  }

  // ---- audit log (审计日志) ------------------------------------------------------------------
  async function auditPage(view, arg) {
    const init = { user: '', action: '', export_id: arg || '', limit: '100' };
    view.innerHTML = `
      <section class="card"><h2>${esc(t('audit.title'))}</h2>
        <form class="row" id="audit-form" style="flex-wrap:wrap;gap:10px">
          <input id="f-user" placeholder="${esc(t('audit.user'))}" value="${esc(init.user)}">
          <input id="f-action" placeholder="${esc(t('audit.action'))}" value="${esc(init.action)}">
          <input id="f-export" placeholder="${esc(t('audit.export'))}" value="${esc(init.export_id)}">
          <select id="f-limit">${['50', '100', '500', '1000'].map((n) => `<option${n === init.limit ? ' selected' : ''}>${n}</option>`).join('')}</select>
          <button class="btn primary" type="submit">${esc(t('audit.filter'))}</button>
        </form>
        <p class="muted">${esc(t('audit.hint'))}</p>
        <div id="audit-rows"></div></section>`;
    const load = async () => {
      const q = {};
      const user = $('#f-user').value.trim(), action = $('#f-action').value.trim(), exp = $('#f-export').value.trim();
      if (user) q.user = user;
      if (action) q.action = action;
      if (exp) q.export_id = exp;
      q.limit = $('#f-limit').value;
      const r = await api('/api/audit?' + qs(q));
      const entries = r.entries || [];
      $('#audit-rows').innerHTML = entries.length ? `<table><thead><tr><th>${esc(t('audit.at'))}</th><th>${esc(t('audit.user'))}</th>
        <th>${esc(t('audit.role'))}</th><th>${esc(t('audit.action'))}</th><th class="num">${esc(t('audit.status'))}</th>
        <th class="num">${esc(t('audit.rows'))}</th><th>${esc(t('audit.export'))}</th><th>${esc(t('audit.params'))}</th></tr></thead><tbody>
        ${entries.map((e) => `<tr><td>${esc(e.at)}</td><td>${esc(e.user)}</td><td>${esc(e.role)}</td><td><code>${esc(e.action)}</code></td>
          <td class="num">${esc(e.status)}</td><td class="num">${num(e.rows)}</td>
          <td>${e.export_id ? `<a href="#/audit/${encodeURIComponent(e.export_id)}" class="export-id">${esc(e.export_id)}</a>` : ''}</td>
          <td><code class="params">${esc(JSON.stringify(e.params))}</code></td></tr>`).join('')}</tbody></table>`
        : `<div class="empty">${esc(t('none'))}</div>`;
    };
    const shown = () => load().catch((e) => {
      $('#audit-rows').innerHTML = `<p class="error">${esc(e.status === 403 ? t('forbidden') : e.message)}</p>`;
    });
    $('#audit-form').addEventListener('submit', (ev) => { ev.preventDefault(); shown(); });
    await load();
  }

  // ---- customers ----------------------------------------------------------------------------
  async function customersPage(view, arg) {
    const q = arg || sessionStorage.getItem('portrait.q') || '';
    view.innerHTML = `
      <section class="card"><form id="search" class="row">
        <input id="q" style="flex:1;min-width:240px" placeholder="${esc(t('cs.search'))}" maxlength="64">
        <button class="btn primary" type="submit">${esc(t('cs.go'))}</button></form></section>
      <section class="card"><h2>${esc(t('cs.results'))}</h2><div id="results"><div class="empty">${esc(t('cs.search'))}</div></div></section>`;
    $('#q').value = q;
    const run = async () => {
      const text = $('#q').value.trim();
      if (!text) return;
      sessionStorage.setItem('portrait.q', text);
      const res = $('#results');
      res.innerHTML = `<div class="loading">${esc(t('loading'))}</div>`;
      try {
        const r = await api('/api/customers?' + qs({ q: text, limit: 50 }));
        const rows = r.customers || [];
        const cols = ['party_id', 'name', 'gender', 'mobile', 'id_no', 'province', 'city', 'cust_type', 'cust_count'];
        res.innerHTML = rows.length ? `<table><thead><tr>${cols.map((c) => `<th${c === 'cust_count' ? ' class="num"' : ''}>${esc(t('c.' + c))}</th>`).join('')}</tr></thead>
          <tbody>${rows.map((c) => `<tr class="click" data-id="${esc(c.party_id)}">${cols.map((k) => `<td${k === 'cust_count' ? ' class="num"' : ''}>${
            esc(['gender', 'cust_type'].includes(k) ? lv(c[k]) : c[k] === null ? '—' : c[k])}</td>`).join('')}</tr>`).join('')}</tbody></table>`
          : `<div class="empty">${esc(t('cs.none'))}</div>`;
        res.querySelectorAll('tr[data-id]').forEach((tr) => tr.addEventListener('click', () => {
          location.hash = '#/customer/' + encodeURIComponent(tr.dataset.id);
        }));
      } catch (e) {
        if (e.status !== 401) res.innerHTML = `<p class="error">${esc(e.message)}</p>`;
      }
    };
    $('#search').addEventListener('submit', (ev) => { ev.preventDefault(); run(); });
    if (q) run();
  }

  async function customerPage(view, id, live) {
    const c = await api('/api/customers/' + encodeURIComponent(id));
    await loadCatalogue().catch(() => null);
    if (!live()) return;
    const p = c.party || {};
    const f = c.features || {};
    const seg = (c.segments || [])[0];
    const golden = ['name', 'gender', 'birth_date', 'id_type', 'id_no', 'mobile', 'email', 'address', 'education',
      'occupation', 'employer', 'industry', 'income_band', 'marital_status', 'credit_rating', 'open_branch', 'manager',
      'marketing_consent', 'mobile_banking', 'legal_rep', 'enterprise_type', 'primary_cust_no'];
    const shown = (k, v) => (v === true ? (zh() ? '是' : 'Yes') : v === false ? (zh() ? '否' : 'No')
      : ['gender', 'cust_type'].includes(k) ? lv(v) : v);
    const kv = golden.filter((k) => p[k] !== null && p[k] !== undefined)
      .map((k) => `<div><span>${esc(lf(k))}</span><span>${esc(shown(k, p[k]))}</span></div>`).join('');
    const figures = [
      ['financial_assets', money(f.financial_assets)], ['asset_tier', lv(f.asset_tier)],
      ['recency_class', lv(f.recency_class)], ['rfm_class', lv(f.rfm_class)],
      ['retention_group', lv(f.retention_group)], ['clv', money(f.clv)],
      ['churn_probability', pct(f.churn_probability)], ['adb_year', money(f.adb_year)],
      ['r_score', f.r_score ?? '—'], ['f_score', f.f_score ?? '—'], ['age', f.age ?? '—'],
    ].map(([k, v]) => `<div><span>${esc(lf(k))}</span><span>${esc(v)}</span></div>`).join('');
    const byTag = {};
    (c.tags || []).forEach((x) => { (byTag[x.tag] = byTag[x.tag] || []).push(x.value); });
    const tagChips = Object.entries(byTag).map(([tag, vals]) =>
      `<span class="chip"><b>${esc(ltag(tag))}</b>: ${esc(vals.map(lv).join(' / '))}</span>`).join('');
    const churn = f.churn_probability;
    view.innerHTML = `
      <section class="card hero">
        <div class="avatar">${esc((p.name || '?').slice(0, 1))}</div>
        <div style="flex:1">
          <h2>${esc(p.name || p.party_id)}</h2>
          <div class="row">
            <span class="badge">${esc(p.party_id)}</span><span class="badge">${esc(lv(p.cust_type))}</span>
            ${f.asset_tier ? `<span class="badge gold">${esc(lv(f.asset_tier))}</span>` : ''}
            ${seg ? `<span class="badge">${esc(t('c.segment'))}: ${esc(zh() ? seg.label_zh || seg.label : seg.label || seg.segment)}</span>` : ''}
            ${churn !== undefined && churn !== null ? `<span class="badge ${churn > 0.5 ? 'bad' : 'good'}">${esc(t('churn'))} ${pct(churn)}</span>` : ''}
            <span class="muted">${esc([p.province, p.city].filter(Boolean).join(' · '))}</span>
          </div>
        </div>
        <a class="btn" href="#/customers">${esc(t('c.back'))}</a>
      </section>
      <section class="grid2">
        <div class="card"><h2>${esc(t('c.golden'))}</h2><div class="kv">${kv}</div>
          <h3>${esc(t('c.members'))}</h3>
          <table><thead><tr><th>${esc(t('c.members'))}</th><th>${esc(t('c.rule'))}</th><th class="num">${esc(t('c.probability'))}</th></tr></thead>
          <tbody>${(c.members || []).map((m) => `<tr><td>${esc(m.cust_no)}</td><td>${esc(lv(m.rule))}</td><td class="num">${pct(m.probability, 0)}</td></tr>`).join('')}</tbody></table>
        </div>
        <div class="card"><h2>${esc(t('c.features'))}</h2><div class="kv">${figures}</div>
          <h3>${esc(t('c.segment'))}</h3>
          ${(c.segments || []).map((s) => `<p><span class="badge">${esc(s.model)} #${esc(s.segment)}</span> <b>${esc(zh() ? s.label_zh || s.label : s.label)}</b>
            ${s.action ? `<span class="muted"> · ${esc(t('seg.action'))}: ${esc(lv(s.action))}</span>` : ''}</p>`).join('') || `<p class="muted">${esc(t('none'))}</p>`}
          <h3>${esc(t('c.recs'))}</h3>
          ${(c.recommendations || []).length ? `<table><thead><tr><th>#</th><th>${esc(t('c.product'))}</th><th class="num">${esc(t('c.score'))}</th><th>${esc(t('c.reason'))}</th></tr></thead>
          <tbody>${c.recommendations.map((r) => `<tr><td>${esc(r.rank)}</td><td>${esc(r.product_name || r.product_id)}</td><td class="num">${num(r.score, 3)}</td><td class="persona">${esc(r.reason)}</td></tr>`).join('')}</tbody></table>`
            : `<p class="muted">${esc(t('none'))}</p>`}
        </div>
      </section>
      <section class="card"><h2>${esc(t('c.tags'))}</h2><div class="chips">${tagChips || esc(t('none'))}</div></section>
      <section class="grid2">
        <div class="card"><h2>${esc(t('c.graph'))} <span class="muted" style="font-weight:400;font-size:12px">${esc(t('c.graph.hint'))}</span></h2>
          <div class="chart graph" id="c-graph"></div></div>
        <div class="card"><h2>${esc(t('c.links'))}</h2><div class="scroll">
          ${(c.links || []).length ? `<table><thead><tr><th>${esc(t('c.name'))}</th><th>${esc(t('c.kind'))}</th><th class="num">${esc(t('c.score'))}</th><th>${esc(t('c.evidence'))}</th></tr></thead>
          <tbody>${c.links.map((l) => `<tr class="click" data-id="${esc(l.party_id)}"><td>${esc(l.name || l.party_id)}<div class="muted">${esc(l.party_id)}</div></td>
            <td>${esc(lv(l.kind))}</td><td class="num">${num(l.score, 2)}</td><td class="persona">${esc(l.evidence)}</td></tr>`).join('')}</tbody></table>`
            : `<p class="muted">${esc(t('c.nolinks'))}</p>`}
        </div></div>
      </section>`;
    view.querySelectorAll('tr[data-id]').forEach((tr) => tr.addEventListener('click', () => {
      location.hash = '#/customer/' + encodeURIComponent(tr.dataset.id);
    }));
    const links = c.links || [];
    const kinds = [...new Set(links.map((l) => l.kind))];
    const categories = [{ name: zh() ? '本客户' : 'This party' }, ...kinds.map((k) => ({ name: lv(k) }))];
    const nodes = [{ id: p.party_id, name: p.name || p.party_id, category: 0, symbolSize: 46,
      label: { show: true, fontWeight: 'bold' }, itemStyle: { color: PALETTE[0] } }];
    const seen = new Set([p.party_id]);
    links.forEach((l) => {
      if (seen.has(l.party_id)) return;
      seen.add(l.party_id);
      nodes.push({ id: l.party_id, name: l.name || l.party_id, category: 1 + kinds.indexOf(l.kind),
        symbol: l.cust_type === 'corporate' ? 'rect' : 'circle', symbolSize: 22 + 16 * (l.score || 0), label: { show: links.length <= 15 } });
    });
    const many = nodes.length > 15;
    const g = chart($('#c-graph'), {
      color: [PALETTE[0], PALETTE[3], PALETTE[1], PALETTE[4], PALETTE[5], PALETTE[6], PALETTE[8], PALETTE[2]],
      tooltip: { formatter: (x) => (x.dataType === 'edge' ? `${esc(lv(x.data.kind))} · ${num(x.data.score, 2)}<br>${esc(x.data.evidence || '')}`
        : `${esc(x.data.name)}<br>${esc(x.data.id)}`) },
      legend: { bottom: 0, data: categories.map((x) => x.name) },
      series: [{ type: 'graph', layout: 'force', roam: true, draggable: true, categories,
        top: 10, bottom: 60, force: { repulsion: many ? 160 : 320, edgeLength: many ? [60, 140] : [80, 160], gravity: 0.08 },
        label: { position: 'bottom', fontSize: 11 }, lineStyle: { color: 'source', curveness: 0.1, opacity: 0.7 },
        emphasis: { focus: 'adjacency' },
        data: nodes,
        links: links.map((l) => ({ source: p.party_id, target: l.party_id, kind: l.kind, score: l.score, evidence: l.evidence,
          lineStyle: { width: 1 + 3 * (l.score || 0) } })) }],
    });
    g.on('click', (x) => {
      if (x.dataType === 'node' && x.data.id !== p.party_id) location.hash = '#/customer/' + encodeURIComponent(x.data.id);
    });
  }

  // ---- boot ---------------------------------------------------------------------------------
  loadDicts().then(() => {
    applyStatic();
    if (sessionStorage.getItem(TOKEN_KEY)) start(); else showLogin('');
  }, (e) => { document.body.textContent = 'portrait: the label dictionaries did not load (' + e.message + ')'; });
})();
