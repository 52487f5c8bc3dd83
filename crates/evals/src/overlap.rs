//! Answer-content overlap with a human-checked reference answer: token F1 (SQuAD-style bag of
//! words) and ROUGE-L (longest common subsequence). Both are F-measures in 0..1 over lowercase
//! alphanumeric word tokens; no stemming, no stop words, so the numbers are easy to reproduce.

/// Lowercase alphanumeric word tokens (Unicode-aware); everything else separates words.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Harmonic mean of precision and recall; 0 when both are 0.
fn f_measure(overlap: usize, candidate_len: usize, reference_len: usize) -> f64 {
    if overlap == 0 || candidate_len == 0 || reference_len == 0 {
        return 0.0;
    }
    let precision = overlap as f64 / candidate_len as f64;
    let recall = overlap as f64 / reference_len as f64;
    2.0 * precision * recall / (precision + recall)
}

/// Token F1: the multiset overlap of the two token bags. Two empty texts score 1.
pub fn token_f1(candidate: &str, reference: &str) -> f64 {
    let candidate = tokens(candidate);
    let reference = tokens(reference);
    if candidate.is_empty() && reference.is_empty() {
        return 1.0;
    }
    let mut remaining: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for token in &reference {
        *remaining.entry(token.as_str()).or_insert(0) += 1;
    }
    let mut overlap = 0;
    for token in &candidate {
        if let Some(count) = remaining.get_mut(token.as_str()) {
            if *count > 0 {
                *count -= 1;
                overlap += 1;
            }
        }
    }
    f_measure(overlap, candidate.len(), reference.len())
}

/// ROUGE-L F1 (β = 1): the longest common subsequence of tokens, as precision over the candidate
/// and recall over the reference. Two empty texts score 1.
pub fn rouge_l(candidate: &str, reference: &str) -> f64 {
    let candidate = tokens(candidate);
    let reference = tokens(reference);
    if candidate.is_empty() && reference.is_empty() {
        return 1.0;
    }
    f_measure(
        lcs_len(&candidate, &reference),
        candidate.len(),
        reference.len(),
    )
}

/// Length of the longest common subsequence, in O(len(a) · len(b)) time and O(len(b)) memory.
fn lcs_len(a: &[String], b: &[String]) -> usize {
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for token_a in a {
        for (j, token_b) in b.iter().enumerate() {
            current[j + 1] = if token_a == token_b {
                previous[j] + 1
            } else {
                current[j].max(previous[j + 1])
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn tokens_are_lowercase_words_without_punctuation() {
        assert_eq!(
            tokens("Reset your PIN: Settings → Security, then 'Reset'."),
            ["reset", "your", "pin", "settings", "security", "then", "reset"]
        );
        assert!(tokens(" ,.; ").is_empty());
    }

    #[test]
    fn token_f1_counts_shared_words_once_per_occurrence() {
        assert!(close(token_f1("the cat sat", "the cat sat"), 1.0));
        assert!(close(token_f1("dog", "cat"), 0.0));
        // candidate 4 tokens, reference 2, overlap 2 ("the" once, "cat"): p = 0.5, r = 1.
        assert!(close(
            token_f1("the the cat dog", "the cat"),
            2.0 * 0.5 / 1.5
        ));
        assert!(close(token_f1("", "something"), 0.0));
        assert!(close(token_f1("", ""), 1.0));
    }

    #[test]
    fn rouge_l_rewards_words_in_the_same_order() {
        assert!(close(rouge_l("a b c d", "a b c d"), 1.0));
        // Same bag of words, reversed: LCS is 1 of 4, but token F1 is 1.
        assert!(close(rouge_l("d c b a", "a b c d"), 0.25));
        assert!(close(token_f1("d c b a", "a b c d"), 1.0));
        // LCS("a x b y c", "a b c") = 3: p = 3/5, r = 1 → F = 0.75.
        assert!(close(rouge_l("a x b y c", "a b c"), 0.75));
        assert!(close(rouge_l("", "a"), 0.0));
    }

    #[test]
    fn lcs_length_matches_the_textbook_example() {
        let a: Vec<String> = "ABCBDAB".chars().map(String::from).collect();
        let b: Vec<String> = "BDCABA".chars().map(String::from).collect();
        assert_eq!(lcs_len(&a, &b), 4);
    }
}
