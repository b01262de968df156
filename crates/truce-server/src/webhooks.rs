//! Per-party webhooks: each alert a party is a recipient of (`crate::alerts`) is POSTed as JSON
//! to the party's endpoints, signed with HMAC-SHA256, retried with exponential backoff on a
//! background task (never holding up ingest), and the outcome — delivered with the HTTP status
//! and the number of attempts, or given up and why — is appended to the log as an `alert`
//! entry.
//!
//! Endpoints are operational, not terms: they live in a file given to `truce serve
//! --webhooks FILE`, not in the agreement (changing a URL is not a change of the ceasefire)
//! and not in the mission file (which is logged: the URLs would be in every party's copy of
//! the log). Secrets are named by environment variable so they are in neither file nor log:
//!
//! ```toml
//! [[webhook]]
//! party = "UA"
//! url = "http://10.0.0.5:9000/truce/alerts"
//! secret_env = "TRUCE_WEBHOOK_SECRET_UA"
//! ```
//!
//! `http://` and `https://` are spoken: a minimal HTTP/1.1 client (one POST, the status line
//! read) over a TCP stream, or over TLS (rustls, the `ring` provider). An `https://`
//! receiver's certificate is verified against the CA file given to `truce serve --webhook-ca`
//! when there is one (a deployment's own CA: only it is trusted), else against Mozilla's roots
//! as bundled (`webpki-roots`: data compiled in, no system store read, the same on every
//! machine). A certificate that does not verify is a failed delivery at once, with the reason
//! in the outcome; it is not retried (waiting does not make it valid). The signature
//! authenticates every body either way; over plain `http://` the alert's content is exposed.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc};
use truce_core::agreement::Agreement;
use truce_fusion::ledger::{AlertRecord, Delivery};

use truce_service::alerts::Alert;

use crate::state::Shared;

/// Attempts per delivery: the first and five retries, 1 + 2 + 4 + 8 + 16 = 31 s of backoff. A
/// receiver restarting (a deploy, a reboot) is back within half a minute; one that is not has
/// a problem no faster retry fixes, and the failure is logged for the party to see.
pub const MAX_ATTEMPTS: u32 = 6;
/// The wait before the first retry; each later wait doubles.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// One attempt (connect, send, read the status line) may take this long: a receiver that has
/// not answered in 10 s is treated as down, and the attempt is retried.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries in flight at once; more wait their turn (in memory, not in the ingest path).
/// Two parties with a few endpoints each rarely need more than a handful; 64 bounds sockets
/// and memory when a receiver hangs and every delivery waits out its timeout.
pub const MAX_CONCURRENT_DELIVERIES: usize = 64;
/// Outcomes are logged together: the first waits at most this long for others, so a burst
/// of deliveries costs one entry and one checkpoint, and a lone outcome is in the log within
/// a quarter of a second.
pub const LOG_WAIT: Duration = Duration::from_millis(250);
/// Most outcomes in one `alert` entry.
pub const LOG_MAX: usize = 1_000;
/// Shortest HMAC key accepted, bytes: 128 bits, the least a guess-proof key should have
/// (RFC 2104 recommends at least the hash's output, 32 bytes for SHA-256).
pub const MIN_SECRET_BYTES: usize = 16;
/// Longest status line read from a receiver.
const MAX_STATUS_LINE: usize = 8 << 10;

/// One party's endpoint, with its key.
#[derive(Clone)]
pub struct Endpoint {
    pub party: String,
    /// `host:port` to connect to, the `Host` header, and the request target.
    host: String,
    port: u16,
    authority: String,
    target: String,
    /// The URL without its query string: what the log names.
    pub shown: String,
    secret: Vec<u8>,
    /// TLS for an `https://` endpoint.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        write!(f, "Endpoint({} → {})", self.party, self.shown)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    webhook: Vec<RawWebhook>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    party: String,
    url: String,
    secret_env: String,
}

/// Reads a webhooks file: every problem at once, each naming the file and the webhook.
/// `env` looks up an environment variable (the process's own in `truce serve`); `tls` is the
/// client configuration `https://` endpoints are reached with (`crate::tls::client_config`).
pub fn load(
    file: &str,
    text: &str,
    terms: &Agreement,
    env: &dyn Fn(&str) -> Option<String>,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Vec<Endpoint>, Vec<String>> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        vec![format!(
            "{file}: {}",
            e.to_string().trim().replace('\n', " ")
        )]
    })?;
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (i, w) in raw.webhook.into_iter().enumerate() {
        let at = format!("{file}: webhook {} (party {})", i + 1, w.party);
        if terms.party(&w.party).is_none() {
            let known: Vec<&str> = terms.parties.iter().map(|p| p.id.as_str()).collect();
            errors.push(format!(
                "{at}: no party {:?} in the agreement in force ({})",
                w.party,
                known.join(", ")
            ));
        }
        let url = parse_url(&w.url).map_err(|e| errors.push(format!("{at}: url {:?}: {e}", w.url)));
        let secret = match env(&w.secret_env) {
            None => {
                errors.push(format!(
                    "{at}: environment variable {} (secret_env) is not set: export the party's HMAC key in it",
                    w.secret_env
                ));
                None
            }
            Some(s) if s.len() < MIN_SECRET_BYTES => {
                errors.push(format!(
                    "{at}: the key in {} is {} bytes; at least {MIN_SECRET_BYTES} (32 random bytes, hex or base64, is right)",
                    w.secret_env,
                    s.len()
                ));
                None
            }
            Some(s) => Some(s.into_bytes()),
        };
        if let (Ok((host, port, authority, target, shown)), Some(secret)) = (url, secret) {
            let tls = shown.starts_with("https://").then(|| tls.clone());
            out.push(Endpoint {
                party: w.party,
                host,
                port,
                authority,
                target,
                shown,
                secret,
                tls,
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

type ParsedUrl = (String, u16, String, String, String);

/// `http[s]://host[:port][/path][?query]` → host, port, authority, request target, URL shown.
fn parse_url(url: &str) -> Result<ParsedUrl, String> {
    let (scheme, rest, default_port) = if let Some(rest) = url.strip_prefix("http://") {
        ("http", rest, 80)
    } else if let Some(rest) = url.strip_prefix("https://") {
        ("https", rest, 443)
    } else {
        return Err("must start with http:// or https://".into());
    };
    let (authority, target) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if authority.contains('@') {
        return Err("no user:password@ in the URL: the HMAC key authenticates".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("unclosed [ in the host")?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
            None if after.is_empty() => default_port,
            None => return Err("bad host".into()),
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse().map_err(|_| format!("bad port {p:?}"))?,
            ),
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() || target.contains([' ', '\r', '\n']) {
        return Err("no host, or white space in the URL".into());
    }
    let shown = format!(
        "{scheme}://{authority}{}",
        target.split('?').next().unwrap_or("/")
    );
    Ok((host, port, authority.to_string(), target, shown))
}

/// `sha256=<hex HMAC-SHA256 of body under key>`: the `X-Truce-Signature` header.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The webhooks of a running service: endpoints, the queue of outcomes to log, and the task
/// that logs them.
pub struct Webhooks {
    endpoints: Vec<Arc<Endpoint>>,
    /// Taken at shutdown: when every delivery has finished with its copy, the logger drains.
    outcomes: Mutex<Option<mpsc::UnboundedSender<Delivery>>>,
    logger: Mutex<Option<tokio::task::JoinHandle<()>>>,
    slots: Arc<Semaphore>,
}

impl crate::state::AlertSink for Webhooks {
    fn parties_for(&self, alert: &Alert) -> Vec<String> {
        Webhooks::parties_for(self, alert)
    }

    fn dispatch(&self, state: &Shared, alert: &Alert) {
        Webhooks::dispatch(self, state, alert)
    }
}

impl Webhooks {
    /// Starts the outcome logger (on the current runtime).
    pub fn start(state: &Shared, endpoints: Vec<Endpoint>) -> Arc<Webhooks> {
        let (tx, rx) = mpsc::unbounded_channel();
        let logger = tokio::spawn(log_outcomes(state.clone(), rx));
        Arc::new(Webhooks {
            endpoints: endpoints.into_iter().map(Arc::new).collect(),
            outcomes: Mutex::new(Some(tx)),
            logger: Mutex::new(Some(logger)),
            slots: Arc::new(Semaphore::new(MAX_CONCURRENT_DELIVERIES)),
        })
    }

    /// The recipients of `alert` that have a webhook, sorted.
    pub fn parties_for(&self, alert: &Alert) -> Vec<String> {
        let mut v: Vec<String> = self
            .endpoints
            .iter()
            .filter(|e| alert.recipients.contains(&e.party))
            .map(|e| e.party.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Queues `alert` for each recipient's endpoints; returns at once.
    pub fn dispatch(&self, state: &Shared, alert: &Alert) {
        let Some(tx) = self
            .outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            tracing::warn!(alert = %alert.id, "webhooks stopped: alert not delivered by webhook");
            return;
        };
        let body = match serde_json::to_vec(alert) {
            Ok(b) => Arc::new(b),
            Err(e) => {
                tracing::error!(error = %e, alert = %alert.id, "alert not encodable");
                return;
            }
        };
        for ep in self
            .endpoints
            .iter()
            .filter(|e| alert.recipients.contains(&e.party))
        {
            let job = Job {
                endpoint: ep.clone(),
                body: body.clone(),
                alert: alert.id.clone(),
                incident: alert.incident.clone(),
                deadline: alert.deadline,
            };
            tokio::spawn(deliver(state.clone(), job, self.slots.clone(), tx.clone()));
        }
    }

    /// At shutdown (after the last alert is published): deliveries waiting for a retry give up
    /// (the stop signal), their outcomes are logged, and this returns when the log has them.
    pub async fn finish(&self) {
        drop(
            self.outcomes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        let logger = self.logger.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(l) = logger
            && let Err(e) = l.await
        {
            tracing::error!(error = %e, "webhook outcome logger panicked");
        }
    }
}

struct Job {
    endpoint: Arc<Endpoint>,
    body: Arc<Vec<u8>>,
    alert: String,
    incident: String,
    deadline: Option<DateTime<Utc>>,
}

/// Whether a status is worth retrying: 5xx, 408 (timeout) and 429 (slow down) are passing; any
/// other 4xx (a bad signature, an unknown path) will not change by asking again.
fn retryable(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

async fn deliver(
    state: Shared,
    job: Job,
    slots: Arc<Semaphore>,
    outcomes: mpsc::UnboundedSender<Delivery>,
) {
    let mut stop = state.stop.subscribe();
    let signature = signature(&job.endpoint.secret, &job.body);
    let mut attempts = 0;
    let mut status = None;
    let mut error: Option<String>;
    let mut wait = FIRST_BACKOFF;
    let delivered = loop {
        attempts += 1;
        let result = {
            let _slot = slots.acquire().await;
            tokio::time::timeout(
                ATTEMPT_TIMEOUT,
                post(&job.endpoint, &job.body, &job.alert, &signature, attempts),
            )
            .await
        };
        match result {
            Ok(Ok(s)) if (200..300).contains(&s) => {
                status = Some(s);
                error = None;
                break true;
            }
            Ok(Ok(s)) => {
                status = Some(s);
                error = Some(format!("HTTP {s}"));
                if !retryable(s) {
                    break false;
                }
            }
            Ok(Err(Failed { reason, permanent })) => {
                error = Some(reason);
                if permanent {
                    break false;
                }
            }
            Err(_) => error = Some(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
        }
        if attempts >= MAX_ATTEMPTS {
            break false;
        }
        tracing::info!(alert = %job.alert, party = %job.endpoint.party, attempt = attempts, error = error.as_deref().unwrap_or(""), retry_in_s = wait.as_secs(), "webhook attempt failed");
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => {
                error = Some(format!(
                    "{}; the service stopped before the next attempt",
                    error.unwrap_or_default()
                ));
                break false;
            }
        }
        wait *= 2;
    };
    let at = state.clock.now();
    if delivered {
        state
            .metrics
            .webhooks_delivered
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(alert = %job.alert, party = %job.endpoint.party, attempts, "webhook delivered");
    } else {
        state
            .metrics
            .webhooks_failed
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(alert = %job.alert, party = %job.endpoint.party, attempts, error = error.as_deref().unwrap_or(""), "webhook not delivered");
    }
    let _ = outcomes.send(Delivery {
        alert: job.alert,
        incident: job.incident,
        party: job.endpoint.party.clone(),
        endpoint: job.endpoint.shown.clone(),
        outcome: if delivered { "delivered" } else { "failed" }.into(),
        status,
        attempts,
        error,
        at,
        on_time: match (delivered, job.deadline) {
            (true, Some(d)) => Some(at <= d),
            _ => None,
        },
    });
}

/// Why an attempt failed, and whether another attempt could do better (an unverifiable
/// certificate cannot).
struct Failed {
    reason: String,
    permanent: bool,
}

impl From<String> for Failed {
    fn from(reason: String) -> Failed {
        Failed {
            reason,
            permanent: false,
        }
    }
}

/// One POST over TCP, or TLS for `https://`; returns the answer's status.
async fn post(
    ep: &Endpoint,
    body: &[u8],
    alert: &str,
    signature: &str,
    attempt: u32,
) -> Result<u16, Failed> {
    let stream = tokio::net::TcpStream::connect((ep.host.as_str(), ep.port))
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", ep.authority))?;
    let Some(tls) = &ep.tls else {
        return exchange(stream, ep, body, alert, signature, attempt).await;
    };
    let name = rustls::pki_types::ServerName::try_from(ep.host.clone())
        .map_err(|e| format!("{:?} is not a name TLS can verify: {e}", ep.host))?;
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, stream)
        .await
        .map_err(|e| {
            let certificate = e
                .get_ref()
                .and_then(|i| i.downcast_ref::<rustls::Error>())
                .is_some_and(|r| {
                    matches!(
                        r,
                        rustls::Error::InvalidCertificate(_)
                            | rustls::Error::NoCertificatesPresented
                    )
                });
            Failed {
                reason: format!("TLS handshake with {}: {e}", ep.authority),
                permanent: certificate,
            }
        })?;
    exchange(stream, ep, body, alert, signature, attempt).await
}

/// The request written and the status line read (`Connection: close`).
async fn exchange<S>(
    mut stream: S,
    ep: &Endpoint,
    body: &[u8],
    alert: &str,
    signature: &str,
    attempt: u32,
) -> Result<u16, Failed>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: truce/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Truce-Alert-Id: {alert}\r\nX-Truce-Signature: {signature}\r\nX-Truce-Attempt: {attempt}\r\nConnection: close\r\n\r\n",
        ep.target,
        ep.authority,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    stream
        .write_all(&request)
        .await
        .map_err(|e| format!("sending: {e}"))?;
    let _ = stream.flush().await;
    let mut got = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    while !got.contains(&b'\n') && got.len() < MAX_STATUS_LINE {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&got);
    let line = line.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    match (
        parts.next(),
        parts.next().and_then(|s| s.parse::<u16>().ok()),
    ) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => Ok(code),
        _ => Err(format!(
            "not an HTTP answer: {:?}",
            line.chars().take(80).collect::<String>()
        )
        .into()),
    }
}

/// Logs delivery outcomes as `alert` entries, a few at a time; ends when every sender is gone.
async fn log_outcomes(state: Shared, mut rx: mpsc::UnboundedReceiver<Delivery>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + LOG_WAIT;
        while batch.len() < LOG_MAX {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(d)) => batch.push(d),
                Ok(None) | Err(_) => break,
            }
        }
        let n = batch.len();
        let record = AlertRecord {
            alerts: Vec::new(),
            deliveries: batch,
            created_at: state.clock.now(),
        };
        let text = truce_core::canonical::to_canonical_json(&record);
        if let Err(e) = crate::state::log_alert_records(&state, vec![record]).await {
            // Kept in the service's own log at least, whole, to be appended by hand.
            tracing::error!(error = %e.reason, outcomes = n, entry = %text, "webhook outcomes could not be logged");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (h, p, a, t, s) = parse_url("http://10.0.0.5:9000/truce/alerts?token=x").unwrap();
        assert_eq!(
            (h.as_str(), p, a.as_str(), t.as_str()),
            ("10.0.0.5", 9000, "10.0.0.5:9000", "/truce/alerts?token=x")
        );
        assert_eq!(s, "http://10.0.0.5:9000/truce/alerts");
        let (h, p, _, t, _) = parse_url("http://[::1]:81").unwrap();
        assert_eq!((h.as_str(), p, t.as_str()), ("::1", 81, "/"));
        let (h, p, _, t, _) = parse_url("http://example.org?x=1").unwrap();
        assert_eq!((h.as_str(), p, t.as_str()), ("example.org", 80, "/?x=1"));
        let (h, p, _, _, s) = parse_url("https://example.org/hook?k=1").unwrap();
        assert_eq!(
            (h.as_str(), p, s.as_str()),
            ("example.org", 443, "https://example.org/hook")
        );
        assert!(parse_url("http://u:p@example.org/").is_err());
        assert!(parse_url("http://example.org:x/").is_err());
        assert!(parse_url("ftp://example.org/").is_err());
    }

    #[test]
    fn signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn only_passing_failures_are_retried() {
        assert!(retryable(500) && retryable(503) && retryable(429) && retryable(408));
        assert!(!retryable(400) && !retryable(401) && !retryable(404));
    }
}
