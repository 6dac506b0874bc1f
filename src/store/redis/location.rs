//! Parsing a Redis location: `redis://[user:password@]host:port[/db][?options]`,
//! `rediss://…` (TLS), and a cluster as `redis+cluster://h1:p1,h2:p2,h3:p3[?options]`
//! (`rediss+cluster://…` with TLS). Schemes are matched in any letter case; an IPv6
//! host is written in brackets (`redis://[::1]:6379/0`). Errors and `Display` never
//! show the password.
//!
//! A location that starts like a Redis URL (`redis:`, `rediss:`, `redis+…`,
//! `rediss+…`, any case) but does not parse is an `InvalidConfig` error naming what
//! is wrong: it is never taken for a SQLite file name.
//!
//! Options (query parameters): `connect_timeout_ms` (default 2000), `timeout_ms`
//! (reads and writes, default 2000), `pool_size` (connections, default 8), `prefix`
//! (key namespace, default `sessions`; no braces or colons), `expiry_grace_s` (how
//! long after its expiry a record stays before Redis's TTL collects it, default 3600),
//! `tls_ca_file` (a PEM file of the certificate authorities to trust for TLS instead
//! of the built-in web roots).

use std::fmt;
use std::time::Duration;

use crate::error::{Result, SessionError};

/// Whether `location` is meant as a Redis server or cluster rather than a file path:
/// it starts with `redis:`, `rediss:`, `redis+` or `rediss+`, in any letter case. Such
/// a location is parsed by [`Location::parse`], which refuses a malformed one.
pub fn is_redis(location: &str) -> bool {
    let head: String = location
        .chars()
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    ["redis:", "rediss:", "redis+", "rediss+"]
        .iter()
        .any(|p| head.starts_with(p))
}

/// `error` (from opening `path` as a SQLite file) with every copy of `path` replaced by
/// [`redact_path`]'s form: a path that holds an `@` may be a mistyped Redis URL (a
/// missing colon, `redis//user:password@host`), whose password must not be shown.
pub fn redact_in_error(error: SessionError, path: &str) -> SessionError {
    if !path.contains('@') {
        return error;
    }
    let shown = redact_path(path);
    match error {
        SessionError::Store { reason } => SessionError::Store {
            reason: reason.replace(path, &shown),
        },
        SessionError::InvalidConfig { reason } => SessionError::InvalidConfig {
            reason: reason.replace(path, &shown),
        },
        other => other,
    }
}

/// `path` without what comes before its last `@` (shown as `<redacted>@`), or `path`
/// itself when it has no `@`.
pub fn redact_path(path: &str) -> String {
    match path.rfind('@') {
        Some(at) => format!("<redacted>{}", &path[at..]),
        None => path.to_owned(),
    }
}

/// (scheme prefix, TLS, cluster)
const SCHEMES: [(&str, bool, bool); 4] = [
    ("redis://", false, false),
    ("rediss://", true, false),
    ("redis+cluster://", false, true),
    ("rediss+cluster://", true, true),
];

/// A parsed Redis location.
#[derive(Clone, PartialEq, Eq)]
pub struct Location {
    /// `host:port` of each node given (one for a standalone server).
    pub nodes: Vec<(String, u16)>,
    /// Whether the connection uses TLS.
    pub tls: bool,
    /// Whether the nodes form a cluster.
    pub cluster: bool,
    /// Database number (standalone only).
    pub db: i64,
    /// ACL user name, if any.
    pub username: Option<String>,
    /// Password, if any (never shown).
    pub password: Option<String>,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Time allowed for each reply.
    pub timeout: Duration,
    /// Most pooled connections.
    pub pool_size: u32,
    /// Key namespace.
    pub prefix: String,
    /// Extra life given to records beyond their expiry before Redis collects them.
    pub expiry_grace: Duration,
    /// PEM file of the certificate authorities TLS trusts (else the web roots).
    pub tls_ca_file: Option<String>,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

impl fmt::Display for Location {
    /// The location without credentials or options: `redis://host:port/db`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (self.tls, self.cluster) {
            (false, false) => "redis",
            (true, false) => "rediss",
            (false, true) => "redis+cluster",
            (true, true) => "rediss+cluster",
        };
        let nodes: Vec<String> = self.nodes.iter().map(|(h, p)| host_port(h, *p)).collect();
        write!(f, "{scheme}://{}", nodes.join(","))?;
        if !self.cluster && self.db != 0 {
            write!(f, "/{}", self.db)?;
        }
        Ok(())
    }
}

fn bad(shown: &str, why: impl fmt::Display) -> SessionError {
    SessionError::InvalidConfig {
        reason: format!("invalid Redis location {shown}: {why}"),
    }
}

/// `host:port`, with an IPv6 host in brackets (`[::1]:6379`).
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl Location {
    /// Parses a location (the scheme in any letter case); an `InvalidConfig` error
    /// naming the problem (never containing the password) otherwise.
    pub fn parse(text: &str) -> Result<Self> {
        let (scheme, tls, cluster) = SCHEMES
            .iter()
            .find(|(s, _, _)| {
                text.get(..s.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(s))
            })
            .copied()
            .ok_or_else(|| {
                // Only what precedes the first `:` or `/` is shown (never credentials).
                let head: String = text
                    .chars()
                    .take_while(|c| !matches!(c, ':' | '/' | '@'))
                    .take(32)
                    .collect();
                bad(
                    &format!("({head}:…)"),
                    "expected redis://, rediss://, redis+cluster:// or rediss+cluster:// \
                     followed by host:port",
                )
            })?;
        // Credentials end at the LAST `@` of the whole location, so a password holding an
        // unescaped `/`, `?` or `#` is still taken as a password (never shown as a host, a
        // path or a query); an `@` after the hosts must be %-escaped.
        let (credentials, rest) = match text[scheme.len()..].rsplit_once('@') {
            Some((c, r)) => (Some(c), r),
            None => (None, &text[scheme.len()..]),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
        // What errors may show: the scheme and the hosts, never credentials.
        let shown = format!("{scheme}{hosts}");
        let (username, password) = match credentials {
            None => (None, None),
            Some(c) => {
                // `user:password`, `:password`, or `user` alone (no password), as in
                // redis-rs and redis-py.
                let (u, p) = c.split_once(':').unwrap_or((c, ""));
                let u = decode(u).ok_or_else(|| bad(&shown, "bad %-escape in the user name"))?;
                let p = decode(p).ok_or_else(|| bad(&shown, "bad %-escape in the password"))?;
                ((!u.is_empty()).then_some(u), (!p.is_empty()).then_some(p))
            }
        };
        let nodes = hosts
            .split(',')
            .map(|node| parse_node(node, &shown))
            .collect::<Result<Vec<_>>>()?;
        if nodes.len() > 1 && !cluster {
            return Err(bad(&shown, "several nodes need redis+cluster://"));
        }
        let db = match path {
            "" => 0,
            p if cluster => {
                return Err(bad(
                    &shown,
                    format!("a cluster has no database number (/{p})"),
                ))
            }
            p => p
                .parse::<i64>()
                .ok()
                .filter(|d| (0..=1_000_000).contains(d))
                .ok_or_else(|| bad(&shown, "the path must be a database number"))?,
        };
        let mut location = Location {
            nodes,
            tls,
            cluster,
            db,
            username,
            password,
            connect_timeout: Duration::from_millis(2000),
            timeout: Duration::from_millis(2000),
            pool_size: 8,
            prefix: "sessions".into(),
            expiry_grace: Duration::from_secs(3600),
            tls_ca_file: None,
        };
        let mut seen = std::collections::HashSet::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !seen.insert(name) {
                return Err(bad(&shown, format!("option {name:?} is given twice")));
            }
            let number = || {
                value.parse::<u64>().map_err(|_| {
                    bad(
                        &shown,
                        format!("{name} must be a whole number, got {value:?}"),
                    )
                })
            };
            match name {
                "connect_timeout_ms" => location.connect_timeout = millis(number()?, name, &shown)?,
                "timeout_ms" => location.timeout = millis(number()?, name, &shown)?,
                "pool_size" => {
                    location.pool_size = u32::try_from(number()?)
                        .ok()
                        .filter(|n| (1..=1024).contains(n))
                        .ok_or_else(|| bad(&shown, "pool_size must be 1 to 1024"))?;
                }
                "expiry_grace_s" => {
                    location.expiry_grace = Duration::from_secs(number()?.min(366 * 86_400))
                }
                "tls_ca_file" => {
                    let path = decode(value)
                        .filter(|p| !p.is_empty())
                        .ok_or_else(|| bad(&shown, "tls_ca_file must be a %-encoded file path"))?;
                    location.tls_ca_file = Some(path);
                }
                "prefix" => {
                    // %-decoded like every text option; no control characters either.
                    let prefix = decode(value)
                        .filter(|p| {
                            (1..=64).contains(&p.len())
                                && !p.contains(['{', '}', ':', ' '])
                                && !p.chars().any(char::is_control)
                        })
                        .ok_or_else(|| {
                            bad(
                                &shown,
                                "prefix must be 1 to 64 bytes without braces, colons, spaces or control characters",
                            )
                        })?;
                    location.prefix = prefix;
                }
                other => return Err(bad(&shown, format!("unknown option {other:?}"))),
            }
        }
        if location.tls_ca_file.is_some() && !location.tls {
            return Err(bad(&shown, "tls_ca_file needs a TLS location (rediss://)"));
        }
        Ok(location)
    }

    /// The URL redis-rs connects to for node `index` (with credentials and database).
    pub fn node_url(&self, index: usize) -> String {
        let (host, port) = &self.nodes[index];
        let scheme = if self.tls { "rediss" } else { "redis" };
        let credentials = match (&self.username, &self.password) {
            (None, None) => String::new(),
            (u, p) => format!(
                "{}:{}@",
                encode(u.as_deref().unwrap_or("")),
                encode(p.as_deref().unwrap_or(""))
            ),
        };
        let db = if self.cluster {
            String::new()
        } else {
            format!("/{}", self.db)
        };
        format!("{scheme}://{credentials}{}{db}", host_port(host, *port))
    }
}

fn millis(n: u64, name: &str, shown: &str) -> Result<Duration> {
    if !(1..=600_000).contains(&n) {
        return Err(bad(shown, format!("{name} must be 1 to 600000")));
    }
    Ok(Duration::from_millis(n))
}

fn parse_node(node: &str, shown: &str) -> Result<(String, u16)> {
    let (host, port) = if let Some(inner) = node.strip_prefix('[') {
        // [IPv6]:port
        let (h, p) = inner
            .split_once(']')
            .ok_or_else(|| bad(shown, "unclosed [ in an IPv6 address"))?;
        let port = match p.strip_prefix(':') {
            Some(port) => port,
            None if p.is_empty() => "",
            // `[::1]6379` or `[::1]x:6379`: never the default port in silence.
            None => return Err(bad(shown, format!("bad port {p:?} after an IPv6 address"))),
        };
        (h, port)
    } else {
        node.rsplit_once(':').unwrap_or((node, ""))
    };
    if host.is_empty() || host.contains(['@', '/', '?', '#', ' ']) {
        return Err(bad(shown, format!("bad host {host:?}")));
    }
    let port = if port.is_empty() {
        6379
    } else {
        // Digits only (`str::parse` also takes a leading `+`).
        Some(port)
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| bad(shown, format!("bad port {port:?}")))?
    };
    Ok((host.to_owned(), port))
}

/// Percent-decoding (RFC 3986); `None` on a malformed escape or invalid UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits (`from_str_radix` alone also takes `+f`).
            let hex = text
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encoding of everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_forms() {
        let l = Location::parse("redis://localhost:6380/2").unwrap();
        assert_eq!(l.nodes, vec![("localhost".to_owned(), 6380)]);
        assert_eq!((l.db, l.tls, l.cluster), (2, false, false));
        assert_eq!(l.to_string(), "redis://localhost:6380/2");
        let l = Location::parse("rediss://u:p%40ss@example.com").unwrap();
        assert_eq!(l.nodes[0].1, 6379);
        assert!(l.tls);
        assert_eq!(l.password.as_deref(), Some("p@ss"));
        assert_eq!(l.username.as_deref(), Some("u"));
        assert_eq!(l.node_url(0), "rediss://u:p%40ss@example.com:6379/0");
        assert!(!format!("{l} {l:?}").contains("p@ss"));
        // A password with unescaped `/` and `?` (common in generated secrets) parses.
        let l = Location::parse("redis://default:ab/c?d@host:1/3").unwrap();
        assert_eq!(l.password.as_deref(), Some("ab/c?d"));
        assert_eq!((l.nodes[0].1, l.db), (1, 3));
        // A user name alone is a user name, not a password.
        let l = Location::parse("redis://app2@host:1").unwrap();
        assert_eq!(l.username.as_deref(), Some("app2"));
        assert_eq!(l.password, None);
    }

    #[test]
    fn cluster_form_and_options() {
        let l = Location::parse(
            "redis+cluster://:secret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002?timeout_ms=50&connect_timeout_ms=100&pool_size=3&prefix=app",
        )
        .unwrap();
        assert!(l.cluster);
        assert_eq!(l.nodes.len(), 3);
        assert_eq!(l.nodes[2], ("::1".to_owned(), 7002));
        assert_eq!(l.timeout, Duration::from_millis(50));
        assert_eq!(l.connect_timeout, Duration::from_millis(100));
        assert_eq!((l.pool_size, l.prefix.as_str()), (3, "app"));
        assert_eq!(l.node_url(1), "redis://:secret@10.0.0.2:7001");
        assert!(!l.to_string().contains("secret"));
    }

    #[test]
    fn bad_locations_never_show_the_password() {
        for text in [
            "redis://:hunter2@host:notaport",
            "redis://:hunter2@h1:1,h2:2",
            "redis://:hunter2@host:1/x",
            "redis://:hunter2@host:1?bogus=1",
            "redis://:hunter2@host:1?timeout_ms=0",
            "redis://:hunter2@host:1?prefix=a{b}",
            "redis+cluster://:hunter2@h:1/3",
            "redis://:hunter2@:1",
            "redis://:hunter2%zz@host:1",
            // Unescaped `/`, `?` and `#` in a password (the trial's examples).
            "redis://default:12345/hunter2@127.0.0.1:1/x",
            "redis://default:hunter2?PW@host:notaport",
            "redis://default:hunter2/?#@h1:1,h2:2",
            "redis+cluster://u:hun/ter2@h:1/3",
        ] {
            let err = Location::parse(text).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{text}: {err}");
            assert!(
                !err.contains("12345") && !err.contains("hun/"),
                "{text}: {err}"
            );
            assert!(err.contains("invalid Redis location"), "{text}: {err}");
        }
    }

    #[test]
    fn recognises_schemes() {
        assert!(is_redis("redis://x"));
        assert!(is_redis("rediss+cluster://x:1"));
        assert!(!is_redis("/var/lib/sessions.sqlite"));
        assert!(!is_redis("redis.sqlite"));
        assert!(!is_redis("redisdata/sessions.sqlite"));
        // Anything that starts like a Redis URL is one (a malformed one is refused by
        // `parse`), never a SQLite file name.
        for text in [
            "REDIS://h",
            "Rediss://h",
            "redis:host:6379",
            "redis+sentinel://h",
            "é",
        ] {
            assert_eq!(is_redis(text), text != "é", "{text}");
        }
    }

    #[test]
    fn schemes_in_any_case() {
        let l = Location::parse("REDIS://Host:1/2").unwrap();
        assert_eq!((l.tls, l.cluster, l.db), (false, false, 2));
        let l = Location::parse("Rediss+Cluster://h:1,h:2").unwrap();
        assert_eq!((l.tls, l.cluster, l.nodes.len()), (true, true, 2));
    }

    #[test]
    fn malformed_redis_urls_are_invalid_config() {
        for (text, says) in [
            ("redis:host:6379", "expected redis://"),
            ("redis:/host", "expected redis://"),
            ("redis+sentinel://:hunter2@h:1", "expected redis://"),
            ("redis:hunter2@h", "expected redis://"),
            (
                "redis://h:1?timeout_ms=5&timeout_ms=6",
                "\"timeout_ms\" is given twice",
            ),
            (
                "redis://:hunter2@h:1?prefix=a&prefix=a",
                "\"prefix\" is given twice",
            ),
        ] {
            let err = Location::parse(text).unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(err, SessionError::InvalidConfig { .. }),
                "{text}: {message}"
            );
            assert!(message.contains(says), "{text}: {message}");
            assert!(!message.contains("hunter2"), "{text}: {message}");
        }
    }

    #[test]
    fn ipv6_hosts() {
        let l = Location::parse("redis://:pw@[::1]:6380/0").unwrap();
        assert_eq!(l.nodes, vec![("::1".to_owned(), 6380)]);
        assert_eq!(l.to_string(), "redis://[::1]:6380");
        assert_eq!(l.node_url(0), "redis://:pw@[::1]:6380/0");
        let l = Location::parse("redis://[fe80::1]").unwrap();
        assert_eq!(l.node_url(0), "redis://[fe80::1]:6379/0");
        let l = Location::parse("redis+cluster://[::1]:7000,127.0.0.1:7001").unwrap();
        assert_eq!(l.to_string(), "redis+cluster://[::1]:7000,127.0.0.1:7001");
        assert_eq!(l.node_url(0), "redis://[::1]:7000");
        // redis-rs accepts the URL it is given.
        assert!(redis::Client::open(l.node_url(0)).is_ok());
    }

    /// Ports and escapes the trial found taken too loosely: junk after an IPv6 `]`
    /// silently meant port 6379, `+6379` was a port, `%+f` an escape.
    #[test]
    fn ports_and_escapes_are_strict() {
        for text in [
            "redis://[::1]54157/0",
            "redis://[::1]junk:54157/0",
            "redis://127.0.0.1:+6379/0",
            "redis+cluster://127.0.0.1:7000,[::1]x",
            "redis://:pw%+f@127.0.0.1:6379/0",
        ] {
            let error = Location::parse(text).expect_err(text);
            assert!(
                matches!(error, SessionError::InvalidConfig { .. }),
                "{text}: {error:?}"
            );
        }
        assert_eq!(decode("%41%2b"), Some("A+".to_owned()));
    }

    /// `prefix` is %-decoded like `tls_ca_file` (so `a%20b` is a space, refused), control
    /// characters are refused, and `tls_ca_file` needs `rediss://`.
    #[test]
    fn text_options_are_decoded_and_checked() {
        let l = Location::parse("redis://h:1?prefix=app%2Done").unwrap();
        assert_eq!(l.prefix, "app-one");
        for text in [
            "redis://h:1?prefix=a%20b",
            "redis://h:1?prefix=a%0Ab",
            "redis://h:1?prefix=a%7Bb",
            "redis://h:1?tls_ca_file=%2Fetc%2Fca.pem",
        ] {
            let error = Location::parse(text).expect_err(text);
            assert!(
                matches!(error, SessionError::InvalidConfig { .. }),
                "{text}: {error:?}"
            );
        }
        assert!(Location::parse("rediss://h:1?tls_ca_file=%2Fetc%2Fca.pem").is_ok());
    }
}
