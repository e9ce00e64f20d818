//! Server-sent events, as both Gemini (`alt=sse`) and OpenAI-compatible servers stream:
//! `data: …` lines, events separated by a blank line.
//!
//! The decoder buffers at most [`MAX_EVENT_BYTES`]; a longer event is malformed. It never
//! interprets the payload: each provider parses its own.
use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::time::Instant;

use super::breaker::CircuitBreaker;
use super::{ProviderError, ReplyStream, StreamEvent, transport_error};

/// The largest single event accepted.
const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Splits a byte stream into the `data` of each event.
#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
}

impl SseDecoder {
    pub fn new() -> Self {
        SseDecoder::default()
    }

    /// Feeds bytes; returns the data of every event they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, ProviderError> {
        let mut out = Vec::new();
        for &b in bytes {
            if b != b'\n' {
                self.line.push(b);
                if self.line.len() + self.data.len() > MAX_EVENT_BYTES {
                    return Err(ProviderError::Malformed);
                }
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = std::mem::take(&mut self.line);
            if line.is_empty() {
                if self.has_data {
                    let data = std::mem::take(&mut self.data);
                    self.has_data = false;
                    out.push(String::from_utf8(data).map_err(|_| ProviderError::Malformed)?);
                }
                continue;
            }
            // Comments (":keep-alive") and fields other than data (event, id, retry) carry
            // nothing the providers put the reply in.
            if let Some(value) = line.strip_prefix(b"data:") {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
        }
        Ok(out)
    }
}

/// What a provider does with each event's data.
pub(crate) trait EventParser: Send + 'static {
    /// Reads one event. Returns what it holds and whether it ended the reply.
    fn on_data(&mut self, data: &str) -> Result<(Vec<StreamEvent>, bool), ProviderError>;
    /// The stream ended without the provider's end marker: the reply is cut short.
    fn ended_early(&self) -> ProviderError {
        ProviderError::Transport
    }
}

struct State<P> {
    body: BoxStream<'static, Result<Vec<u8>, reqwest::Error>>,
    decoder: SseDecoder,
    parser: P,
    pending: VecDeque<StreamEvent>,
    deadline: Instant,
    breaker: Arc<CircuitBreaker>,
    done: bool,
}

/// Turns a streaming response into [`StreamEvent`]s. The deadline covers the whole stream; a
/// failure after the start counts against the breaker, and ends the stream with one `Err`.
pub(crate) fn events<P: EventParser>(
    response: reqwest::Response,
    parser: P,
    deadline: Instant,
    breaker: Arc<CircuitBreaker>,
) -> ReplyStream {
    let body = response
        .bytes_stream()
        .map(|chunk| chunk.map(|b| b.to_vec()))
        .boxed();
    let state = State {
        body,
        decoder: SseDecoder::new(),
        parser,
        pending: VecDeque::new(),
        deadline,
        breaker,
        done: false,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(event) = s.pending.pop_front() {
                return Some((Ok(event), s));
            }
            if s.done {
                return None;
            }
            match next_events(&mut s).await {
                Ok(()) => {}
                Err(err) => {
                    s.done = true;
                    s.pending.clear();
                    if err.is_provider_failure() {
                        s.breaker.record_failure();
                    }
                    return Some((Err(err), s));
                }
            }
        }
    })
    .boxed()
}

/// Reads the next chunk and queues its events; sets `done` at the end marker.
async fn next_events<P: EventParser>(s: &mut State<P>) -> Result<(), ProviderError> {
    let chunk = tokio::time::timeout_at(s.deadline, s.body.next())
        .await
        .map_err(|_| ProviderError::Timeout)?;
    let bytes = match chunk {
        None => return Err(s.parser.ended_early()),
        Some(Err(e)) => return Err(transport_error(&e)),
        Some(Ok(bytes)) => bytes,
    };
    for data in s.decoder.push(&bytes)? {
        let (events, finished) = s.parser.on_data(&data)?;
        s.pending.extend(events);
        if finished {
            s.done = true;
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_are_put_back_together() {
        let mut d = SseDecoder::new();
        assert!(d.push(b"data: {\"a\":").unwrap().is_empty());
        assert!(d.push(b"1}\r").unwrap().is_empty());
        assert_eq!(
            d.push(b"\n\r\ndata: [DONE]\n\n").unwrap(),
            vec!["{\"a\":1}".to_owned(), "[DONE]".to_owned()]
        );
    }

    #[test]
    fn comments_and_other_fields_are_skipped_and_data_lines_join() {
        let mut d = SseDecoder::new();
        let out = d
            .push(b": keep-alive\n\nevent: message\nid: 7\ndata: one\ndata:two\n\n")
            .unwrap();
        assert_eq!(out, vec!["one\ntwo".to_owned()]);
    }

    #[test]
    fn an_endless_event_is_malformed_rather_than_a_memory_leak() {
        let mut d = SseDecoder::new();
        let big = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert_eq!(d.push(&big), Err(ProviderError::Malformed));
    }
}
