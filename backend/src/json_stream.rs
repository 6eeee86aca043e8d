//! Parsing an HTTP answer as it arrives, so that no answer is ever held whole.
//!
//! Why: an upstream decides how much it sends. Buffering an answer and parsing it into a
//! `serde_json::Value` costs several times its size, and the worker reads 16 answers at a time:
//! 32 hostile 15 MB `/api/show` answers once took it to 7.8 GB. Here the body is handed chunk by
//! chunk to `serde_json`'s streaming deserializer on a blocking thread (serde_json has no async
//! parser; a `std::io::Read` bridge over a small channel is the standard way). Fields the caller
//! does not want are skipped with `IgnoredAny`, which for a reader-backed deserializer does not
//! allocate, and three limits hold whatever the upstream sends:
//!
//! - a byte cap per answer (more is an error, not a truncation);
//! - a global budget of bytes in flight between the socket and the parsers ([`InFlight`]);
//! - no JSON string longer than [`MAX_STRING`] reaches the parser: longer ones are cut at a
//!   character boundary ([`Clamp`]), because `serde_json` buffers every string it does not skip
//!   (keys included) before handing it over.
//!
//! What a parser keeps is bounded by [`Budget`], a byte allowance shared by the values of one
//! answer ([`BoundedValue`]): past it, values are skipped instead of kept.

use std::cell::Cell;
use std::fmt;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::Response;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::http::Transport;

/// The longest JSON string handed to a parser (a real chat template is a few KB).
pub const MAX_STRING: usize = 64 * 1024;
/// Default budget of answer bytes buffered between the sockets and the parsers, all answers together.
pub const DEFAULT_IN_FLIGHT: usize = 4 * 1024 * 1024;
/// Chunks queued per answer before its reader takes them.
const QUEUED_CHUNKS: usize = 2;

/// The process-wide budget of bytes read from sockets but not yet parsed.
#[derive(Debug, Clone)]
pub struct InFlight {
    permits: Arc<Semaphore>,
    total: usize,
}

impl InFlight {
    pub fn new(bytes: usize) -> Self {
        let total = bytes.clamp(64 * 1024, Semaphore::MAX_PERMITS);
        Self { permits: Arc::new(Semaphore::new(total)), total }
    }

    async fn reserve(&self, len: usize) -> Option<OwnedSemaphorePermit> {
        let want = u32::try_from(len.clamp(1, self.total)).unwrap_or(u32::MAX);
        self.permits.clone().acquire_many_owned(want).await.ok()
    }
}

impl Default for InFlight {
    fn default() -> Self {
        Self::new(DEFAULT_IN_FLIGHT)
    }
}

/// Why a streamed answer could not be read.
#[derive(Debug)]
pub enum StreamError {
    Transport(Transport),
    /// Not the JSON the caller expected.
    Json(String),
}

/// Streams `response`'s body (at most `limit` bytes) into `parse`, run on a blocking thread.
/// The body is never collected: at most a few chunks of it exist at any time.
pub async fn parse<T, F>(response: Response, limit: usize, in_flight: &InFlight, parse: F) -> Result<T, StreamError>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Read) -> Result<T, serde_json::Error> + Send + 'static,
{
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(StreamError::Transport(Transport::TooLarge(limit)));
    }
    let (sender, receiver) = mpsc::channel::<(Bytes, OwnedSemaphorePermit)>(QUEUED_CHUNKS);
    let parser = tokio::task::spawn_blocking(move || {
        let mut reader = Clamp::new(ChunkReader { receiver, current: Bytes::new(), _permit: None });
        parse(&mut reader)
    });
    let pumped = pump(response, limit, in_flight, sender).await;
    // The sender is gone now: the reader sees the end of the body and the parser returns.
    let parsed = parser.await.map_err(|e| StreamError::Json(format!("the parser stopped ({e})")))?;
    pumped.map_err(StreamError::Transport)?;
    parsed.map_err(|e| StreamError::Json(e.to_string()))
}

/// Moves chunks from the socket to the parser; stops early when the parser is done.
async fn pump(
    mut response: Response,
    limit: usize,
    in_flight: &InFlight,
    sender: mpsc::Sender<(Bytes, OwnedSemaphorePermit)>,
) -> Result<(), Transport> {
    let mut read = 0usize;
    while let Some(chunk) = response.chunk().await.map_err(Transport::from)? {
        read += chunk.len();
        if read > limit {
            return Err(Transport::TooLarge(limit));
        }
        let Some(permit) = in_flight.reserve(chunk.len()).await else { return Ok(()) };
        if sender.send((chunk, permit)).await.is_err() {
            // The parser has finished (or failed) without the rest of the body.
            return Ok(());
        }
    }
    Ok(())
}

/// `std::io::Read` over the channel of chunks; a chunk's in-flight permit is released when the
/// parser has consumed it.
struct ChunkReader {
    receiver: mpsc::Receiver<(Bytes, OwnedSemaphorePermit)>,
    current: Bytes,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            self._permit = None;
            match self.receiver.blocking_recv() {
                Some((chunk, permit)) => {
                    self.current = chunk;
                    self._permit = Some(permit);
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    Outside,
    String,
    /// After a backslash.
    Escape,
    /// Inside `\uXXXX`: hex digits still to come.
    Unicode(u8),
    /// Past the limit: dropping bytes until the closing quote.
    Skipping,
    SkippingEscape,
}

/// Cuts every JSON string longer than [`MAX_STRING`] bytes, at a character boundary and never
/// inside an escape or between the halves of a surrogate pair, so the text stays valid JSON.
/// Only the lexical state of strings is tracked; everything else passes through unchanged.
struct Clamp<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    state: Lex,
    len: usize,
    hex: u16,
    /// The last `\u` escape was a leading surrogate: its trailing half must not be cut off.
    surrogate_open: bool,
    limit: usize,
}

impl<R: Read> Clamp<R> {
    fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_STRING)
    }

    fn with_limit(inner: R, limit: usize) -> Self {
        Self {
            inner,
            buf: vec![0; 8 * 1024].into_boxed_slice(),
            start: 0,
            end: 0,
            state: Lex::Outside,
            len: 0,
            hex: 0,
            surrogate_open: false,
            limit,
        }
    }

    /// Whether byte `b` passes to the parser; advances the lexical state.
    fn keep(&mut self, b: u8) -> bool {
        match self.state {
            Lex::Outside => {
                if b == b'"' {
                    self.state = Lex::String;
                    self.len = 0;
                    self.surrogate_open = false;
                }
                true
            }
            Lex::String => {
                if b == b'"' {
                    self.state = Lex::Outside;
                    return true;
                }
                let boundary = b & 0xC0 != 0x80 && !self.surrogate_open;
                if self.len >= self.limit && boundary {
                    self.state = if b == b'\\' { Lex::SkippingEscape } else { Lex::Skipping };
                    return false;
                }
                if b == b'\\' {
                    self.state = Lex::Escape;
                } else {
                    self.surrogate_open = false;
                }
                self.len += 1;
                true
            }
            Lex::Escape => {
                self.len += 1;
                if b == b'u' {
                    self.hex = 0;
                    self.state = Lex::Unicode(4);
                } else {
                    self.surrogate_open = false;
                    self.state = Lex::String;
                }
                true
            }
            Lex::Unicode(left) => {
                self.len += 1;
                let digit = (b as char).to_digit(16).unwrap_or(0) as u16;
                self.hex = (self.hex << 4) | digit;
                if left <= 1 {
                    self.surrogate_open = (0xD800..0xDC00).contains(&self.hex);
                    self.state = Lex::String;
                } else {
                    self.state = Lex::Unicode(left - 1);
                }
                true
            }
            Lex::Skipping => {
                match b {
                    b'"' => {
                        self.state = Lex::Outside;
                        return true;
                    }
                    b'\\' => self.state = Lex::SkippingEscape,
                    _ => {}
                }
                false
            }
            Lex::SkippingEscape => {
                self.state = Lex::Skipping;
                false
            }
        }
    }
}

impl<R: Read> Read for Clamp<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.start == self.end {
                self.start = 0;
                self.end = self.inner.read(&mut self.buf)?;
                if self.end == 0 {
                    return Ok(0);
                }
            }
            let mut written = 0;
            while self.start < self.end && written < out.len() {
                if self.state == Lex::Skipping {
                    let span = &self.buf[self.start..self.end];
                    let run = span.iter().position(|&b| b == b'"' || b == b'\\').unwrap_or(span.len());
                    if run > 0 {
                        self.start += run;
                        continue;
                    }
                }
                // Plain runs (outside strings, or inside one below the limit) are copied in bulk.
                let room = (self.end - self.start).min(out.len() - written);
                let span = &self.buf[self.start..self.start + room];
                let run = match self.state {
                    Lex::Outside => span.iter().position(|&b| b == b'"').unwrap_or(room),
                    Lex::String if self.len < self.limit => {
                        let room = room.min(self.limit - self.len);
                        span[..room].iter().position(|&b| b == b'"' || b == b'\\').unwrap_or(room)
                    }
                    _ => 0,
                };
                if run > 0 {
                    out[written..written + run].copy_from_slice(&span[..run]);
                    if self.state == Lex::String {
                        self.len += run;
                        self.surrogate_open = false;
                    }
                    written += run;
                    self.start += run;
                    continue;
                }
                let b = self.buf[self.start];
                self.start += 1;
                if self.keep(b) {
                    out[written] = b;
                    written += 1;
                }
            }
            if written > 0 {
                return Ok(written);
            }
        }
    }
}

/// Bytes of parsed content one answer may keep (strings and keys by length, other values by a
/// small fixed cost). Shared by every [`BoundedValue`] of that answer.
#[derive(Debug)]
pub struct Budget {
    left: Cell<usize>,
    exceeded: Cell<bool>,
}

impl Budget {
    pub fn new(bytes: usize) -> Self {
        Self { left: Cell::new(bytes), exceeded: Cell::new(false) }
    }

    /// Takes `cost` from the budget; `false` (and nothing taken) when it does not fit.
    pub fn take(&self, cost: usize) -> bool {
        let left = self.left.get();
        if cost > left {
            self.exceeded.set(true);
            return false;
        }
        self.left.set(left - cost);
        true
    }

    /// Whether something was left out because the budget ran out.
    pub fn exceeded(&self) -> bool {
        self.exceeded.get()
    }
}

/// Fixed cost of a value that is not a string (a `Value` node and its map slot).
const NODE_COST: usize = 16;

/// A JSON value kept only as far as its [`Budget`] allows: members and items that do not fit
/// are skipped (`None` when not even the value itself fits). Null members are left out.
pub struct BoundedValue<'b>(pub &'b Budget);

impl<'de> DeserializeSeed<'de> for BoundedValue<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BoundedValue<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(self.0.take(NODE_COST).then_some(Value::Bool(v)))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.0.take(NODE_COST).then(|| v.into()))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.0.take(NODE_COST).then(|| v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(self.0.take(NODE_COST).then(|| serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.take(NODE_COST + v.len()).then(|| Value::String(v.to_owned())))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Some(Value::Null))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Some(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if !self.0.take(NODE_COST) {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(None);
        }
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(BoundedValue(self.0))? {
            items.extend(item);
        }
        Ok(Some(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if !self.0.take(NODE_COST) {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(None);
        }
        let mut object = Map::new();
        while let Some(key) = map.next_key::<KeyString>()? {
            if !self.0.take(key.0.len()) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            match map.next_value_seed(BoundedValue(self.0))? {
                Some(Value::Null) | None => {}
                Some(value) => {
                    object.insert(key.0, value);
                }
            }
        }
        Ok(Some(Value::Object(object)))
    }
}

/// A map key, owned (keys arrive through the parser's scratch buffer, so they cannot be borrowed).
pub struct KeyString(pub String);

impl<'de> serde::Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(KeyString)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clamp(input: &str, limit: usize) -> String {
        let mut out = String::new();
        Clamp::with_limit(input.as_bytes(), limit).read_to_string(&mut out).map(|_| out).unwrap_or_default()
    }

    #[test]
    fn long_strings_are_cut_and_stay_valid_json() {
        assert_eq!(clamp(r#"{"a":"0123456789","bb":[1,"x"]}"#, 4), r#"{"a":"0123","bb":[1,"x"]}"#);
        // Never inside an escape, a multi-byte character or a surrogate pair.
        let cases = [r#"["ab\"cd\"ef"]"#, r#"["aé€😀b"]"#, r#"["a\ud83d\ude00\ud83d\ude00b"]"#, r#"["\\\\\\\\"]"#];
        for case in cases {
            for limit in 0..12 {
                let cut = clamp(case, limit);
                assert!(serde_json::from_str::<Value>(&cut).is_ok(), "{case} at {limit}: {cut}");
            }
        }
        assert_eq!(clamp(r#"{"k":"v"}"#, 100), r#"{"k":"v"}"#);
    }

    #[test]
    fn a_budget_keeps_what_fits() {
        let budget = Budget::new(60);
        let mut de =
            serde_json::Deserializer::from_str(r#"{"a":1,"b":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","c":2}"#);
        let kept = BoundedValue(&budget).deserialize(&mut de).ok().flatten();
        assert_eq!(kept, Some(serde_json::json!({"a": 1, "c": 2})));
        assert!(budget.exceeded());
    }
}
