// The monitors' workspace: one page, views by role, everything from the API with the token the
// user pasted. The app decides nothing about access: it shows what the API gives the token.

import { ApiError, followAlerts, get, getBlob, post, postGeoJson, setToken, token } from './api.js';
import { LANGS, lang, setLang, t } from './i18n.js';
import { SEVERITY_RANK, STATE_COLOURS, makeMap } from './map.js';
import { checkProof } from './proof.js';

const KEY_PIN = 'truce.logkey';
const main = document.getElementById('main');
const session = { role: 'public', name: 'public', logKey: null, parties: [] };
let current = null; // the view shown: { kind, id, destroy }
let stream = null;
const QUEUE_STATES = ['verification_tasked', 'corroborated', 'verified', 'inconclusive', 'not_confirmed', 'single_source'];

// Hooks for tests and auditors: `tamper(doc)` may alter a proof document before it is checked
// (to see a tampered proof fail), `checkProof(doc)` checks any proof document.
window.truce = {
  tamper: null,
  checkProof: (doc) => checkProof(doc, logKey()),
};

const isStaff = () => session.role === 'admin' || session.role === 'analyst';
const isParty = () => session.role.startsWith('party:');
const isTeam = () => session.role.startsWith('team:');
const partyId = () => (isParty() ? session.role.slice(6) : null);
const logKey = () => localStorage.getItem(KEY_PIN) || session.logKey;

// --- the period: the whole UTC days the map, the queue and the lists show ------------------------

// `live`: every day, following the alert stream ("now"); else the days `from` to `to`.
const period = { from: '', to: '', live: true };
let extent = null; // the first and last day the role's incidents start on: the slider's range
const DAY_MS = 86400000;
const addDays = (day, n) => new Date(Date.parse(day + 'T00:00:00Z') + n * DAY_MS).toISOString().slice(0, 10);
const daysBetween = (a, b) => Math.round((Date.parse(b + 'T00:00:00Z') - Date.parse(a + 'T00:00:00Z')) / DAY_MS);

/** Adds the period to the query `q` of `GET /api/incidents` (as the map's `from`/`to`). */
function periodParams(q) {
  if (!period.live) {
    if (period.from) q.set('from', period.from + 'T00:00:00Z');
    if (period.to) q.set('to', addDays(period.to, 1) + 'T00:00:00Z');
  }
  return q;
}

/**
 * The days the role's incidents start on (`GET /api/stats` `by_day`, the API's own counts, the
 * timeline's source too): `days` in order, `first` and `last`. The slider steps along these
 * days, so years with a few busy days are not a sea of empty ones.
 */
async function loadExtent() {
  if (extent) return extent;
  const stats = await get('/api/stats');
  const days = Object.keys(stats.by_day || {}).filter((d) => stats.by_day[d] > 0).sort();
  if (!days.length) return null;
  extent = { first: days[0], last: days[days.length - 1], days };
  return extent;
}

/** The slider's position for the period ending on `day`: the last day with incidents up to it. */
function dayIndex(day) {
  const days = extent.days;
  let lo = 0;
  let hi = days.length - 1;
  if (day < days[0]) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (days[mid] <= day) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The period's controls, the same in every view that lists incidents: *Now (live)*, a first
 * and a last day, and a slider moving the period (as many days as it spans) from one day the
 * role has incidents on to the next. `onChange()` reloads the view.
 */
function periodBar(onChange) {
  const now = el('input', { id: 'period-now', type: 'checkbox', checked: period.live });
  const from = el('input', { id: 'period-from', type: 'date' });
  const to = el('input', { id: 'period-to', type: 'date' });
  const slider = el('input', { id: 'period-slider', type: 'range', min: 0, max: 0, step: 1, value: 0, disabled: true, 'aria-label': t('period.slider') });
  const says = el('span', { id: 'period-says', class: 'help', 'aria-live': 'polite' });
  let timer = null;
  const show = () => {
    now.checked = period.live;
    from.value = period.live ? '' : period.from;
    to.value = period.live ? '' : period.to;
    if (extent) {
      const max = extent.days.length - 1;
      slider.max = String(max);
      const at = period.live || !period.to ? max : dayIndex(period.to);
      slider.value = String(Math.min(max, Math.max(0, at)));
      slider.disabled = false;
      slider.setAttribute('aria-valuetext', period.live ? t('period.now') : period.to);
    }
    says.textContent = period.live ? t('period.all') : t('period.showing', period.from || '…', period.to || '…');
  };
  const changed = (delay) => {
    show();
    clearTimeout(timer);
    timer = setTimeout(onChange, delay || 0);
  };
  now.addEventListener('change', () => {
    if (now.checked) Object.assign(period, { live: true, from: '', to: '' });
    else {
      const last = (extent && extent.last) || new Date().toISOString().slice(0, 10);
      Object.assign(period, { live: false, from: last, to: last });
    }
    changed();
  });
  const dates = () => {
    Object.assign(period, { live: !from.value && !to.value, from: from.value, to: to.value });
    changed();
  };
  from.addEventListener('change', dates);
  to.addEventListener('change', dates);
  slider.addEventListener('input', () => {
    if (!extent) return;
    const end = extent.days[Number(slider.value)];
    const span = !period.live && period.from && period.to ? Math.max(0, daysBetween(period.from, period.to)) : 0;
    Object.assign(period, { live: false, from: addDays(end, -span), to: end });
    changed(200);
  });
  loadExtent().then(show, () => {});
  show();
  return el('span', { class: 'period' },
    el('label', { class: 'now' }, now, ' ', t('period.now')),
    el('label', { for: 'period-from' }, t('map.from')), from,
    el('label', { for: 'period-to' }, t('map.to')), to,
    slider, says);
}

/**
 * Incidents per day over the role's days (`GET /api/stats` `by_day`, the API's own counts), as
 * bars: by day when the days span up to 120, else by week (from Monday), else by month. A bar's
 * period is the one shown (highlighted); clicking a bar (or Enter on it) shows that period.
 */
function timeline() {
  const NS = 'http://www.w3.org/2000/svg';
  const box = el('figure', { id: 'timeline', class: 'timeline' });
  const W = 1000;
  const H = 46;
  (async () => {
    let stats;
    try {
      stats = await get('/api/stats');
    } catch (e) {
      return;
    }
    const days = Object.keys(stats.by_day || {}).sort();
    if (!days.length) {
      box.append(el('p', { class: 'help' }, t('timeline.none')));
      return;
    }
    const span = daysBetween(days[0], days[days.length - 1]) + 1;
    const unit = span <= 120 ? 'day' : span <= 7 * 120 ? 'week' : 'month';
    const binOf = (day) => {
      if (unit === 'day') return day;
      if (unit === 'month') return day.slice(0, 7) + '-01';
      const dow = (new Date(day + 'T00:00:00Z').getUTCDay() + 6) % 7; // Monday 0
      return addDays(day, -dow);
    };
    const endOf = (bin) => {
      if (unit === 'day') return bin;
      if (unit === 'week') return addDays(bin, 6);
      const d = new Date(bin + 'T00:00:00Z');
      return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).toISOString().slice(0, 10);
    };
    const nextBin = (bin) => addDays(endOf(bin), 1);
    const counts = new Map();
    for (const day of days) counts.set(binOf(day), (counts.get(binOf(day)) || 0) + stats.by_day[day]);
    const bins = [];
    for (let b = binOf(days[0]); b <= binOf(days[days.length - 1]); b = nextBin(b)) bins.push(b);
    const max = Math.max(...counts.values());
    const bw = W / bins.length;
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'group');
    svg.setAttribute('aria-label', t('timeline.label', t('timeline.' + unit)));
    bins.forEach((bin, i) => {
      const n = counts.get(bin) || 0;
      const h = n ? Math.max(2, (n / max) * (H - 2)) : 0;
      const r = document.createElementNS(NS, 'rect');
      const last = endOf(bin);
      r.setAttribute('x', String(i * bw));
      r.setAttribute('width', String(Math.max(bw - (bw > 3 ? 1 : 0), 0.5)));
      // Each bin is clickable over its whole height, the bar drawn by its fill's share.
      r.setAttribute('y', String(H - h));
      r.setAttribute('height', String(h));
      r.setAttribute('class', 'bin' + (!period.live && period.from === bin && period.to === last ? ' shown' : ''));
      r.dataset.from = bin;
      r.dataset.to = last;
      r.dataset.count = String(n);
      if (n) {
        r.setAttribute('tabindex', '0');
        r.setAttribute('role', 'button');
        r.setAttribute('aria-label', t('timeline.bin', bin === last ? bin : bin + ' – ' + last, n));
        const title = document.createElementNS(NS, 'title');
        title.textContent = t('timeline.bin', bin === last ? bin : bin + ' – ' + last, n);
        r.append(title);
        const pick = () => {
          Object.assign(period, { live: false, from: bin, to: last });
          route();
        };
        r.addEventListener('click', pick);
        r.addEventListener('keydown', (e) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            pick();
          }
        });
      }
      svg.append(r);
    });
    box.dataset.unit = unit;
    box.dataset.total = String([...counts.values()].reduce((a, b) => a + b, 0));
    box.replaceChildren(svg, el('figcaption', { class: 'help' },
      el('span', {}, bins[0]), el('span', {}, t('timeline.caption', t('timeline.' + unit), max)), el('span', {}, endOf(bins[bins.length - 1]))));
  })();
  return box;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const fmtTime = (s) => (s ? new Date(s).toISOString().replace('T', ' ').slice(0, 16) + 'Z' : '');
const stateLabel = (s) => t('state.' + s);
const stateBadge = (s) =>
  el('span', { class: 'badge', 'data-state': s }, el('span', { class: 'swatch', style: `background:${STATE_COLOURS[s] || '#666'}` }), stateLabel(s));
const sevLabel = (s) => (s ? t('severity.' + s) : '–');
const errorText = (e) => (e instanceof ApiError ? t('error.server', e.status, e.reason) : String(e.message || e));

function notice(text, kind) {
  const box = document.getElementById('notice');
  box.textContent = text;
  box.className = 'notice ' + (kind || '');
  box.hidden = !text;
}

// --- header, language, session ---------------------------------------------------------------

function renderHeader() {
  document.documentElement.lang = lang();
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  const nav = document.getElementById('nav');
  nav.replaceChildren();
  const link = (hash, key) =>
    el('a', { href: hash, 'data-nav': key, 'aria-current': location.hash.startsWith(hash) ? 'page' : null }, t('nav.' + key));
  nav.append(link('#/map', 'map'));
  if (isStaff()) nav.append(link('#/queue', 'queue'), link('#/tasks', 'tasks'), link('#/coverage', 'coverage'));
  if (isTeam()) nav.append(link('#/tasks', 'tasks'));
  if (isParty() || session.role === 'public') nav.append(link('#/list', isParty() ? 'party' : 'public'));
  if (!isTeam()) nav.append(link('#/reports', 'reports'));
  const who = document.getElementById('who');
  who.textContent = t('session.as', session.name, t('role.' + session.role.split(':')[0]), session.role);
  const btn = document.getElementById('signin');
  btn.textContent = token() ? t('session.signout') : t('session.signin');
  const sel = document.getElementById('lang');
  sel.replaceChildren(...LANGS.map((l) => el('option', { value: l, selected: l === lang() }, t('lang.' + l))));
  sel.setAttribute('aria-label', t('lang.choose'));
}

async function loadSession() {
  try {
    const w = await get('/api/whoami');
    Object.assign(session, { role: w.role, name: w.name, logKey: w.log_key || null });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setToken('');
      notice(t('session.rejected'), 'error');
      Object.assign(session, { role: 'public', name: 'public', logKey: null });
    } else throw e;
  }
  try {
    const areas = await get('/collections/party_areas/items?limit=100');
    session.parties = areas.features.map((f) => f.properties.party);
  } catch (_) {
    session.parties = [];
  }
  document.body.dataset.role = session.role;
  // Another role sees other incidents: the slider's days are found again, the period is now.
  extent = null;
  Object.assign(period, { live: true, from: '', to: '' });
  startStream();
}

function startStream() {
  if (stream) stream.abort();
  stream = null;
  const live = document.getElementById('live');
  // The alerts column is for roles that get alerts; the public and teams get none.
  document.body.dataset.alerts = isStaff() || isParty() ? 'yes' : 'no';
  if (!(isStaff() || isParty())) {
    live.hidden = true;
    return;
  }
  live.hidden = false;
  stream = new AbortController();
  followAlerts(onAlert, (up) => {
    live.dataset.up = up ? 'yes' : 'no';
    live.textContent = up ? t('live.on') : t('live.off');
  }, stream.signal);
}

/**
 * The server revoked this tab's token (the stream's last event): stop following, forget the
 * token, say so, and go back to sign-in as the public.
 */
async function onRevoked() {
  if (stream) stream.abort();
  stream = null;
  setToken('');
  Object.assign(session, { role: 'public', name: 'public', logKey: null });
  document.body.dataset.role = 'public';
  await loadSession();
  renderHeader();
  location.hash = '#/login';
  notice(t('session.revoked'), 'error');
}

function onAlert(kind, a) {
  if (kind === 'revoked') {
    onRevoked();
    return;
  }
  if (kind === 'lagged') {
    notice(t('live.lagged', a), 'warn');
    current && current.refresh && current.refresh();
    return;
  }
  if (!a || typeof a !== 'object') return;
  const feed = document.getElementById('feed');
  document.getElementById('feed-empty').hidden = true;
  const item = el('li', { 'data-kind': kind },
    el('a', { href: '#/incident/' + a.incident }, a.incident), ' ', t('alert.' + kind), ' · ', sevLabel(a.severity),
    a.state ? [' · ', stateLabel(a.state)] : null, ' · ', fmtTime(a.created_at || a.at));
  feed.prepend(item);
  while (feed.children.length > 8) feed.lastChild.remove();
  if (a.severity === 'critical') {
    const banner = document.getElementById('banner');
    banner.replaceChildren(
      el('strong', {}, t('alert.critical')), ' ',
      el('a', { href: '#/incident/' + a.incident }, a.incident), ' — ', (a.rules || []).join(', '),
      a.escalation ? ' (' + a.escalation + ')' : '', ' ',
      el('button', { type: 'button', onclick: () => (banner.hidden = true) }, t('alert.dismiss')),
    );
    banner.hidden = false;
  }
  if (current && current.onAlert) current.onAlert(a);
}

// --- views -------------------------------------------------------------------------------------

function loginView() {
  const input = el('textarea', { id: 'token', rows: 2, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'token-help' });
  const pin = el('input', { id: 'logkey', type: 'text', value: localStorage.getItem(KEY_PIN) || '', spellcheck: 'false' });
  const form = el('form', { class: 'card login', onsubmit: async (e) => {
    e.preventDefault();
    setToken(input.value);
    if (pin.value.trim()) localStorage.setItem(KEY_PIN, pin.value.trim());
    else localStorage.removeItem(KEY_PIN);
    notice('');
    await loadSession();
    renderHeader();
    location.hash = isStaff() ? '#/queue' : isTeam() ? '#/tasks' : '#/map';
  } },
  el('h1', {}, t('login.title')),
  el('label', { for: 'token' }, t('login.token')), input,
  el('p', { id: 'token-help', class: 'help' }, t('login.help')),
  el('label', { for: 'logkey' }, t('login.logkey')), pin,
  el('p', { class: 'help' }, t('login.logkey_help')),
  el('div', { class: 'row' },
    el('button', { type: 'submit', id: 'login-submit' }, t('login.submit')),
    el('button', { type: 'button', onclick: async () => {
      setToken('');
      await loadSession();
      renderHeader();
      location.hash = '#/map';
    } }, t('login.public'))));
  main.replaceChildren(form);
  input.focus();
}

function mapView() {
  const box = el('div', { id: 'map', role: 'region', 'aria-label': t('map.label') });
  const count = el('span', { id: 'map-count', 'aria-live': 'polite' }, t('map.loading'));
  const filter = el('select', { id: 'state-filter', 'aria-label': t('map.filter'), onchange: () => m.setState(filter.value) },
    el('option', { value: '' }, t('map.all_states')),
    ...Object.keys(STATE_COLOURS).map((s) => el('option', { value: s }, stateLabel(s))));
  const legend = el('ul', { class: 'legend', 'aria-label': t('map.legend') },
    ...Object.entries(STATE_COLOURS).map(([s, c]) => el('li', {}, el('span', { class: 'swatch', style: `background:${c}` }), stateLabel(s))),
    el('li', {}, el('span', { class: 'swatch line' }), t('map.contact_line')),
    el('li', {}, el('span', { class: 'swatch zone' }), t('map.zones')),
    el('li', {}, el('span', { class: 'swatch storage' }), t('map.storage_sites')),
    el('li', {}, el('span', { class: 'swatch ring' }), t('map.high_ring')),
    el('li', {}, el('span', { class: 'swatch cluster' }), t('map.cluster')));
  const usePeriod = () => (period.live ? m.setPeriod('', '') : m.setPeriod(period.from, period.to));
  if (!isTeam() && session.role !== 'public') {
    legend.append(
      el('li', {}, el('span', { class: 'swatch origin' }), t('map.origins')),
      el('li', {}, el('span', { class: 'swatch link' }), t('map.links')));
  }
  if (isStaff()) {
    legend.append(
      el('li', {}, el('span', { class: 'swatch bearing' }), t('map.bearings')),
      el('li', {}, el('span', { class: 'swatch task' }), t('map.tasks')),
      el('li', {}, el('span', { class: 'swatch base' }), t('map.bases')));
  }
  main.replaceChildren(el('div', { class: isTeam() ? 'mapview team' : 'mapview' },
    el('div', { class: 'toolbar' }, filter, isTeam() ? null : periodBar(usePeriod), count),
    isTeam() ? null : timeline(), box, legend));
  const m = makeMap(box, {
    // A team may not read incidents: its map shows the terms only.
    incidents: !isTeam(),
    // Staff see where the ground teams are sent (`GET /api/tasks`).
    tasks: isStaff(),
    // Staff are given each observation of an evidence chain: the bearings behind an origin.
    bearings: isStaff(),
    onPick: (id) => (location.hash = '#/incident/' + id),
    onLoaded: (n, total) => {
      count.textContent = t('map.count', n, total);
      box.dataset.incidents = String(n);
      box.dataset.total = String(total);
    },
    onError: (e) => notice(errorText(e), 'error'),
  });
  usePeriod();
  window.truceMap = m.map;
  return { destroy: () => m.destroy(), onAlert: () => m.reload(), refresh: () => m.reload() };
}

async function fetchQueue() {
  const pages = await Promise.all(
    QUEUE_STATES.map((s) => get('/api/incidents?' + periodParams(new URLSearchParams({ state: s, limit: '100' })))),
  );
  const all = pages.flatMap((p) => p.incidents);
  all.sort((a, b) => (SEVERITY_RANK[b.max_severity] || 0) - (SEVERITY_RANK[a.max_severity] || 0) || (b.confidence || 0) - (a.confidence || 0));
  return { shown: all.slice(0, 200), total: pages.reduce((n, p) => n + p.total, 0) };
}

/** Shows in `result` that entry `seq` was logged (and, from the queue, a link to the incident). */
function showLogged(result, seq, incident) {
  result.replaceChildren(t('decide.logged', seq), ' ', incident ? el('a', { href: '#/incident/' + incident }, t('decide.open')) : '');
  result.className = 'result logged';
  result.dataset.seq = String(seq);
}

/**
 * The decision form. `onDone(seq)` is called once the server has logged the decision; `logged`
 * is the seq of one made just before this form was drawn (the incident page draws itself again
 * after a decision, and says what was logged in the new form).
 */
function decisionForm(incident, onDone, logged) {
  const action = el('select', { name: 'action', 'aria-label': t('decide.action') },
    ...['verify', 'attribute', 'publish', 'task'].map((a) => el('option', { value: a }, t('decide.' + a))));
  const party = el('select', { name: 'party', 'aria-label': t('decide.party'), disabled: true },
    ...session.parties.map((p) => el('option', { value: p }, p)));
  action.addEventListener('change', () => (party.disabled = action.value !== 'attribute'));
  const reason = el('input', { name: 'reason', type: 'text', required: true, placeholder: t('decide.reason'), 'aria-label': t('decide.reason'), size: 40 });
  const result = el('output', { class: 'result', 'aria-live': 'polite' });
  const form = el('form', { class: 'decide', 'data-incident': incident, onsubmit: async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) {
      result.textContent = t('decide.need_reason');
      result.className = 'result refused';
      return;
    }
    result.textContent = t('decide.sending');
    result.className = 'result';
    try {
      const r = action.value === 'task'
        ? await post('/api/tasks', { incident, reason: reason.value.trim() })
        : await post(`/api/incidents/${encodeURIComponent(incident)}/decisions`, {
          action: action.value, reason: reason.value.trim(), party: action.value === 'attribute' ? party.value : undefined,
        });
      const seq = r.entry_seq ?? r.created_seq ?? (r.task && r.task.created_seq);
      showLogged(result, seq, incident);
      onDone && onDone(seq);
    } catch (err) {
      result.textContent = t('decide.refused', err instanceof ApiError ? err.reason : String(err));
      result.className = 'result refused';
    }
  } },
  el('span', { class: 'what' }, incident), action, party, reason, el('button', { type: 'submit' }, t('decide.submit')), result);
  if (logged != null) showLogged(result, logged, null);
  return form;
}

function queueView() {
  const body = el('tbody');
  const panel = el('div', { id: 'decide-panel' });
  const status = el('p', { 'aria-live': 'polite' }, t('map.loading'));
  main.replaceChildren(el('section', { class: 'card' },
    el('h1', {}, t('queue.title')), el('p', { class: 'help' }, t('queue.help')),
    el('div', { class: 'toolbar' }, periodBar(() => load())), status, panel,
    el('table', { id: 'queue' },
      el('thead', {}, el('tr', {}, ...['id', 'state', 'severity', 'confidence', 'rules', 'party', 'end', 'act'].map((k) => el('th', { scope: 'col' }, t('col.' + k))))),
      body)));
  async function load() {
    try {
      const q = await fetchQueue();
      status.textContent = t('queue.count', q.shown.length, q.total);
      body.replaceChildren(...q.shown.map((i) => el('tr', { 'data-id': i.id },
        el('td', {}, el('a', { href: '#/incident/' + i.id }, i.id)),
        el('td', {}, stateBadge(i.state)),
        el('td', {}, sevLabel(i.max_severity)),
        el('td', {}, i.confidence != null ? i.confidence.toFixed(2) : '–'),
        el('td', {}, (i.rules || []).join(', ')),
        el('td', {}, partyText(i)),
        el('td', {}, fmtTime(i.end)),
        el('td', {}, el('button', { type: 'button', class: 'act', onclick: () => {
          panel.replaceChildren(decisionForm(i.id, load));
          panel.querySelector('input[name=reason]').focus();
        } }, t('queue.decide'))))));
    } catch (e) {
      status.textContent = errorText(e);
    }
  }
  load();
  return { refresh: load, onAlert: () => load() };
}

function partyText(i) {
  if (i.attributed_party) return t('party.official', i.attributed_party);
  if (i.suggested_party) return t('party.suggested', i.suggested_party);
  return '–';
}

function listView() {
  const body = el('tbody');
  const status = el('p', { 'aria-live': 'polite' }, t('map.loading'));
  let offset = 0;
  const prev = el('button', { type: 'button', onclick: () => { offset = Math.max(0, offset - 100); load(); } }, t('list.prev'));
  const next = el('button', { type: 'button', onclick: () => { offset += 100; load(); } }, t('list.next'));
  main.replaceChildren(el('section', { class: 'card' },
    el('h1', {}, isParty() ? t('list.party_title', partyId()) : t('list.public_title')),
    el('p', { class: 'help' }, isParty() ? t('list.party_help') : t('list.public_help')),
    el('div', { class: 'toolbar' }, periodBar(() => { offset = 0; load(); })), status,
    el('table', { id: 'incidents' },
      el('thead', {}, el('tr', {}, ...['id', 'state', 'severity', 'rules', 'party', 'start', 'location'].map((k) => el('th', { scope: 'col' }, t('col.' + k))))),
      body),
    el('div', { class: 'row' }, prev, next)));
  async function load() {
    try {
      const p = await get('/api/incidents?' + periodParams(new URLSearchParams({ limit: '100', offset: String(offset) })));
      status.textContent = t('list.count', p.offset + 1, p.offset + p.incidents.length, p.total);
      prev.disabled = offset === 0;
      next.disabled = p.next_offset == null;
      body.replaceChildren(...p.incidents.map((i) => el('tr', { 'data-id': i.id },
        el('td', {}, el('a', { href: '#/incident/' + i.id }, i.id)),
        el('td', {}, stateBadge(i.state)),
        el('td', {}, sevLabel(i.max_severity)),
        el('td', {}, (i.rules || []).join(', ')),
        el('td', {}, partyText(i)),
        el('td', {}, fmtTime(i.start)),
        el('td', {}, i.location ? i.location.map((v) => v.toFixed(3)).join(', ') + (i.location_precision_m ? ' ' + t('list.approx', Math.round(i.location_precision_m / 1000)) : '') : '–'))));
    } catch (e) {
      status.textContent = errorText(e);
    }
  }
  load();
  return { refresh: load, onAlert: () => load() };
}

/**
 * Tasks: staff see every task; a team its assigned ones, each with the place, what to verify
 * and how to answer — here (`POST /api/tasks/{id}/outcome`) or from its TAK device.
 */
function tasksView() {
  const body = el('tbody');
  const status = el('p', { 'aria-live': 'polite' }, t('map.loading'));
  const cols = ['task', 'id', 'state', 'severity', 'team', 'distance', 'location', 'note', isTeam() ? 'answer' : null].filter(Boolean);
  // What the team last answered: outside the table, which is drawn again without that task.
  const answered = el('output', { id: 'answered', class: 'result', 'aria-live': 'polite' });
  const onAnswered = (task, seq) => {
    answered.textContent = t('outcome.logged', task, seq);
    answered.className = 'result logged';
    answered.dataset.seq = String(seq);
    answered.dataset.task = task;
    load();
  };
  main.replaceChildren(el('section', { class: 'card' }, el('h1', {}, t('tasks.title')),
    isTeam() ? el('p', { class: 'help', id: 'team-help' }, t('tasks.team_help', session.role.slice(5))) : null,
    isTeam() ? answered : null,
    status,
    el('table', { id: 'tasks' },
      el('thead', {}, el('tr', {}, ...cols.map((k) => el('th', { scope: 'col' }, t('col.' + k))))),
      body)));
  async function load() {
    try {
      const r = await get('/api/tasks');
      status.textContent = t('tasks.count', r.total);
      body.replaceChildren(...r.tasks.slice(0, 300).map((k) => el('tr', { 'data-task': k.id },
        // A team may not read incidents: the id is told, not linked.
        el('td', {}, k.id), el('td', {}, isTeam() ? k.incident : el('a', { href: '#/incident/' + k.incident }, k.incident)),
        el('td', {}, k.state + (k.outcome ? ' · ' + k.outcome : '')), el('td', {}, sevLabel(k.severity)),
        el('td', {}, k.team || '–'), el('td', {}, k.distance_m != null ? (k.distance_m / 1000).toFixed(1) + ' km' : '–'),
        el('td', {}, k.location.map((v) => v.toFixed(4)).join(', ')), el('td', {}, k.note),
        isTeam() ? el('td', {}, outcomeForm(k, onAnswered)) : null)));
    } catch (e) {
      status.textContent = errorText(e);
    }
  }
  load();
  return { refresh: load };
}

/**
 * A team's answer to task `k`: the outcome and what it found, logged as its observation;
 * `onDone(task, seq)` once logged (the list is drawn again, this form with it).
 */
function outcomeForm(k, onDone) {
  const outcome = el('select', { name: 'outcome', 'aria-label': t('outcome.label') },
    ...['confirmed', 'not_confirmed', 'inconclusive', 'access_denied'].map((o) => el('option', { value: o }, t('outcome.' + o))));
  const remarks = el('input', { name: 'remarks', type: 'text', required: true, size: 24, placeholder: t('outcome.remarks'), 'aria-label': t('outcome.remarks') });
  const result = el('output', { class: 'result', 'aria-live': 'polite' });
  return el('form', { class: 'outcome', 'data-task': k.id, onsubmit: async (e) => {
    e.preventDefault();
    if (!remarks.value.trim()) {
      result.textContent = t('decide.need_reason');
      result.className = 'result refused';
      return;
    }
    result.textContent = t('decide.sending');
    result.className = 'result';
    try {
      const body = { outcome: outcome.value, remarks: remarks.value.trim() };
      if (outcome.value === 'access_denied') body.kind = 'access_denied';
      const r = await post(`/api/tasks/${encodeURIComponent(k.id)}/outcome`, body);
      showLogged(result, r.first_seq, null);
      remarks.value = '';
      onDone && onDone(k.id, r.first_seq);
    } catch (err) {
      result.textContent = t('decide.refused', err instanceof ApiError ? err.reason : String(err));
      result.className = 'result refused';
    }
  } }, outcome, remarks, el('button', { type: 'submit' }, t('outcome.submit')), result);
}

// A coverage status's mark: the grid says it in a sign and words (the cell's label), not in
// colour alone.
const COVERAGE_MARKS = { incidents: '●', observed_quiet: '✓', partly_observed: '◐', not_observed: '○' };

/** The coverage grid (staff): sectors of the line down, UTC days across, from `/api/coverage`. */
function coverageView() {
  const status = el('p', { 'aria-live': 'polite' }, t('map.loading'));
  const from = el('input', { id: 'coverage-from', type: 'date', 'aria-label': t('coverage.from') });
  const days = el('select', { id: 'coverage-days', 'aria-label': t('coverage.days') },
    ...[7, 14, 31].map((n) => el('option', { value: String(n) }, String(n))));
  const grid = el('div', { class: 'coverage-wrap' });
  const legend = el('ul', { class: 'legend coverage-legend', 'aria-label': t('map.legend') },
    ...Object.entries(COVERAGE_MARKS).map(([k, m]) => el('li', {}, el('span', { class: 'cov', 'data-status': k }, m), ' ', t('coverage.status.' + k))));
  const form = el('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); load(); } },
    el('label', { for: 'coverage-from' }, t('coverage.from')), from,
    el('label', { for: 'coverage-days' }, t('coverage.days')), days,
    el('button', { type: 'submit' }, t('coverage.show')));
  main.replaceChildren(el('section', { class: 'card coverage' },
    el('h1', {}, t('coverage.title')), el('p', { class: 'help' }, t('coverage.help')), form, status, legend, grid));
  async function load() {
    const q = new URLSearchParams();
    if (from.value) q.set('from', from.value);
    q.set('days', days.value);
    try {
      const c = await get('/api/coverage?' + q);
      if (!c.cells.length) {
        status.textContent = t('coverage.empty');
        grid.replaceChildren();
        return;
      }
      if (!from.value) from.value = c.from;
      status.textContent = t('coverage.count', c.sectors, c.days, c.from);
      grid.replaceChildren(coverageGrid(c));
    } catch (e) {
      status.textContent = errorText(e);
    }
  }
  load();
  return { refresh: load };
}

function coverageGrid(c) {
  const dayList = [];
  for (let i = 0; i < c.days; i++) {
    const d = new Date(c.from + 'T00:00:00Z');
    d.setUTCDate(d.getUTCDate() + i);
    dayList.push(d.toISOString().slice(0, 10));
  }
  const at = new Map(c.cells.map((x) => [x.sector + '/' + x.day, x]));
  const rows = [];
  for (let s = 0; s < c.sectors; s++) {
    const first = c.cells.find((x) => x.sector === s);
    rows.push(el('tr', {},
      el('th', { scope: 'row' }, String(s), el('span', { class: 'km' }, first ? t('coverage.km', first.from_km.toFixed(0), first.to_km.toFixed(0)) : '')),
      ...dayList.map((day) => {
        const x = at.get(s + '/' + day);
        if (!x) return el('td', {});
        const label = t('coverage.cell', s, day, t('coverage.status.' + x.status), x.incidents, x.watched_hours.toFixed(1),
          x.sensors.join(', ') || t('coverage.none'), x.mobile.join(', ') || t('coverage.none'));
        return el('td', { class: 'cov', 'data-status': x.status, 'data-sector': String(s), 'data-day': day, title: label, 'aria-label': label },
          COVERAGE_MARKS[x.status] || '?', x.incidents ? ' ' + x.incidents : '');
      })));
  }
  return el('table', { id: 'coverage' },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, t('coverage.sector')), ...dayList.map((d) => el('th', { scope: 'col' }, d.slice(5))))),
    el('tbody', {}, rows));
}

/** A proof cell: checks the entry `seq` and shows the outcome (green only when fully verified). */
function proofCell(seq) {
  const cell = el('td', { class: 'proof', 'data-seq': String(seq), 'data-status': 'pending' }, t('proof.checking'));
  (async () => {
    let status;
    let title;
    try {
      let doc = await get(`/api/log/proof/${seq}`);
      if (window.truce.tamper) doc = window.truce.tamper(doc) || doc;
      const r = await checkProof(doc, logKey());
      if (!r.inclusion) {
        status = 'failed';
        title = t('proof.not_included') + (r.reason ? ' (' + r.reason + ')' : '');
      } else if (r.signature.status === 'verified' && r.withheld) {
        status = 'withheld';
        title = t('proof.withheld', doc.tree_size, r.withheld);
      } else if (r.signature.status === 'verified') {
        status = 'verified';
        title = t('proof.verified', doc.tree_size);
      } else if (r.signature.status === 'unchecked') {
        status = 'unchecked';
        title = t('proof.unchecked');
      } else {
        status = 'failed';
        title = t('proof.bad_signature') + ' (' + r.signature.reason + ')';
      }
    } catch (e) {
      status = 'error';
      title = errorText(e);
    }
    const mark = { verified: '✓', withheld: '✓', unchecked: '?', failed: '✗', error: '–' }[status];
    cell.dataset.status = status;
    cell.title = title;
    cell.replaceChildren(el('span', { class: 'mark', 'aria-hidden': 'true' }, mark), ' ', t('proof.short.' + status));
  })();
  return cell;
}

/**
 * An incident's page. It draws itself again (one fresh GET, drawn whole) when the incident
 * changes: after a decision or response sent from it, and on an alert about it that the page
 * does not show yet. It knows the log size it was drawn at (`log.tree_size` in the reply), so
 * the alert a decision or response of its own raises — it arrives around the POST's answer —
 * does not draw it a second time, and a draw that was overtaken by a newer one is dropped.
 */
function incidentView(id) {
  const box = el('section', { class: 'card incident', 'data-incident': id }, el('p', {}, t('map.loading')));
  main.replaceChildren(box);
  let drawn = 0; // draws started
  let shownSize = -1; // the log size the page shows (every entry below it is folded in)
  // Whether the user is writing in one of the page's forms: their text must not be lost.
  const typing = () => Array.from(box.querySelectorAll('form input[type=text], form textarea')).some((f) => f.value.trim());
  async function draw(logged) {
    const mine = ++drawn;
    let d;
    try {
      d = await get('/api/incidents/' + encodeURIComponent(id));
    } catch (e) {
      if (mine !== drawn) return;
      box.replaceChildren(el('h1', {}, id), el('p', { class: 'error' }, errorText(e)));
      return;
    }
    // A newer draw started meanwhile, or the user left the page: this one is out of date.
    if (mine !== drawn || !box.isConnected) return;
    shownSize = d.log && d.log.tree_size != null ? d.log.tree_size : -1;
    box.dataset.logSize = String(shownSize);
    box.replaceChildren(...incidentParts(d, logged || {}, draw));
    box.dataset.drawn = String(mine);
    const n = document.getElementById('notice');
    if (n.textContent === t('incident.changed')) notice('');
  }
  draw();
  return {
    onAlert: (a) => {
      if (a.incident !== id) return;
      if (a.entry_seq != null && a.entry_seq < shownSize) return; // already shown
      if (typing()) notice(t('incident.changed'), 'warn');
      else draw();
    },
    refresh: () => draw(),
  };
}

/** The parts of an incident page for the reply `d`; `logged` says what was just logged from it. */
function incidentParts(d, logged, redraw) {
  const canProve = isStaff() || isParty();
  const facts = [
    ['state', stateBadge(d.state)],
    ['severity', sevLabel(d.max_severity)],
    ['rules', (d.rules || []).join(', ') || '–'],
    ['period', fmtTime(d.start) + ' – ' + fmtTime(d.end)],
    ['location', d.location ? d.location.map((v) => v.toFixed(4)).join(', ') + (d.location_precision_m ? ' ' + t('list.approx', Math.round(d.location_precision_m / 1000)) : '') : '–'],
    ['party_area', d.party_area],
    ['official', d.attributed_party || t('party.none')],
    ['suggested', d.suggested_party ? d.suggested_party + (d.suggestion_basis ? ' — ' + d.suggestion_basis : '') : d.party_area !== undefined ? t('party.none') : null],
    ['evidence_state', d.evidence_state ? t('state.' + d.evidence_state) : null],
    ['confidence', d.confidence != null ? d.confidence.toFixed(2) : null],
    ['sources', d.source_kinds ? d.source_kinds.join(', ') : null],
    ['origin', d.origin ? d.origin.point.map((v) => v.toFixed(4)).join(', ') + ' ± ' + Math.round(d.origin.ellipse_95.semi_major_m) + ' m' : null],
  ].filter(([, v]) => v != null && v !== undefined);
  const dl = el('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [el('dt', {}, t('field.' + k)), el('dd', { 'data-field': k }, v)]));
  const history = (d.transitions || []).map((x) => el('tr', {},
    el('td', {}, fmtTime(x.at)), el('td', {}, x.action), el('td', {}, x.from ? stateLabel(x.from) + ' → ' : '', stateLabel(x.to)),
    el('td', {}, x.actor || ''), el('td', {}, x.reason || ''), el('td', {}, String(x.entry_seq)),
    canProve ? proofCell(x.entry_seq) : null));
  const evidence = (d.evidence || []).map((o) => el('tr', {},
    el('td', {}, String(o.seq)), el('td', {}, o.kind), el('td', {}, fmtTime(o.observed_at)), el('td', {}, o.source_kind),
    el('td', {}, o.observation && o.observation.properties && o.observation.properties.source ? o.observation.properties.source.id || '' : ''),
    el('td', {}, o.assessment ? assessmentText(o.assessment) : (o.rules || []).join(', ')),
    canProve ? proofCell(o.seq) : null));
  const parts = [el('h1', {}, t('incident.title', d.id)), dl];
  // The public is not given the history (`transitions` absent), which is not "no steps".
  if (d.transitions) {
    parts.push(el('h2', {}, t('incident.history')),
      history.length
        ? el('table', { id: 'history' }, el('thead', {}, el('tr', {}, ...['at', 'action', 'state', 'actor', 'reason', 'seq', canProve ? 'proof' : null].filter(Boolean).map((k) => el('th', { scope: 'col' }, t('col.' + k))))), el('tbody', {}, history))
        : el('p', { class: 'help' }, t('incident.no_history')));
  }
  if (d.evidence) {
    parts.push(el('h2', {}, t('incident.evidence')),
      el('table', { id: 'evidence' }, el('thead', {}, el('tr', {}, ...['seq', 'kind', 'observed', 'source_kind', 'source', 'assessment', 'proof'].map((k) => el('th', { scope: 'col' }, t('col.' + k))))), el('tbody', {}, evidence)));
  }
  if (canProve && d.log) {
    parts.push(el('p', { class: 'help' }, t('proof.explain', d.log.tree_size), ' ', el('code', { class: 'key' }, logKey() || t('proof.no_key')), ' ',
      localStorage.getItem(KEY_PIN) ? t('proof.key_pinned') : t('proof.key_server')));
  }
  // After a decision or response the page is drawn again from the server's state (the POST is
  // folded before it is answered), and the new form says which entry logged it.
  // The spot report on this incident, made for the caller's role like every report.
  if (!isTeam()) {
    parts.push(el('p', { class: 'spot-report' }, t('incident.spot'), ' ',
      ...reportLinks(`/api/reports/spot/${encodeURIComponent(d.id)}`, `truce-spot-${d.id}`, SPOT_FILES).flatMap((a) => [a, ' '])));
  }
  if (isStaff()) parts.push(el('h2', {}, t('incident.decide')), decisionForm(d.id, (seq) => redraw({ decide: seq }), logged.decide));
  if (isParty()) parts.push(el('h2', {}, t('incident.respond')), responseForm(d.id, (seq) => redraw({ respond: seq }), logged.respond));
  return parts;
}

function assessmentText(a) {
  const parts = [];
  if (a.party_area) parts.push(t('field.party_area') + ': ' + a.party_area);
  if (a.distance_to_line_m != null) parts.push(t('assess.distance', (a.distance_to_line_m / 1000).toFixed(1)));
  const rules = (a.breaches || []).map((b) => b.rule + (b.basis ? ' (' + b.basis + ')' : ''));
  if (rules.length) parts.push(rules.join('; '));
  return parts.join(' · ') || '–';
}

/**
 * A party's response form; `onDone(seq)` once logged, `logged` as for [`decisionForm`]. Its
 * evidence: GeoJSON files of the party's own observations, posted first as allegations
 * (`POST /api/allegations`; a file with any rejected feature stops the response and says which
 * and why), and log entries it posted before, by seq. The response names them all.
 */
function responseForm(id, onDone, logged) {
  const kind = el('select', { name: 'response', 'aria-label': t('respond.kind') },
    el('option', { value: 'acknowledge' }, t('respond.acknowledge')), el('option', { value: 'dispute' }, t('respond.dispute')));
  const text = el('textarea', { name: 'text', rows: 2, required: true, 'aria-label': t('respond.text'), placeholder: t('respond.text') });
  const files = el('input', { id: 'respond-files', name: 'files', type: 'file', multiple: true, accept: '.geojson,.json,application/geo+json,application/json' });
  const seqs = el('input', { id: 'respond-seqs', name: 'evidence', type: 'text', inputmode: 'numeric', placeholder: '1234, 1240' });
  const result = el('output', { class: 'result', 'aria-live': 'polite' });
  if (logged != null) showLogged(result, logged, null);
  const refuse = (why) => {
    result.textContent = t('decide.refused', why);
    result.className = 'result refused';
  };
  return el('form', { class: 'respond', onsubmit: async (e) => {
    e.preventDefault();
    if (!text.value.trim()) {
      result.textContent = t('decide.need_reason');
      result.className = 'result refused';
      return;
    }
    const listed = seqs.value.split(/[\s,;]+/).filter(Boolean);
    if (listed.some((v) => !/^\d+$/.test(v))) return refuse(t('respond.bad_seqs', seqs.value));
    const evidence = listed.map(Number);
    result.textContent = t('decide.sending');
    result.className = 'result';
    try {
      for (const f of files.files) {
        const r = await postGeoJson('/api/allegations', await f.text());
        const bad = (r.results || []).filter((x) => x.status === 'rejected');
        if (bad.length) return refuse(t('respond.file_rejected', f.name, bad.map((x) => x.locator + ': ' + x.reason).join('; ')));
        for (const x of r.results || []) if (x.seq != null) evidence.push(x.seq);
      }
      const body = { response: kind.value, text: text.value.trim() };
      if (evidence.length) body.evidence = [...new Set(evidence)];
      const r = await post(`/api/incidents/${encodeURIComponent(id)}/responses`, body);
      showLogged(result, r.entry_seq, null);
      onDone && onDone(r.entry_seq);
    } catch (err) {
      refuse(err instanceof ApiError ? err.reason : String(err));
    }
  } }, kind, text,
  el('label', { for: 'respond-files' }, t('respond.files')), files,
  el('label', { for: 'respond-seqs' }, t('respond.seqs')), seqs,
  el('button', { type: 'submit' }, t('respond.submit')), result);
}

// --- reports -------------------------------------------------------------------------------------

/**
 * Reports (staff, parties, public): the days a daily report covers for this role, each file
 * fetched with the token and opened from memory; and the reports issued (`report` log
 * entries) this role may read, with their log seq and hashes.
 */
/** The files of a daily report the page offers: the documents, then each figure as PNG. */
const DAILY_FILES = ['report.pdf', 'report.html', 'report.json', 'map.png', 'chart.png', 'chart-by-rule.png', 'chart-by-sector.png'];
/** A spot report's: the documents and its map inset. */
const SPOT_FILES = ['report.pdf', 'report.html', 'map.png'];

/**
 * Links to a report's files under `path` (`/api/reports/daily/{day}` or `/spot/{id}`): each
 * fetched with the token on the first click, in the page's language, then saved on the second.
 */
function reportLinks(path, base, files, attrs) {
  return files.map((file) => {
    const [stem, ext] = file.split('.');
    const label = stem === 'report' ? ext.toUpperCase() : t('reports.file.' + stem);
    const a = el('a', { href: location.hash || '#/', class: 'report-file', 'data-file': file, ...(attrs || {}) }, label);
    a.addEventListener('click', async (ev) => {
      if (a.dataset.ready) return;
      ev.preventDefault();
      const name = `${base}-${lang()}-${stem}.${ext}`;
      try {
        const blob = await getBlob(`${path}?lang=${lang()}&file=${file}`);
        a.dataset.size = String(blob.size);
        a.dataset.head = await blob.slice(0, 5).text();
        a.href = URL.createObjectURL(blob);
        a.download = name;
        a.dataset.ready = 'yes';
        a.textContent = t('reports.save', name);
      } catch (e) {
        notice(errorText(e), 'error');
      }
    });
    return a;
  });
}

function reportsView() {
  const status = el('p', { class: 'help', id: 'reports-status' }, t('reports.loading'));
  const days = el('ul', { class: 'reports', id: 'report-days' });
  const issued = el('div', { id: 'reports-issued' });
  main.replaceChildren(el('section', { class: 'card reports' },
    el('h1', {}, t('reports.title')), el('p', { class: 'help' }, t('reports.help')), status, days,
    el('h2', {}, t('reports.issued')), issued));
  (async () => {
    try {
      const r = await get('/api/reports');
      status.textContent = r.days.length ? t('reports.count', r.days.length, r.audience) : t('reports.none');
      days.replaceChildren(...r.days.slice(0, 60).map((day) => {
        const files = reportLinks(`/api/reports/daily/${day}`, `truce-${day}-${r.audience.replace(':', '-')}`, DAILY_FILES, { 'data-day': day });
        return el('li', { 'data-day': day }, el('span', { class: 'day' }, day), ' ', ...files.flatMap((a) => [a, ' ']));
      }));
      issued.replaceChildren(r.issued.length
        ? el('table', { class: 'issued' },
          el('tr', {}, ...['seq', 'subject', 'audience', 'lang', 'log_size'].map((k) => el('th', {}, t('reports.col.' + k)))),
          ...r.issued.map((x) => el('tr', { 'data-seq': String(x.seq) },
            el('td', {}, String(x.seq)), el('td', {}, `${x.kind} ${x.subject}`), el('td', {}, x.audience),
            el('td', {}, x.lang), el('td', {}, String(x.log_size)))))
        : el('p', {}, t('reports.issued.none')));
    } catch (e) {
      status.textContent = errorText(e);
    }
  })();
  return null;
}

// --- routing -------------------------------------------------------------------------------------

function route() {
  if (current && current.destroy) current.destroy();
  current = null;
  window.truceMap = null;
  const [, view, arg] = (location.hash || '#/').split('/');
  renderHeader();
  main.dataset.view = view || 'map';
  if (view === 'login') {
    loginView();
    return;
  }
  switch (view) {
    case 'queue':
      current = isStaff() ? queueView() : mapView();
      break;
    case 'tasks':
      current = isStaff() || isTeam() ? tasksView() : mapView();
      break;
    case 'list':
      current = listView();
      break;
    case 'coverage':
      current = isStaff() ? coverageView() : mapView();
      break;
    case 'reports':
      current = isTeam() ? tasksView() : reportsView();
      break;
    case 'incident':
      current = incidentView(decodeURIComponent(arg || ''));
      break;
    default:
      current = isTeam() ? tasksView() : mapView();
  }
}

document.getElementById('signin').addEventListener('click', async () => {
  if (token()) {
    setToken('');
    await loadSession();
    location.hash = '#/map';
    route();
  } else location.hash = '#/login';
});
document.getElementById('lang').addEventListener('change', (e) => {
  setLang(e.target.value);
  route();
});
window.addEventListener('hashchange', route);

(async () => {
  try {
    await loadSession();
  } catch (e) {
    notice(errorText(e), 'error');
  }
  route();
})();
