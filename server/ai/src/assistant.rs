//! The assistant: the built-in engine first, then (if a provider is configured and the caller
//! has the patient's consent) a model's opinion on the redacted text, combined so that the
//! model can raise the level and never lower it.
//!
//! Every function here returns an answer, never an error: a timeout, a safety block, an
//! unreadable answer or an open circuit all give the built-in result with a template reply,
//! and the [`CallUsage`] says what happened. It holds no database and no configuration;
//! storing usage and consent is the caller's job. Nothing here logs, and [`CallUsage`] holds
//! no content.
use futures_util::{Stream, StreamExt};
use tokio::time::Instant;

use crate::engine::Engine;
use crate::guard;
use crate::prompt::{self, ModelOpinion};
use crate::providers::{
    ModelProvider, ModelReply, ModelRequest, ProviderError, ReplyStream, StreamEvent, Usage,
};
use crate::redact::redact;
use crate::summary::pre_consult_summary;
use crate::types::{PatientContext, PreConsultSummary, TriageLevel, TriageResult};

/// How a model call ended, as stored with its usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    Ok,
    Timeout,
    RateLimited,
    ServerError,
    Rejected,
    SafetyBlocked,
    Malformed,
    Transport,
    /// A streamed reply stopped after some of it had been shown.
    Interrupted,
    CircuitOpen,
    Config,
}

impl CallOutcome {
    pub const ALL: [CallOutcome; 11] = [
        CallOutcome::Ok,
        CallOutcome::Timeout,
        CallOutcome::RateLimited,
        CallOutcome::ServerError,
        CallOutcome::Rejected,
        CallOutcome::SafetyBlocked,
        CallOutcome::Malformed,
        CallOutcome::Transport,
        CallOutcome::Interrupted,
        CallOutcome::CircuitOpen,
        CallOutcome::Config,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Timeout => "timeout",
            CallOutcome::RateLimited => "rate_limited",
            CallOutcome::ServerError => "server_error",
            CallOutcome::Rejected => "rejected",
            CallOutcome::SafetyBlocked => "safety_blocked",
            CallOutcome::Malformed => "malformed",
            CallOutcome::Transport => "transport",
            CallOutcome::Interrupted => "interrupted",
            CallOutcome::CircuitOpen => "circuit_open",
            CallOutcome::Config => "config",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<CallOutcome> {
        CallOutcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl From<&ProviderError> for CallOutcome {
    fn from(err: &ProviderError) -> Self {
        match err {
            ProviderError::Timeout => CallOutcome::Timeout,
            ProviderError::RateLimited { .. } => CallOutcome::RateLimited,
            ProviderError::Server(_) => CallOutcome::ServerError,
            ProviderError::Rejected(_) => CallOutcome::Rejected,
            ProviderError::SafetyBlocked => CallOutcome::SafetyBlocked,
            ProviderError::Malformed => CallOutcome::Malformed,
            ProviderError::Transport => CallOutcome::Transport,
            ProviderError::CircuitOpen => CallOutcome::CircuitOpen,
            ProviderError::Config => CallOutcome::Config,
        }
    }
}

/// One model call, for metrics and cost: never any content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallUsage {
    pub provider: String,
    pub model: String,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub latency_ms: u64,
    pub outcome: CallOutcome,
}

/// Where the reply shown to the patient came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplySource {
    /// The model's words.
    Model,
    /// No model was asked: the built-in template.
    Builtin,
    /// The model call failed: the built-in template.
    Fallback,
    /// The model answered but judged the case less urgent than the built-in engine; its
    /// words would contradict the level shown, so the template is used instead.
    Overridden,
}

/// The assistant's answer for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The final result: the built-in result, raised to the model's level if that is more
    /// urgent, with the safety invariants applied.
    pub result: TriageResult,
    pub builtin_level: TriageLevel,
    /// The model's level, when it gave a readable one.
    pub model_level: Option<TriageLevel>,
    /// What to tell the patient.
    pub reply: String,
    pub reply_source: ReplySource,
    /// The model call, when one was made.
    pub usage: Option<CallUsage>,
}

/// A pre-consultation summary and how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub summary: PreConsultSummary,
    /// `Model` when the narrative parts are the model's; the level, reasons and red flags are
    /// always the built-in engine's.
    pub source: ReplySource,
    pub usage: Option<CallUsage>,
}

/// One item of a streamed chat reply.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// Always first, before any model call: the built-in result, so the emergency banner can
    /// be shown at once.
    Triage(TriageResult),
    /// The next piece of the model's reply.
    Delta(String),
    /// Always last. Its `reply` is authoritative: if it differs from the deltas shown (the
    /// stream broke, or the model was overridden), the interface replaces them with it. Its
    /// `result` may be more urgent than the first event's (a model can raise the level), so
    /// the interface re-reads the level and the banner from it.
    Done(Assessment),
}

/// The reply used when no model's words can be: the level's meaning, danger signs, advice and
/// the questions that would help.
pub fn template_reply(result: &TriageResult) -> String {
    let mut parts = vec![result.level.meaning().to_owned()];
    if !result.red_flags.is_empty() {
        let flags: Vec<&str> = result.red_flags.iter().map(|f| f.label.as_str()).collect();
        parts.push(format!("Danger signs: {}.", flags.join(", ")));
    }
    parts.extend(result.advice.iter().take(3).cloned());
    if !result.follow_up_questions.is_empty() {
        let questions: Vec<&str> = result
            .follow_up_questions
            .iter()
            .take(2)
            .map(String::as_str)
            .collect();
        parts.push(format!("To help further: {}", questions.join(" ")));
    }
    parts.join("\n\n")
}

fn usage_record(
    provider: &dyn ModelProvider,
    started: Instant,
    usage: Usage,
    outcome: CallOutcome,
) -> CallUsage {
    CallUsage {
        provider: provider.name().to_owned(),
        model: provider.model().to_owned(),
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        outcome,
    }
}

fn builtin_only(result: TriageResult, source: ReplySource, usage: Option<CallUsage>) -> Assessment {
    Assessment {
        reply: template_reply(&result),
        builtin_level: result.level,
        model_level: None,
        result,
        reply_source: source,
        usage,
    }
}

/// Puts a model's readable opinion next to the built-in result.
fn with_opinion(builtin: TriageResult, opinion: ModelOpinion, usage: CallUsage) -> Assessment {
    let result = guard::combine(&builtin, opinion.level);
    let overridden = opinion.level.rank() < result.level.rank();
    Assessment {
        reply: if overridden {
            template_reply(&result)
        } else {
            opinion.reply
        },
        reply_source: if overridden {
            ReplySource::Overridden
        } else {
            ReplySource::Model
        },
        builtin_level: builtin.level,
        model_level: Some(opinion.level),
        result,
        usage: Some(usage),
    }
}

/// Assesses one message. The engine runs first, so danger signs are known before any model
/// call; the model gets only the redacted text. Never fails.
pub async fn assess(
    engine: &Engine,
    provider: Option<&dyn ModelProvider>,
    text: &str,
    ctx: &PatientContext,
    known_names: &[&str],
) -> Assessment {
    let builtin = guard::triage_guarded(engine, text, ctx);
    let Some(provider) = provider else {
        return builtin_only(builtin, ReplySource::Builtin, None);
    };
    let redacted = redact(text, known_names);
    let request = prompt::triage_request(&redacted.text, &builtin);
    let started = Instant::now();
    let reply = provider.complete(&request).await;
    let (opinion, usage) = match reply {
        Ok(ModelReply { text, usage }) => (prompt::parse_opinion(&text), usage),
        Err(err) => (Err(err), Usage::default()),
    };
    match opinion {
        Ok(opinion) => {
            let usage = usage_record(provider, started, usage, CallOutcome::Ok);
            with_opinion(builtin, opinion, usage)
        }
        Err(err) => {
            let usage = usage_record(provider, started, usage, CallOutcome::from(&err));
            builtin_only(builtin, ReplySource::Fallback, Some(usage))
        }
    }
}

/// A pre-consultation summary: the model's narrative when it gives a readable one, the
/// built-in template otherwise. Level, reasons and red flags are always the engine's. Never
/// fails.
pub async fn summarise(
    engine: &Engine,
    provider: Option<&dyn ModelProvider>,
    text: &str,
    ctx: &PatientContext,
    known_names: &[&str],
) -> Summary {
    let result = guard::triage_guarded(engine, text, ctx);
    let builtin = pre_consult_summary(text, &result);
    let Some(provider) = provider else {
        return Summary {
            summary: builtin,
            source: ReplySource::Builtin,
            usage: None,
        };
    };
    let redacted = redact(text, known_names);
    let request = prompt::summary_request(&redacted.text, &result);
    let started = Instant::now();
    let (parsed, usage) = match provider.complete(&request).await {
        Ok(ModelReply { text, usage }) => (prompt::parse_summary(&text), usage),
        Err(err) => (Err(err), Usage::default()),
    };
    match parsed {
        Ok(model) => Summary {
            summary: PreConsultSummary {
                chief_complaint: model.chief_complaint,
                history_of_present_illness: model.history_of_present_illness,
                relevant_negatives: model.relevant_negatives,
                ..builtin
            },
            source: ReplySource::Model,
            usage: Some(usage_record(provider, started, usage, CallOutcome::Ok)),
        },
        Err(err) => Summary {
            summary: builtin,
            source: ReplySource::Fallback,
            usage: Some(usage_record(
                provider,
                started,
                usage,
                CallOutcome::from(&err),
            )),
        },
    }
}

/// The longest first line read while looking for `LEVEL: …` before giving up.
const MAX_LEVEL_LINE: usize = 200;

enum Step<'a> {
    Start,
    /// No provider: the template reply follows the built-in result.
    Template(TriageResult),
    Connect {
        provider: &'a dyn ModelProvider,
        builtin: TriageResult,
        request: ModelRequest,
    },
    /// The level line has been read; the reply is being shown.
    Text(Streaming<'a>),
    Finished,
}

struct Streaming<'a> {
    provider: &'a dyn ModelProvider,
    builtin: TriageResult,
    stream: ReplyStream,
    started: Instant,
    usage: Usage,
    /// Before the level line: what has arrived. After: the reply shown so far.
    text: String,
    level: TriageLevel,
}

impl Streaming<'_> {
    fn fail(self, outcome: CallOutcome) -> Assessment {
        let usage = usage_record(self.provider, self.started, self.usage, outcome);
        builtin_only(self.builtin, ReplySource::Fallback, Some(usage))
    }

    fn finish(self, reply: String) -> Assessment {
        let usage = usage_record(self.provider, self.started, self.usage, CallOutcome::Ok);
        let opinion = ModelOpinion {
            level: self.level,
            reply,
        };
        with_opinion(self.builtin, opinion, usage)
    }
}

fn done<'a>(assessment: Assessment) -> Option<(ChatEvent, Step<'a>)> {
    Some((ChatEvent::Done(assessment), Step::Finished))
}

/// Like [`assess`], streaming the model's reply as it is written. Yields
/// [`ChatEvent::Triage`] first and [`ChatEvent::Done`] last, and nothing after `Done`.
///
/// The model is asked for its level on the first line; nothing of its reply is shown until
/// that line is read, and if the level is lower than the engine's, none of it is shown at all.
pub fn assess_stream<'a>(
    engine: &'a Engine,
    provider: Option<&'a dyn ModelProvider>,
    text: &'a str,
    ctx: &'a PatientContext,
    known_names: &'a [&'a str],
) -> impl Stream<Item = ChatEvent> + Send + 'a {
    futures_util::stream::unfold(Step::Start, move |step| async move {
        match step {
            Step::Start => {
                let builtin = guard::triage_guarded(engine, text, ctx);
                let next = match provider {
                    None => Step::Template(builtin.clone()),
                    Some(provider) => Step::Connect {
                        provider,
                        request: prompt::chat_request(&redact(text, known_names).text, &builtin),
                        builtin: builtin.clone(),
                    },
                };
                Some((ChatEvent::Triage(builtin), next))
            }
            Step::Template(builtin) => done(builtin_only(builtin, ReplySource::Builtin, None)),
            Step::Connect {
                provider,
                builtin,
                request,
            } => {
                let started = Instant::now();
                match provider.stream(&request).await {
                    Ok(stream) => {
                        read_level(Streaming {
                            provider,
                            level: builtin.level,
                            builtin,
                            stream,
                            started,
                            usage: Usage::default(),
                            text: String::new(),
                        })
                        .await
                    }
                    Err(err) => {
                        let usage =
                            usage_record(provider, started, Usage::default(), (&err).into());
                        done(builtin_only(builtin, ReplySource::Fallback, Some(usage)))
                    }
                }
            }
            Step::Text(s) => read_text(s).await,
            Step::Finished => None,
        }
    })
}

async fn read_level(mut s: Streaming<'_>) -> Option<(ChatEvent, Step<'_>)> {
    loop {
        match s.stream.next().await {
            Some(Ok(StreamEvent::Text(piece))) => s.text.push_str(&piece),
            Some(Ok(StreamEvent::Usage(usage))) => {
                s.usage = usage;
                continue;
            }
            Some(Err(err)) => return done(s.fail((&err).into())),
            // Ended before a reply followed the level line.
            None => return done(s.fail(CallOutcome::Malformed)),
        }
        let arrived = s.text.trim_start();
        let Some(newline) = arrived.find('\n') else {
            if arrived.len() > MAX_LEVEL_LINE {
                return done(s.fail(CallOutcome::Malformed));
            }
            continue;
        };
        let Some(level) = prompt::parse_level_line(&arrived[..newline]) else {
            return done(s.fail(CallOutcome::Malformed));
        };
        let rest = arrived[newline + 1..].trim_start().to_owned();
        s.level = level;
        if level.rank() < s.builtin.level.rank() {
            // Its words would argue for less care than the level shown: show none of them.
            let usage = usage_record(s.provider, s.started, s.usage, CallOutcome::Ok);
            let opinion = ModelOpinion {
                level,
                reply: String::new(),
            };
            return done(with_opinion(s.builtin, opinion, usage));
        }
        s.text = rest.clone();
        if rest.is_empty() {
            return read_text(s).await;
        }
        return Some((ChatEvent::Delta(rest), Step::Text(s)));
    }
}

async fn read_text(mut s: Streaming<'_>) -> Option<(ChatEvent, Step<'_>)> {
    loop {
        match s.stream.next().await {
            Some(Ok(StreamEvent::Text(piece))) => {
                if piece.is_empty() {
                    continue;
                }
                s.text.push_str(&piece);
                if s.text.len() > prompt::MAX_REPLY_CHARS * 4 {
                    // Far past what a reply may be: stop reading; `Done` carries the cut text.
                    let reply = prompt::clean_reply(&s.text).unwrap_or_default();
                    return done(s.finish(reply));
                }
                return Some((ChatEvent::Delta(piece), Step::Text(s)));
            }
            Some(Ok(StreamEvent::Usage(usage))) => s.usage = usage,
            Some(Err(err)) => {
                // Part of the reply was shown: whatever broke, the patient saw a cut reply.
                let outcome = match err {
                    ProviderError::SafetyBlocked => CallOutcome::SafetyBlocked,
                    _ => CallOutcome::Interrupted,
                };
                return done(s.fail(outcome));
            }
            None => {
                return match prompt::clean_reply(&s.text) {
                    Some(reply) => done(s.finish(reply)),
                    None => done(s.fail(CallOutcome::Malformed)),
                };
            }
        }
    }
}
