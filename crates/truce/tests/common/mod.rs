//! What every test of `truce serve` needs, once: the `truce` binary, temporary directories, a
//! demo store with a token for every role, a server on a free port (killed when dropped), a
//! plain HTTP/1.1 client and a Server-Sent Events reader.
//!
//! Each integration test file is its own crate and uses only part of this: hence the
//! `dead_code` allowance.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The repository's root (the tests run `truce` from there).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `truce ARGS` run from the repository's root.
pub fn truce(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

/// `truce ARGS`, which must succeed; its standard output.
pub fn ok(args: &[&str]) -> String {
    let out = truce(args);
    assert!(
        out.status.success(),
        "truce {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A fresh directory for one test (`prefix` and `name` keep tests apart, the pid runs).
pub fn tempdir(prefix: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("truce-{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A new bearer token for `role`, held by `name` (`truce token create`); its secret.
pub fn token(db: &Path, role: &str, name: &str) -> String {
    ok(&[
        "token",
        "create",
        "--db",
        s(db),
        "--role",
        role,
        "--name",
        name,
    ])
    .trim()
    .to_string()
}

/// A demo store with a token for every role.
pub struct Demo {
    pub dir: PathBuf,
    pub db: PathBuf,
    /// By role (`admin`, `analyst`, `team:team-1`, `party:UA`, `party:RU`); `public` has none.
    pub tokens: BTreeMap<&'static str, Option<String>>,
}

impl Demo {
    pub fn new(prefix: &str, name: &str) -> Demo {
        let dir = tempdir(prefix, name);
        ok(&["demo", "--out", s(&dir)]);
        let db = dir.join("truce.gpkg");
        let mut tokens = BTreeMap::new();
        for (role, who) in [
            ("admin", "admin-1"),
            ("analyst", "analyst-1"),
            ("team:team-1", "team-1"),
            ("party:UA", "ua-liaison"),
            ("party:RU", "ru-liaison"),
        ] {
            tokens.insert(role, Some(token(&db, role, who)));
        }
        tokens.insert("public", None);
        Demo { dir, db, tokens }
    }

    pub fn token(&self, role: &str) -> String {
        self.tokens[role].clone().expect("a role with a token")
    }

    /// Verifies then publishes incident `id` with `truce decide`, as `actor` for `reason`.
    pub fn publish(&self, id: &str, actor: &str, reason: &str) {
        for action in ["verify", "publish"] {
            ok(&[
                "decide",
                "--db",
                s(&self.db),
                id,
                action,
                "--actor",
                actor,
                "--reason",
                reason,
            ]);
        }
    }
}

/// What a server has printed on its standard output so far, and whether it has closed it.
#[derive(Default)]
struct Printed {
    text: String,
    closed: bool,
}

/// `truce serve` on a free port; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
    stdout: Arc<(Mutex<Printed>, Condvar)>,
    log: Option<PathBuf>,
}

impl Server {
    /// Serves `db` with `extra` arguments; its log (stderr) goes to `log` when given.
    pub fn start(db: &Path, extra: &[&str], log: Option<&Path>) -> Server {
        Server::start_with_env(db, extra, log, &[])
    }

    /// [`Server::start`] with environment variables set (webhook secrets, `TRUCE_LOG`).
    pub fn start_with_env(
        db: &Path,
        extra: &[&str],
        log: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Server {
        let stderr = match log {
            Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
            None => Stdio::null(),
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_truce"))
            .args(["serve", "--db", s(db), "--listen", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = Arc::new((Mutex::new(Printed::default()), Condvar::new()));
        let sink = stdout.clone();
        let pipe = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            let (printed, changed) = &*sink;
            for line in pipe.lines() {
                let Ok(line) = line else { break };
                let mut p = printed.lock().unwrap_or_else(PoisonError::into_inner);
                p.text.push_str(&line);
                p.text.push('\n');
                changed.notify_all();
            }
            printed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .closed = true;
            changed.notify_all();
        });
        let mut server = Server {
            child,
            addr: String::new(),
            stdout,
            log: log.map(Path::to_path_buf),
        };
        // Dropped (killed) if it never says where it listens.
        let at = server.printed("truce serve: listening on ");
        server.addr = at
            .strip_prefix("https://")
            .or_else(|| at.strip_prefix("http://"))
            .unwrap_or(&at)
            .to_string();
        server
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The rest of the first line it printed that starts with `prefix` (what it listens on:
    /// the CoT listeners print theirs in any order); waits up to 30 s, panics with its output
    /// and log if the line does not come.
    pub fn printed(&self, prefix: &str) -> String {
        let (printed, changed) = &*self.stdout;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut p = printed.lock().unwrap();
        loop {
            if let Some(rest) = p.text.lines().find_map(|l| l.strip_prefix(prefix)) {
                return rest.trim().to_string();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if p.closed || left.is_zero() {
                let out = p.text.clone();
                drop(p);
                panic!(
                    "truce serve did not print {prefix:?}; it printed {out:?}; log: {}",
                    self.log()
                );
            }
            p = changed.wait_timeout(p, left).unwrap().0;
        }
    }

    /// Everything it has printed on its standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.0.lock().unwrap().text.clone()
    }

    /// Its log (stderr) so far; empty when it was started without a log file.
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer, its body de-chunked.
pub struct Reply {
    pub status: u16,
    /// Its `Content-Type` header ("" without one).
    pub content_type: String,
    /// Whether it came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// The status line and headers as received.
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        text(&self.body)
    }

    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One HTTP/1.1 request (`Connection: close`, a 60 s read timeout) with `headers` (whole lines,
/// `Accept: …`) besides the token's; a POST's body is sent as JSON.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[&str],
    body: Option<&str>,
) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for h in headers {
        req.push_str(&format!("{h}\r\n"));
    }
    let body = body.unwrap_or("");
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |at| at + 4);
    let head = text(&raw[..split]);
    let status: u16 = head[9..12].parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let rest = &raw[split..];
    Reply {
        status,
        content_type,
        chunked,
        head: head.clone(),
        body: if chunked {
            dechunk(rest)
        } else {
            rest.to_vec()
        },
    }
}

/// One HTTP/1.1 request; returns (status, body).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let reply = request(addr, method, path, token, &[], body);
    (reply.status, reply.text())
}

/// A GET with `headers` (whole lines, `Accept: …`) besides the token's: the whole answer, the
/// body as bytes (tiles are binary).
pub fn get(addr: &str, path: &str, token: Option<&str>, headers: &[&str]) -> Reply {
    request(addr, "GET", path, token, headers, None)
}

/// A GET that must answer 200 with JSON.
pub fn get_json(addr: &str, path: &str, token: Option<&str>) -> Value {
    let (status, body) = http(addr, "GET", path, token, None);
    assert_eq!(status, 200, "GET {path}: {body}");
    json_of(&body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(text(&b[..eol]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        let chunk = &b[eol + 2..];
        out.extend_from_slice(&chunk[..n]);
        b = &chunk[n + 2..];
    }
    out
}

/// An open `GET /api/alerts/stream`, read line by line.
pub struct Alerts(BufReader<TcpStream>);

impl Alerts {
    pub fn subscribe(addr: &str, token: &str) -> Alerts {
        Alerts::subscribe_with_timeout(addr, token, Duration::from_secs(5))
    }

    /// [`Alerts::subscribe`] whose reads give up after `timeout` without a line (5 s there).
    pub fn subscribe_with_timeout(addr: &str, token: &str, timeout: Duration) -> Alerts {
        let mut sse = TcpStream::connect(addr).unwrap();
        sse.set_read_timeout(Some(timeout)).unwrap();
        write!(
            sse,
            "GET /api/alerts/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(sse);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        Alerts(reader)
    }

    /// The first alert (its `data:` JSON) that `pick` accepts, and how long after `since` it
    /// came; None when none came within `limit`.
    pub fn first(
        &mut self,
        since: Instant,
        limit: Duration,
        mut pick: impl FnMut(&Value) -> bool,
    ) -> Option<(Value, Duration)> {
        self.first_data(since, limit, |data| pick(&json_of(data)))
            .map(|(data, took)| (json_of(&data), took))
    }

    /// What the stream sends until the server ends it (its last chunk) — Some(the lines
    /// and when it ended, after `since`) — or None when `limit` passes or the reads time out
    /// first.
    pub fn until_end(&mut self, since: Instant, limit: Duration) -> Option<(String, Duration)> {
        let mut lines = String::new();
        let mut line = String::new();
        while since.elapsed() < limit {
            line.clear();
            match self.0.read_line(&mut line) {
                Ok(0) => return Some((lines, since.elapsed())),
                Ok(_) if line == "0\r\n" => return Some((lines, since.elapsed())),
                Ok(_) => lines.push_str(&line),
                Err(_) => return None,
            }
        }
        None
    }

    /// [`Alerts::first`] on the text of the `data:` lines, as sent.
    pub fn first_data(
        &mut self,
        since: Instant,
        limit: Duration,
        mut pick: impl FnMut(&str) -> bool,
    ) -> Option<(String, Duration)> {
        let mut line = String::new();
        while since.elapsed() < limit {
            line.clear();
            if self.0.read_line(&mut line).is_err() {
                return None;
            }
            if let Some(data) = line.strip_prefix("data:") {
                let data = data.trim();
                if pick(data) {
                    return Some((data.to_string(), since.elapsed()));
                }
            }
        }
        None
    }
}
