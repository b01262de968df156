// The API as the token's role sees it. The token is kept for this tab's session only
// (sessionStorage); no token is the public. Errors carry the server's own reason.

const TOKEN_KEY = 'truce.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t.trim());
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, reason) {
    super(reason);
    this.status = status;
    this.reason = reason;
  }
}

function headers(extra) {
  const h = Object.assign({ Accept: 'application/json' }, extra || {});
  const t = token();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

async function reply(r) {
  const text = await r.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (_) {
    body = text;
  }
  if (!r.ok) {
    const reason = body && typeof body === 'object' ? body.error || body.description : text;
    throw new ApiError(r.status, reason || r.statusText || String(r.status));
  }
  return body;
}

/** GET `path`, answering its JSON (or text for text/plain). */
export async function get(path, signal) {
  return reply(await fetch(path, { headers: headers(), signal }));
}

/** GET `path` as bytes (a report file), with the token; answers a Blob. */
export async function getBlob(path) {
  const r = await fetch(path, { headers: headers({ Accept: '*/*' }) });
  if (!r.ok) await reply(r);
  return r.blob();
}

/** POST `body` as JSON to `path`. */
export async function post(path, body) {
  return reply(
    await fetch(path, {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify(body),
    }),
  );
}

/** POST the text of a GeoJSON file (an allegation) to `path`, answering the JSON reply. */
export async function postGeoJson(path, text) {
  return reply(
    await fetch(path, {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/geo+json' }),
      body: text,
    }),
  );
}

/**
 * Follows the alert stream (Server-Sent Events). EventSource cannot send an Authorization
 * header, so the stream is read with fetch. Calls `onEvent(kind, data)` per event and
 * `onState(connected)` when the connection opens or drops; reconnects after 3 s until
 * `signal` aborts, or for good once the server says the token was revoked (a `revoked` event,
 * passed on to `onEvent`, then the end of the stream).
 */
export async function followAlerts(onEvent, onState, signal) {
  while (!signal.aborted) {
    try {
      const r = await fetch('/api/alerts/stream', {
        headers: headers({ Accept: 'text/event-stream' }),
        signal,
      });
      if (!r.ok) {
        onState(false, r.status);
        if (r.status === 401 || r.status === 403) return;
      } else {
        onState(true);
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
          let cut;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let kind = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) kind = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (kind === 'revoked') {
              // The server ends the stream once the token is revoked: do not reconnect.
              onEvent(kind, data.join('\n'));
              return;
            }
            if (data.length) {
              let d = data.join('\n');
              try {
                d = JSON.parse(d);
              } catch (_) {
                /* lagged: a number */
              }
              onEvent(kind, d);
            }
          }
        }
        onState(false);
      }
    } catch (e) {
      if (signal.aborted) return;
      onState(false);
    }
    await new Promise((res) => setTimeout(res, 3000));
  }
}
