//! The toy model: a deterministic word generator, honestly labelled as one. A token is a whitespace word.

use inferwatch::FinishReason;

/// The models this toy serves.
pub const MODELS: &[&str] = &["toy", "toy-large"];

const VOCABULARY: &[&str] = &[
    "the", "model", "answers", "with", "a", "few", "plain", "words", "and", "then", "stops", "politely",
];

/// Whitespace tokenizer: the toy's notion of a token.
pub fn count_tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Words picked from the prompt's bytes. Ends early ("stop") once twice the prompt's length in words is produced,
/// else at `max_tokens` ("length"). Each word after the first carries its leading space, as tokenizers do.
pub fn generate(prompt: &str, max_tokens: u32) -> (Vec<String>, FinishReason) {
    let seed = prompt
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let natural = 2 * count_tokens(prompt).max(2);
    let n = u64::from(max_tokens).min(natural);
    let words = (0..n)
        .map(|i| VOCABULARY[((seed >> (i % 48)) as usize + i as usize) % VOCABULARY.len()])
        .enumerate()
        .map(|(i, w)| if i == 0 { w.to_string() } else { format!(" {w}") })
        .collect();
    let finish = if n < u64::from(max_tokens) {
        FinishReason::Stop
    } else {
        FinishReason::Length
    };
    (words, finish)
}

/// The languages the toy tells apart (the drift monitor's `language` categories); anything else is `unknown`.
pub const LANGUAGES: &[&str] = &["en", "fr", "de"];

/// A toy language detector: the language whose common words the prompt uses most.
pub fn language(prompt: &str) -> &'static str {
    const WORDS: &[(&str, &[&str])] = &[
        (
            "en",
            &[
                "the", "a", "in", "about", "me", "tell", "and", "what", "is", "weather", "words", "short",
            ],
        ),
        (
            "fr",
            &[
                "le", "la", "les", "de", "et", "dites", "moi", "en", "quelques", "mots", "courts", "météo",
            ],
        ),
        (
            "de",
            &[
                "der", "die", "das", "und", "ist", "sag", "mir", "wetter", "in", "kurzen", "worten", "über",
            ],
        ),
        (
            "es",
            &[
                "el", "la", "los", "y", "dime", "sobre", "tiempo", "en", "pocas", "palabras", "cortas", "qué",
            ],
        ),
    ];
    let words: Vec<String> = prompt.split_whitespace().map(str::to_lowercase).collect();
    WORDS
        .iter()
        .map(|(lang, common)| (lang, words.iter().filter(|w| common.contains(&w.as_str())).count()))
        .filter(|(_, hits)| *hits > 0)
        .max_by_key(|(_, hits)| *hits)
        .map_or("unknown", |(lang, _)| lang)
}
