//! Single edits of valid client input, for the property tests that check a parser against an independent rule in
//! both directions: a valid value and one edit of it make both outcomes common.

/// One edit of `valid`: a character replaced, removed or inserted at `at`, or the value cut short there.
pub(crate) fn mutate(valid: &str, at: proptest::sample::Index, edit: u8, c: char) -> String {
    let mut chars: Vec<char> = valid.chars().collect();
    let i = at.index(chars.len() + 1);
    match edit % 4 {
        0 if i < chars.len() => chars[i] = c,
        1 if i < chars.len() => {
            chars.remove(i);
        }
        2 => chars.insert(i, c),
        _ => chars.truncate(i),
    }
    chars.into_iter().collect()
}
