//! The words a handler reports in: well-known operation and stage names, finish reasons, token usage.

/// Well-known `gen_ai.operation.name` values (OpenTelemetry GenAI conventions).
pub mod operation {
    /// Chat completion.
    pub const CHAT: &str = "chat";
    /// Text completion.
    pub const TEXT_COMPLETION: &str = "text_completion";
    /// Embeddings.
    pub const EMBEDDINGS: &str = "embeddings";
    /// Multimodal content generation.
    pub const GENERATE_CONTENT: &str = "generate_content";
    /// Every well-known value; always admitted as labels.
    pub const WELL_KNOWN: &[&str] = &[CHAT, TEXT_COMPLETION, EMBEDDINGS, GENERATE_CONTENT];
}

/// Well-known stage names; always admitted as labels. Applications may use up to 16 more.
pub mod stage_name {
    /// Waiting for a slot in the batch.
    pub const QUEUE: &str = "queue";
    /// Turning the prompt into tokens.
    pub const TOKENIZE: &str = "tokenize";
    /// Processing the prompt (prefill).
    pub const PREFILL: &str = "prefill";
    /// Producing tokens.
    pub const GENERATE: &str = "generate";
    /// Turning tokens back into text.
    pub const DECODE: &str = "decode";
    /// Computing embeddings.
    pub const EMBED: &str = "embed";
    /// Every well-known name.
    pub const WELL_KNOWN: &[&str] = &[QUEUE, TOKENIZE, PREFILL, GENERATE, DECODE, EMBED];
}

/// Why generation stopped (`gen_ai.response.finish_reasons`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FinishReason {
    /// A natural stop or a stop sequence.
    Stop,
    /// The token limit was reached.
    Length,
    /// Content was filtered.
    ContentFilter,
    /// The model called tools.
    ToolCalls,
    /// Generation failed.
    Error,
    /// Anything else.
    Other,
}

impl FinishReason {
    /// Every reason, in a fixed order (the handle stores an index into it).
    pub(crate) const ALL: [FinishReason; 6] = [
        FinishReason::Stop,
        FinishReason::Length,
        FinishReason::ContentFilter,
        FinishReason::ToolCalls,
        FinishReason::Error,
        FinishReason::Other,
    ];

    /// Parses the OpenAI / OpenTelemetry spelling; unknown text is [`FinishReason::Other`].
    pub fn parse(reason: &str) -> Self {
        match reason {
            "stop" | "end_turn" | "stop_sequence" => FinishReason::Stop,
            "length" | "max_tokens" => FinishReason::Length,
            "content_filter" => FinishReason::ContentFilter,
            "tool_calls" | "tool_use" | "function_call" => FinishReason::ToolCalls,
            "error" => FinishReason::Error,
            _ => FinishReason::Other,
        }
    }

    /// The value as written in spans and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::Error => "error",
            FinishReason::Other => crate::contract::OTHER,
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// Token counts a non-streaming handler may put into the response extensions instead of using the handle.
///
/// A count left at zero on the [`RequestHandle`](crate::RequestHandle) is taken from here.
///
/// ```
/// use inferwatch_core::TokenUsage;
/// let mut response = http::Response::new(());
/// response.extensions_mut().insert(TokenUsage::new(12, 40));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenUsage {
    /// Billable input (prompt) tokens.
    pub input_tokens: u64,
    /// Billable output (completion) tokens.
    pub output_tokens: u64,
}

impl TokenUsage {
    /// `input_tokens` in, `output_tokens` out.
    pub const fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Self {
            input_tokens,
            output_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons_parse_and_index() {
        assert_eq!(FinishReason::parse("length"), FinishReason::Length);
        assert_eq!(FinishReason::parse("whatever").as_str(), "_OTHER");
        for (i, reason) in FinishReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i);
        }
    }
}
