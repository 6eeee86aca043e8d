//! Log set-up both binaries share (SPEC §8): one line per event on stderr, `LOG_LEVEL` (or
//! `RUST_LOG`) filters, `LOG_FORMAT=json` for one JSON object per line.
//!
//! Every line passes through [`set_secrets`]' redactor and has any carriage return or line
//! feed inside it escaped before it reaches stderr: log fields carry text from outside (model
//! ids, error bodies), which must neither leak a key nor forge a log line.

use std::io::{self, Write};
use std::sync::{Arc, RwLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::redact::Redactor;

static SECRETS: RwLock<Option<Arc<Redactor>>> = RwLock::new(None);

/// Replaces the secrets removed from every log line from now on.
pub fn set_secrets(redactor: Arc<Redactor>) {
    if let Ok(mut current) = SECRETS.write() {
        *current = Some(redactor);
    }
}

/// `text` as a log line may show it: secrets removed (see [`set_secrets`]).
pub fn redact(text: &str) -> String {
    match SECRETS.read().ok().and_then(|r| r.clone()) {
        Some(redactor) => redactor.redact(text).into_owned(),
        None => text.to_owned(),
    }
}

/// One formatted event as it is written: secrets removed, and every CR or LF except the final
/// newline written as `\r` / `\n`, so that one event is always exactly one line.
pub fn clean_line(line: &str) -> String {
    let (body, newline) = match line.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (line, ""),
    };
    let body = redact(body);
    let mut out = String::with_capacity(body.len() + 1);
    for c in body.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push_str(newline);
    out
}

/// stderr, through [`clean_line`]. The formatter writes each event with one `write_all`.
struct CleanStderr;

impl Write for CleanStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let line = String::from_utf8_lossy(buf);
        io::stderr().lock().write_all(clean_line(&line).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

struct MakeCleanStderr;

impl<'a> MakeWriter<'a> for MakeCleanStderr {
    type Writer = CleanStderr;

    fn make_writer(&'a self) -> Self::Writer {
        CleanStderr
    }
}

/// A bare `debug`/`trace` level keeps the libraries' chatter (every SQL statement, every
/// connection) at `info`; a full filter (`info,backend=debug`) is used as given.
pub fn init() {
    let filter = std::env::var("LOG_LEVEL")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .map(|level| level.trim().to_lowercase())
        .map(|level| match level.as_str() {
            "debug" | "trace" => format!("{level},sqlx=info,hyper=info,hyper_util=info,reqwest=info"),
            _ => level,
        })
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(MakeCleanStderr).with_target(false);
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_is_one_line() {
        let cases = [
            ("plain\n", "plain\n"),
            ("model \"a\nFAKE ERROR forged\" seen\n", "model \"a\\nFAKE ERROR forged\" seen\n"),
            ("cr\r\nlf\n", "cr\\r\\nlf\n"),
            ("no newline", "no newline"),
        ];
        for (line, expected) in cases {
            assert_eq!(clean_line(line), expected, "{line:?}");
        }
    }
}
