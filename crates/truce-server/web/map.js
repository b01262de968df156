// The map: the agreement's layers (party areas, zones, contact line, storage sites) from the
// OGC API, and the incidents the role may see, fetched for the visible box in pages and
// clustered by MapLibre. The basemap is bundled open data (basemap/README.md): Ukraine's
// outline, its oblasts and settlements, so the map works offline.

import { get } from './api.js';
import { lang } from './i18n.js';

/* global maplibregl */

export const STATE_COLOURS = {
  single_source: '#8c8c8c',
  corroborated: '#e69f00',
  verification_tasked: '#cc79a7',
  verified: '#d55e00',
  not_confirmed: '#56b4e9',
  inconclusive: '#999933',
  published: '#009e73',
};
const PARTY_COLOURS = ['#4477aa', '#ee6677', '#228833', '#ccbb44'];
export const SEVERITY_RANK = { low: 1, medium: 2, high: 3, critical: 4 };

/** Most settlement names drawn at once (HTML labels: each costs a DOM element per move). */
const MAX_PLACE_LABELS = 40;

/** Incidents fetched per request, and the most fetched for one view of the map. */
const PAGE = 1000;
const MAX_PER_VIEW = 5000;

const EMPTY = { type: 'FeatureCollection', features: [] };

function incidentFeatures(incidents) {
  return incidents
    .filter((i) => Array.isArray(i.location))
    .map((i) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: i.location },
      properties: {
        id: i.id,
        state: i.state,
        severity: i.max_severity || 'low',
        rank: SEVERITY_RANK[i.max_severity] || 0,
      },
    }));
}

/** Metres per degree of latitude; a degree of longitude is this times cos(latitude). */
const M_PER_DEG = 111320;

/** The point `east` and `north` metres from `[lon, lat]` (a local plane: tens of kilometres). */
function shift([lon, lat], east, north) {
  return [lon + east / (M_PER_DEG * Math.cos((lat * Math.PI) / 180)), lat + north / M_PER_DEG];
}

/** A 95 % error ellipse around `[lon, lat]` as a GeoJSON ring (its major axis `azimuth_deg` from north). */
function ellipseRing(centre, e) {
  const az = (e.azimuth_deg * Math.PI) / 180;
  const ring = [];
  for (let i = 0; i <= 48; i++) {
    const a = (2 * Math.PI * i) / 48;
    // Along the major axis (north-up, turned by the azimuth) and the minor one.
    const u = e.semi_major_m * Math.cos(a);
    const v = e.semi_minor_m * Math.sin(a);
    ring.push(shift(centre, u * Math.sin(az) + v * Math.cos(az), u * Math.cos(az) - v * Math.sin(az)));
  }
  return ring;
}

/**
 * What the API gives the role beyond an incident's place (parties and staff; the public gets
 * none of it): origins of fire with their 95 % ellipse and a line to the strike, and each
 * strike ↔ firing link drawn once between the two incidents' places.
 */
function fireFeatures(incidents) {
  const features = [];
  const linked = new Set();
  for (const i of incidents) {
    if (i.origin && i.origin.point) {
      features.push({ type: 'Feature', geometry: { type: 'Polygon', coordinates: [ellipseRing(i.origin.point, i.origin.ellipse_95)] }, properties: { kind: 'ellipse', id: i.id } });
      features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: i.origin.point }, properties: { kind: 'origin', id: i.id } });
      if (Array.isArray(i.location) && (i.location[0] !== i.origin.point[0] || i.location[1] !== i.origin.point[1])) {
        features.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: [i.origin.point, i.location] }, properties: { kind: 'to-strike', id: i.id } });
      }
    }
    for (const l of i.links || []) {
      const key = [i.id, l.incident].sort().join(' ');
      if (linked.has(key) || !Array.isArray(i.location) || !Array.isArray(l.location)) continue;
      linked.add(key);
      features.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: [i.location, l.location] }, properties: { kind: 'link', to: 'place', id: i.id, other: l.incident } });
    }
  }
  return features;
}

/** East and north metres from `a` to `b` (a local plane: enough for tens of kilometres). */
function offset(a, b) {
  const k = Math.cos((a[1] * Math.PI) / 180);
  return [(b[0] - a[0]) * M_PER_DEG * k, (b[1] - a[1]) * M_PER_DEG];
}

/** The point `reach` metres from `p` along the azimuth `azDeg`. */
function along(p, azDeg, reach) {
  const az = (azDeg * Math.PI) / 180;
  return shift(p, reach * Math.sin(az), reach * Math.cos(az));
}

/** How far along bearing `b` (metres, ≥ 0, within its range) the point nearest `p` lies. */
function alongTo(b, p) {
  const [e, n] = offset(b.observer, p);
  const az = (b.azimuth_deg * Math.PI) / 180;
  const t = Math.max(0, e * Math.sin(az) + n * Math.cos(az));
  return b.max_range_m ? Math.min(t, b.max_range_m) : t;
}

/** Bearing `b` of incident `id` as a ray `reach` metres long, and its observer as a dot. */
function rayFeatures(b, reach, id, of) {
  return [
    { type: 'Feature', geometry: { type: 'LineString', coordinates: [b.observer, along(b.observer, b.azimuth_deg, reach)] }, properties: { kind: 'bearing', of, id, seq: b.seq } },
    { type: 'Feature', geometry: { type: 'Point', coordinates: b.observer }, properties: { kind: 'observer', id, seq: b.seq } },
  ];
}

/**
 * Staff: the bearings behind each origin of fire in `incidents` (the list's `bearings`, given
 * to staff only: they place the sensors), as rays from each observer a little past the origin.
 */
function bearingFeatures(incidents) {
  const out = [];
  for (const i of incidents) {
    if (!(i.origin && i.origin.point) || !i.bearings) continue;
    for (const b of i.bearings) {
      const [e, n] = offset(b.observer, i.origin.point);
      out.push(...rayFeatures(b, Math.max(1000, Math.hypot(e, n) * 1.15), i.id, 'origin'));
    }
  }
  return out;
}

/** Most firings without a place a view fetches (`GET /api/incidents/{id}`) to draw links to. */
const MAX_FIRING_FETCHES = 25;

/**
 * Staff: a strike linked to a firing that no two rays fix has no place at the firing's end.
 * The firing's rays are drawn (from its detail: it is not in the box, having no place) and the
 * link goes to the point of those rays nearest the strike — the firing lies somewhere along
 * them. `cache` keeps fetched firings by id and their time.
 */
async function rayLinkFeatures(incidents, cache, signal) {
  const wanted = [];
  const seen = new Set();
  for (const i of incidents) {
    if (!Array.isArray(i.location)) continue;
    for (const l of i.links || []) {
      const key = i.id + ' ' + l.incident;
      if (Array.isArray(l.location) || seen.has(key)) continue;
      seen.add(key);
      wanted.push([i, l.incident]);
    }
  }
  const links = wanted.slice(0, MAX_FIRING_FETCHES);
  // The firings not cached (or cached over a minute ago), asked for at once.
  const stale = [...new Set(links.map(([, id]) => id))].filter((id) => !cache.has(id) || Date.now() - cache.get(id).at > 60000);
  const fetched = await Promise.all(stale.map((id) => get('/api/incidents/' + encodeURIComponent(id), signal)));
  stale.forEach((id, k) => cache.set(id, { at: Date.now(), firing: fetched[k] }));
  const out = [];
  const drawnRays = new Set(); // a firing's rays once, however many strikes link to it
  for (const [strike, id] of links) {
    const rays = (cache.get(id).firing.bearings || []).filter((b) => b.firing);
    let best = null;
    for (const b of rays) {
      const t = alongTo(b, strike.location);
      const q = along(b.observer, b.azimuth_deg, t);
      const [e, n] = offset(q, strike.location);
      const d = Math.hypot(e, n);
      if (!best || d < best.d) best = { d, q };
      if (!drawnRays.has(id)) out.push(...rayFeatures(b, b.max_range_m || Math.max(5000, t * 1.5), id, 'firing'));
    }
    drawnRays.add(id);
    if (best) {
      out.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: [strike.location, best.q] }, properties: { kind: 'link', to: 'rays', id: strike.id, other: id } });
    }
  }
  return out;
}

/**
 * Makes the map in `container`. `onPick(id)` opens an incident; `onLoaded(shown, total)` says
 * how many incidents the view holds. Answers { map, reload, setState, setPeriod, destroy }.
 */
export function makeMap(container, { incidents = true, tasks = false, bearings = false, onPick, onLoaded, onError }) {
  maplibregl.setWorkerUrl('/app/vendor/maplibre-gl/maplibre-gl-csp-worker.js');
  const map = new maplibregl.Map({
    container,
    style: {
      version: 8,
      sources: {},
      layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#e4e7ea' } }],
    },
    center: [38.2, 48.2],
    zoom: 7,
    attributionControl: { compact: true },
    fadeDuration: 0,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl(), 'bottom-left');
  let stateFilter = '';
  let openTasks = null; // staff: the open tasks, from `GET /api/tasks` once
  const firingCache = new Map(); // staff: firings without a place, by id, to draw links to their rays
  let inflight = null;
  let timer = null;
  // What the deployment says of the map (an online style?), asked for while the map loads.
  const configured = get('/app/config.json').catch((e) => {
    onError && onError(e);
    return {};
  });

  /**
   * The bundled basemap under the terms: Ukraine's land, oblast boundaries and settlements
   * (dots drawn by MapLibre, names as HTML labels since an offline map has no glyph server:
   * only the settlements in view whose rank the zoom admits, at most `MAX_PLACE_LABELS`).
   */
  function basemap() {
    // Layers first, empty, so they lie under the terms drawn next; the files fill them when
    // they arrive, without holding up the terms and the incidents.
    // The licences ask for these words (basemap/README.md); MapLibre shows them in its ⓘ box.
    map.addSource('land', { type: 'geojson', data: EMPTY, attribution: 'Natural Earth' });
    map.addSource('admin1', { type: 'geojson', data: EMPTY, attribution: 'Oblasts © Мінрегіон (CC BY-SA)' });
    map.addSource('places', { type: 'geojson', data: EMPTY, attribution: 'Places: GeoNames, UCDP GED (CC BY 4.0)' });
    map.addLayer({ id: 'land', type: 'fill', source: 'land', paint: { 'fill-color': '#f6f3ec' } });
    map.addLayer({ id: 'admin1', type: 'line', source: 'admin1', paint: { 'line-color': '#a8a29a', 'line-width': 0.8, 'line-dasharray': [4, 2] } });
    map.addLayer({ id: 'land-edge', type: 'line', source: 'land', paint: { 'line-color': '#8a847c', 'line-width': 1.2 } });
    map.addLayer({ id: 'places', type: 'circle', source: 'places', filter: ['<=', ['get', 'rank'], ['step', ['zoom'], 1, 6, 2, 7.5, 3, 9, 4]], paint: { 'circle-radius': ['match', ['get', 'rank'], 1, 3.5, 2, 3, 2.5], 'circle-color': '#4a4a4a', 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } });
    for (const name of ['land', 'admin1', 'places']) {
      get(`/app/basemap/${name}.geojson`).then(
        (data) => {
          map.getSource(name).setData(data);
          if (name === 'places') {
            placeData = data.features;
            container.dataset.places = String(placeData.length);
            map.on('moveend', placeLabels);
            placeLabels();
          }
        },
        (e) => onError && onError(e),
      );
    }
  }

  let placeData = [];
  let placeMarkers = new Map();
  /**
   * The names of the settlements in view that the zoom admits, in the user's language: a label
   * still wanted is kept (not made again), so a pan touches only those that enter or leave.
   */
  function placeLabels() {
    const z = map.getZoom();
    const maxRank = z < 6 ? 1 : z < 7.5 ? 2 : z < 9 ? 3 : 4;
    const b = map.getBounds();
    const name = lang() === 'en' ? 'name_en' : 'name_uk';
    const next = new Map();
    for (const f of placeData) {
      if (next.size >= MAX_PLACE_LABELS) break;
      if (f.properties.rank > maxRank || !b.contains(f.geometry.coordinates)) continue;
      const key = f.properties[name] + ' ' + f.geometry.coordinates.join(',');
      let m = placeMarkers.get(key);
      if (m) placeMarkers.delete(key);
      else {
        const e = document.createElement('span');
        e.className = 'place-label rank-' + f.properties.rank;
        e.textContent = f.properties[name];
        m = new maplibregl.Marker({ element: e, anchor: 'left', offset: [5, 0] }).setLngLat(f.geometry.coordinates).addTo(map);
      }
      next.set(key, m);
    }
    for (const m of placeMarkers.values()) m.remove();
    placeMarkers = next;
    container.dataset.placeLabels = String(next.size);
  }

  async function terms() {
    const layer = async (id) => {
      try {
        return await get(`/collections/${id}/items?limit=1000`);
      } catch (e) {
        onError && onError(e);
        return EMPTY;
      }
    };
    const [areas, zones, line, sites] = await Promise.all(
      ['party_areas', 'zones', 'contact_line', 'storage_sites'].map(layer),
    );
    areas.features.forEach((f, k) => (f.properties.colour = PARTY_COLOURS[k % PARTY_COLOURS.length]));
    map.addSource('party_areas', { type: 'geojson', data: areas });
    map.addSource('zones', { type: 'geojson', data: { type: 'FeatureCollection', features: zones.features.filter((f) => f.geometry) } });
    map.addSource('contact_line', { type: 'geojson', data: line });
    map.addSource('storage_sites', { type: 'geojson', data: sites });
    map.addLayer({ id: 'party_areas', type: 'fill', source: 'party_areas', paint: { 'fill-color': ['get', 'colour'], 'fill-opacity': 0.12 } });
    map.addLayer({ id: 'party_areas_edge', type: 'line', source: 'party_areas', paint: { 'line-color': ['get', 'colour'], 'line-width': 1, 'line-opacity': 0.6 } });
    map.addLayer({ id: 'zones', type: 'fill', source: 'zones', paint: { 'fill-color': '#b07aa1', 'fill-opacity': 0.15, 'fill-outline-color': '#7b4173' } });
    map.addLayer({ id: 'contact_line', type: 'line', source: 'contact_line', paint: { 'line-color': '#c0392b', 'line-width': 2.5, 'line-dasharray': [3, 1.5] } });
    // A storage site is a square, so it is never taken for an incident (a circle).
    map.addImage('storage-site', storageIcon());
    map.addLayer({ id: 'storage_sites', type: 'symbol', source: 'storage_sites', layout: { 'icon-image': 'storage-site', 'icon-allow-overlap': true } });
    const bounds = new maplibregl.LngLatBounds();
    for (const f of line.features) {
      const g = f.geometry;
      const lines = g.type === 'LineString' ? [g.coordinates] : g.coordinates;
      lines.forEach((l) => l.forEach((c) => bounds.extend(c)));
    }
    if (!bounds.isEmpty()) map.fitBounds(bounds, { padding: 40, duration: 0 });
  }

  /** A 12 px dark square with a white rim: the storage sites' icon, drawn here (no sprite). */
  function storageIcon() {
    const n = 12;
    const data = new Uint8Array(n * n * 4);
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const rim = x < 2 || y < 2 || x >= n - 2 || y >= n - 2;
        data.set(rim ? [255, 255, 255, 255] : [51, 65, 85, 255], (y * n + x) * 4);
      }
    }
    return { width: n, height: n, data };
  }

  function fireLayers() {
    map.addSource('fire', { type: 'geojson', data: EMPTY });
    map.addLayer({ id: 'fire-ellipses', type: 'fill', source: 'fire', filter: ['==', ['get', 'kind'], 'ellipse'], paint: { 'fill-color': '#111', 'fill-opacity': 0.06, 'fill-outline-color': '#111' } });
    map.addLayer({ id: 'fire-ellipse-edges', type: 'line', source: 'fire', filter: ['==', ['get', 'kind'], 'ellipse'], paint: { 'line-color': '#111', 'line-width': 1.2 } });
    map.addLayer({ id: 'fire-to-strike', type: 'line', source: 'fire', filter: ['==', ['get', 'kind'], 'to-strike'], paint: { 'line-color': '#444', 'line-width': 1, 'line-dasharray': [2, 2] } });
    map.addLayer({ id: 'fire-links', type: 'line', source: 'fire', filter: ['==', ['get', 'kind'], 'link'], paint: { 'line-color': '#7a0177', 'line-width': 1.6, 'line-dasharray': [3, 2] } });
    map.addLayer({ id: 'fire-bearings', type: 'line', source: 'fire', filter: ['==', ['get', 'kind'], 'bearing'], paint: { 'line-color': '#2171b5', 'line-width': 1, 'line-opacity': 0.8 } });
    map.addLayer({ id: 'fire-observers', type: 'circle', source: 'fire', filter: ['==', ['get', 'kind'], 'observer'], paint: { 'circle-radius': 2.5, 'circle-color': '#2171b5' } });
    map.addLayer({ id: 'fire-origins', type: 'circle', source: 'fire', filter: ['==', ['get', 'kind'], 'origin'], paint: { 'circle-radius': 3, 'circle-color': '#111' } });
  }

  /** Staff: where each open task sends a team (`GET /api/tasks`), a blue diamond. */
  async function taskLayer() {
    let list;
    try {
      list = await get('/api/tasks');
    } catch (e) {
      onError && onError(e);
      return;
    }
    openTasks = (list.tasks || []).filter((k) => k.state !== 'done' && Array.isArray(k.location));
    map.addSource('tasks', { type: 'geojson', data: EMPTY });
    map.addImage('task', taskIcon());
    map.addLayer({ id: 'tasks', type: 'symbol', source: 'tasks', layout: { 'icon-image': 'task', 'icon-allow-overlap': true } });
    showTasks();
  }

  /** Staff: where each team sets out from (`GET /api/mission`), a green triangle with its id. */
  async function baseLayer() {
    let mission;
    try {
      mission = await get('/api/mission');
    } catch (e) {
      onError && onError(e);
      return;
    }
    const features = (mission.teams || []).map((k) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: k.base }, properties: { id: k.id, name: k.name } }));
    map.addSource('bases', { type: 'geojson', data: { type: 'FeatureCollection', features } });
    map.addImage('base', baseIcon());
    map.addLayer({ id: 'bases', type: 'symbol', source: 'bases', layout: { 'icon-image': 'base', 'icon-allow-overlap': true } });
    // The team's id beside its base as an HTML marker (no glyph server offline), its name on hover.
    for (const f of features) {
      const label = document.createElement('span');
      label.className = 'base-label';
      label.textContent = f.properties.id;
      label.title = f.properties.name;
      new maplibregl.Marker({ element: label, anchor: 'left', offset: [9, 0] }).setLngLat(f.geometry.coordinates).addTo(map);
    }
    container.dataset.bases = String(features.length);
  }

  /** A 14 px green triangle with a white rim: a team's base, unlike any other mark. */
  function baseIcon() {
    const n = 14;
    const data = new Uint8Array(n * n * 4);
    for (let y = 0; y < n; y++) {
      const half = (y + 1) / 2; // the triangle widens downwards, apex at the top
      for (let x = 0; x < n; x++) {
        const d = Math.abs(x - (n - 1) / 2);
        if (d <= half && y < n - 1) data.set(d > half - 1.5 || y >= n - 3 ? [255, 255, 255, 255] : [35, 139, 69, 255], (y * n + x) * 4);
      }
    }
    return { width: n, height: n, data };
  }

  /** The open tasks created within the period (all of them in "now"). */
  function showTasks() {
    if (!openTasks || !map.getSource('tasks')) return;
    const from = period.from ? period.from + 'T00:00:00Z' : null;
    const to = period.to ? nextDay(period.to) + 'T00:00:00Z' : null;
    const within = (k) => (!from || Date.parse(k.created_at) >= Date.parse(from)) && (!to || Date.parse(k.created_at) < Date.parse(to));
    const features = openTasks
      .filter(within)
      .map((k) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: k.location }, properties: { id: k.id, incident: k.incident, team: k.team || '' } }));
    map.getSource('tasks').setData({ type: 'FeatureCollection', features });
    container.dataset.tasks = String(features.length);
  }

  /** A 14 px blue diamond outline: a task's destination, never taken for an incident or a site. */
  function taskIcon() {
    const n = 14;
    const data = new Uint8Array(n * n * 4);
    const c = (n - 1) / 2;
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const d = Math.abs(x - c) + Math.abs(y - c);
        if (d <= c && d > c - 2.5) data.set([0, 87, 184, 255], (y * n + x) * 4);
        else if (d <= c - 2.5) data.set([255, 255, 255, 200], (y * n + x) * 4);
      }
    }
    return { width: n, height: n, data };
  }

  function incidentLayers() {
    fireLayers();
    map.addSource('incidents', { type: 'geojson', data: EMPTY, cluster: true, clusterRadius: 40, clusterMaxZoom: 12 });
    map.addLayer({
      id: 'clusters',
      type: 'circle',
      source: 'incidents',
      filter: ['has', 'point_count'],
      paint: {
        'circle-color': '#34495e',
        'circle-opacity': 0.75,
        'circle-stroke-color': '#fff',
        'circle-stroke-width': 1.5,
        'circle-radius': ['step', ['get', 'point_count'], 10, 10, 14, 50, 18, 200, 24],
      },
    });
    map.addLayer({
      id: 'incidents',
      type: 'circle',
      source: 'incidents',
      filter: ['!', ['has', 'point_count']],
      paint: {
        'circle-color': ['match', ['get', 'state'], ...Object.entries(STATE_COLOURS).flat(), '#666'],
        'circle-radius': ['match', ['get', 'severity'], 'critical', 9, 'high', 7, 'medium', 5.5, 4.5],
        // Severity is also in the outline, not only in the size: a thick dark ring is high or critical.
        'circle-stroke-width': ['case', ['>=', ['get', 'rank'], 3], 2.5, 1],
        'circle-stroke-color': '#222',
      },
    });
    map.on('click', 'clusters', async (e) => {
      const f = e.features[0];
      const z = await map.getSource('incidents').getClusterExpansionZoom(f.properties.cluster_id);
      map.easeTo({ center: f.geometry.coordinates, zoom: z });
    });
    map.on('click', 'incidents', (e) => onPick(e.features[0].properties.id));
    for (const l of ['clusters', 'incidents']) {
      map.on('mouseenter', l, () => (map.getCanvas().style.cursor = 'pointer'));
      map.on('mouseleave', l, () => (map.getCanvas().style.cursor = ''));
    }
  }

  // Cluster counts as HTML labels over the circles: a symbol layer would need glyphs from a
  // font server, which an offline map does not have.
  let labels = new Map();
  function updateLabels() {
    if (!map.getSource('incidents') || !map.isSourceLoaded('incidents')) return;
    const next = new Map();
    for (const f of map.querySourceFeatures('incidents')) {
      const p = f.properties;
      if (!p.cluster) continue;
      const key = p.cluster_id + ':' + p.point_count + ':' + f.geometry.coordinates.map((v) => v.toFixed(5)).join(',');
      if (next.has(key)) continue;
      let m = labels.get(key);
      if (m) labels.delete(key);
      else {
        const e = document.createElement('div');
        e.className = 'cluster-count';
        e.textContent = p.point_count_abbreviated;
        m = new maplibregl.Marker({ element: e }).setLngLat(f.geometry.coordinates).addTo(map);
      }
      next.set(key, m);
    }
    for (const m of labels.values()) m.remove();
    labels = next;
  }

  let period = {};
  const nextDay = (day) => {
    const d = new Date(day + 'T00:00:00Z');
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  };

  let drawn = false; // whether the incident layer has been given any incidents yet

  /**
   * Fetches the incidents in the visible box and shows them: the first page, then the rest of
   * the view's pages (up to MAX_PER_VIEW) all at once, since the first page's total says how
   * many there are; each page's answer waits for the main thread, which MapLibre keeps busy
   * drawing, so pages asked one after another queue behind every frame. The first view's first
   * page is drawn as soon as it arrives (nothing is on the map yet); later views keep the
   * incidents on the map until the new view's whole set replaces them in one `setData`.
   */
  async function reload() {
    if (!map.getSource('incidents')) return;
    if (inflight) inflight.abort();
    const ctl = new AbortController();
    inflight = ctl;
    const b = map.getBounds();
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    const bbox = [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)]
      .map((v) => v.toFixed(5))
      .join(',');
    const page = (offset) => {
      const q = new URLSearchParams({ bbox, limit: String(PAGE), offset: String(offset) });
      if (stateFilter) q.set('state', stateFilter);
      // A period of whole UTC days: incidents still going on its first day (ending at or
      // after it) and begun by the end of its last (starting before the next day).
      if (period.from) q.set('from', period.from + 'T00:00:00Z');
      if (period.to) q.set('to', nextDay(period.to) + 'T00:00:00Z');
      return get('/api/incidents?' + q, ctl.signal);
    };
    let all;
    let total = 0;
    try {
      const first = await page(0);
      total = first.total;
      all = first.incidents;
      // Drawn at once only if more is to come (further pages, or the staff's bearings):
      // a view of one page is handed to MapLibre once.
      if (!drawn && !ctl.signal.aborted && (first.next_offset != null || bearings)) {
        map.getSource('incidents').setData({ type: 'FeatureCollection', features: incidentFeatures(all) });
        drawn = true;
      }
      if (first.next_offset != null) {
        const offsets = [];
        for (let o = first.next_offset; o < Math.min(total, MAX_PER_VIEW); o += PAGE) offsets.push(o);
        const rest = await Promise.all(offsets.map(page));
        all = all.concat(...rest.map((p) => p.incidents));
        // The view's total as the last page counted it (incidents may arrive meanwhile).
        if (rest.length) total = rest[rest.length - 1].total;
      }
    } catch (e) {
      if (e.name !== 'AbortError') onError && onError(e);
      return;
    }
    if (ctl.signal.aborted) return;
    let rays = [];
    if (bearings) {
      rays = bearingFeatures(all);
      try {
        rays = rays.concat(await rayLinkFeatures(all, firingCache, ctl.signal));
      } catch (e) {
        if (e.name !== 'AbortError') onError && onError(e);
        return;
      }
      if (ctl.signal.aborted) return;
    }
    map.getSource('incidents').setData({ type: 'FeatureCollection', features: incidentFeatures(all) });
    drawn = true;
    const fire = fireFeatures(all).concat(rays);
    const count = (test) => String(fire.filter((f) => test(f.properties)).length);
    if (bearings) {
      container.dataset.bearings = count((p) => p.kind === 'bearing' && p.of === 'origin');
      container.dataset.rayLinks = count((p) => p.kind === 'link' && p.to === 'rays');
    }
    map.getSource('fire').setData({ type: 'FeatureCollection', features: fire });
    container.dataset.origins = count((p) => p.kind === 'origin');
    container.dataset.links = count((p) => p.kind === 'link' && p.to === 'place');
    onLoaded && onLoaded(all.length, total);
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(reload, 150);
  }

  map.on('load', async () => {
    // A deployment's online style (`truce serve --map-style`) replaces the bundled basemap;
    // the terms and incidents are added on top of either.
    const config = await configured;
    if (config.map_style) {
      const styled = new Promise((resolve) => map.once('style.load', resolve));
      map.setStyle(config.map_style, { diff: false }); // a whole new style: 'style.load' fires
      await styled;
      container.dataset.basemap = 'online';
    } else {
      basemap();
      container.dataset.basemap = 'bundled';
    }
    await terms();
    if (!incidents) {
      onLoaded && onLoaded(0, 0);
      return;
    }
    incidentLayers();
    map.on('moveend', later);
    map.on('idle', updateLabels);
    // The incidents first: the tasks and bases are asked for alongside, not before them.
    reload();
    if (tasks) await Promise.all([taskLayer(), baseLayer()]);
  });

  return {
    map,
    reload: later,
    setState(s) {
      stateFilter = s;
      later();
    },
    /** Shows the incidents of the UTC days `from` to `to` (`YYYY-MM-DD`, either may be ''). */
    setPeriod(from, to) {
      period = { from, to };
      showTasks();
      later();
    },
    destroy() {
      if (inflight) inflight.abort();
      clearTimeout(timer);
      map.remove();
    },
  };
}
