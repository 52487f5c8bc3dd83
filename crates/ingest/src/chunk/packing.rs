//! Greedy packing of one section's blocks into token-bounded chunks with overlap.
//!
//! Blocks are first cut into units: a block that fits the budget is one unit; a prose block
//! that does not is cut into sentences (and over-long sentences into words); a table that does
//! not fit is cut into rows that each carry the header; a code block is never cut. Units are
//! then packed greedily, and each new chunk starts with the trailing units of the previous one
//! that fit the overlap budget.

use super::count_tokens;
use super::sections::Block;
use super::ChunkerConfig;

/// A chunk's text and its exact token count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackedChunk {
    pub text: String,
    pub token_count: usize,
}

#[derive(Debug, Clone)]
struct Unit {
    /// Index of the block the unit comes from, within its section.
    block: usize,
    kind: UnitKind,
    /// Tokens of the unit's own text, without separators or table header. A prose part is
    /// counted with the space that joins it to the previous part: " jumps" is one token where
    /// "jumps" is two.
    tokens: usize,
    /// Comes from a list item: joined to a preceding list item by a single newline.
    list_item: bool,
}

#[derive(Debug, Clone)]
enum UnitKind {
    /// A whole prose block.
    Prose(String),
    /// A sentence (or word) of a prose block too big for one chunk; joined to the neighbouring
    /// parts of the same block with a space.
    ProsePart(String),
    /// A whole code block or a whole table: never cut, never partly repeated.
    Atomic(String),
    /// One row of a table too big for one chunk; every run of rows is preceded by the header.
    TableRow {
        header: Option<String>,
        header_tokens: usize,
        row: String,
    },
}

pub(crate) fn pack_section(blocks: &[Block], config: &ChunkerConfig) -> Vec<PackedChunk> {
    let budget = config.max_tokens.max(1);
    let overlap_budget = config.overlap_tokens.min(budget / 2);
    let units: Vec<Unit> = blocks
        .iter()
        .enumerate()
        .flat_map(|(index, block)| units_of_block(index, block, budget))
        .collect();

    let mut chunks = Vec::new();
    let mut overlap: Vec<Unit> = Vec::new();
    let mut next = 0;
    while next < units.len() {
        let mut chunk = std::mem::take(&mut overlap);
        let mut overlap_len = chunk.len();
        let mut estimated = estimate_tokens(&chunk);
        // Every chunk takes at least one new unit; the overlap gives way if both do not fit.
        if estimated + added_tokens(chunk.last(), &units[next]) > budget {
            chunk.clear();
            overlap_len = 0;
            estimated = 0;
        }
        while let Some(unit) = units.get(next) {
            let cost = added_tokens(chunk.last(), unit);
            let is_first_new_unit = chunk.len() == overlap_len;
            if estimated + cost > budget && !is_first_new_unit {
                break;
            }
            estimated += cost;
            chunk.push(unit.clone());
            next += 1;
        }

        // The estimate ignores how tokens merge across joins: check the real count and give
        // back trailing units (then the overlap) until the chunk fits or holds one unit.
        let mut text = render(&chunk);
        let mut token_count = count_tokens(&text);
        while token_count > budget && chunk.len() > 1 {
            if chunk.len() - overlap_len > 1 {
                chunk.pop();
                next -= 1;
            } else {
                chunk.drain(..overlap_len);
                overlap_len = 0;
            }
            text = render(&chunk);
            token_count = count_tokens(&text);
        }

        overlap = trailing_overlap(&chunk, overlap_budget);
        chunks.push(PackedChunk { text, token_count });
    }
    chunks
}

fn units_of_block(index: usize, block: &Block, budget: usize) -> Vec<Unit> {
    let unit = |kind: UnitKind, tokens: usize| Unit {
        block: index,
        kind,
        tokens,
        list_item: matches!(block, Block::ListItem(_)),
    };
    match block {
        Block::Text(text) | Block::ListItem(text) => {
            let tokens = count_tokens(text);
            if tokens <= budget {
                return vec![unit(UnitKind::Prose(text.clone()), tokens)];
            }
            split_prose(text, budget)
                .into_iter()
                .map(|part| {
                    unit(
                        UnitKind::ProsePart(part.to_string()),
                        prose_part_tokens(part),
                    )
                })
                .collect()
        }
        Block::Code(code) => vec![unit(UnitKind::Atomic(code.clone()), count_tokens(code))],
        Block::Table { header, rows } => {
            let whole = header
                .iter()
                .chain(rows)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n");
            let tokens = count_tokens(&whole);
            if tokens <= budget {
                return vec![unit(UnitKind::Atomic(whole), tokens)];
            }
            let header_tokens = header.as_deref().map_or(0, count_tokens);
            rows.iter()
                .map(|row| {
                    let kind = UnitKind::TableRow {
                        header: header.clone(),
                        header_tokens,
                        row: row.clone(),
                    };
                    unit(kind, count_tokens(row))
                })
                .collect()
        }
    }
}

fn prose_part_tokens(part: &str) -> usize {
    count_tokens(&format!(" {part}"))
}

/// Cuts prose into sentences, sentences over the budget into words, and words over the budget
/// into pieces of at most `budget` bytes (a cl100k token is at least one byte).
fn split_prose(text: &str, budget: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    for sentence in sentences(text) {
        if count_tokens(sentence) <= budget {
            parts.push(sentence);
            continue;
        }
        for word in sentence.split_whitespace() {
            if count_tokens(word) <= budget {
                parts.push(word);
            } else {
                parts.extend(split_at_byte_budget(word, budget));
            }
        }
    }
    parts
}

/// Sentences end at `.`, `!`, `?` or `…` followed by whitespace, or at CJK full stops, once
/// they hold a letter: a list marker such as `1.` does not end a sentence.
fn sentences(text: &str) -> Vec<&str> {
    let mut sentences = Vec::new();
    let mut start = 0;
    let mut has_letter = false;
    let mut chars = text.char_indices().peekable();
    while let Some((index, character)) = chars.next() {
        has_letter |= character.is_alphabetic();
        let ends_sentence = has_letter
            && match character {
                '.' | '!' | '?' | '…' => {
                    chars.peek().is_none_or(|(_, next)| next.is_whitespace())
                }
                '。' | '！' | '？' => true,
                _ => false,
            };
        if ends_sentence {
            let end = index + character.len_utf8();
            sentences.push(text[start..end].trim());
            start = end;
            has_letter = false;
        }
    }
    sentences.push(text[start..].trim());
    sentences.retain(|sentence| !sentence.is_empty());
    sentences
}

fn split_at_byte_budget(word: &str, max_bytes: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (index, character) in word.char_indices() {
        if index > start && index + character.len_utf8() - start > max_bytes {
            pieces.push(&word[start..index]);
            start = index;
        }
    }
    pieces.push(&word[start..]);
    pieces
}

/// Estimated tokens `unit` adds to a chunk after `previous`: its own, plus the separator (and
/// the table header when a run of rows starts). A space between parts of one prose block
/// merges into the next word's token, so it is counted in the part already.
fn added_tokens(previous: Option<&Unit>, unit: &Unit) -> usize {
    let same_block = previous.is_some_and(|previous| previous.block == unit.block);
    let separator = usize::from(previous.is_some());
    let joining = match &unit.kind {
        UnitKind::ProsePart(_) if same_block => 0,
        UnitKind::TableRow { .. } if same_block => 1,
        UnitKind::TableRow { header_tokens, .. } => separator + header_tokens + 1,
        _ => separator,
    };
    joining + unit.tokens
}

fn estimate_tokens(units: &[Unit]) -> usize {
    let mut previous = None;
    let mut total = 0;
    for unit in units {
        total += added_tokens(previous, unit);
        previous = Some(unit);
    }
    total
}

/// Joins units into chunk text: blocks are separated by a blank line, parts of one prose block
/// by a space, rows of one table by a newline under the table's header.
fn render(units: &[Unit]) -> String {
    let mut text = String::new();
    let mut previous: Option<&Unit> = None;
    for unit in units {
        let same_block = previous.is_some_and(|previous| previous.block == unit.block);
        match &unit.kind {
            UnitKind::ProsePart(part) if same_block => {
                text.push(' ');
                text.push_str(part);
            }
            UnitKind::TableRow { row, .. } if same_block => {
                text.push('\n');
                text.push_str(row);
            }
            UnitKind::Prose(block_text)
            | UnitKind::ProsePart(block_text)
            | UnitKind::Atomic(block_text) => {
                push_block_separator(&mut text, previous, unit);
                text.push_str(block_text);
            }
            UnitKind::TableRow { header, row, .. } => {
                push_block_separator(&mut text, previous, unit);
                if let Some(header) = header {
                    text.push_str(header);
                    text.push('\n');
                }
                text.push_str(row);
            }
        }
        previous = Some(unit);
    }
    text
}

/// A blank line between blocks, a newline between list items.
fn push_block_separator(text: &mut String, previous: Option<&Unit>, unit: &Unit) {
    match previous {
        Some(previous) if previous.list_item && unit.list_item => text.push('\n'),
        Some(_) => text.push_str("\n\n"),
        None => {}
    }
}

/// The tail of a chunk to repeat at the start of the next one: the trailing units that fit the
/// budget together, or else the trailing sentences of a final prose block that fit.
fn trailing_overlap(chunk: &[Unit], overlap_budget: usize) -> Vec<Unit> {
    if overlap_budget == 0 {
        return Vec::new();
    }
    let mut start = chunk.len();
    while start > 0 && count_tokens(&render(&chunk[start - 1..])) <= overlap_budget {
        start -= 1;
    }
    if start < chunk.len() {
        return chunk[start..].to_vec();
    }
    let Some(
        last @ Unit {
            kind: UnitKind::Prose(text),
            ..
        },
    ) = chunk.last()
    else {
        return Vec::new();
    };
    let sentences = sentences(text);
    let mut first = sentences.len();
    while first > 0 && count_tokens(&sentences[first - 1..].join(" ")) <= overlap_budget {
        first -= 1;
    }
    sentences[first..]
        .iter()
        .map(|sentence| Unit {
            block: last.block,
            kind: UnitKind::ProsePart(sentence.to_string()),
            tokens: prose_part_tokens(sentence),
            list_item: last.list_item,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_end_at_terminal_punctuation_followed_by_space_but_not_after_a_list_marker() {
        let text = "1. Open Settings. Click Billing! Done? Version 2.5 is out… 完成。好";
        assert_eq!(
            sentences(text),
            vec![
                "1. Open Settings.",
                "Click Billing!",
                "Done?",
                "Version 2.5 is out…",
                "完成。",
                "好"
            ]
        );
    }

    #[test]
    fn over_long_words_are_cut_at_char_boundaries_within_the_byte_budget() {
        let pieces = split_at_byte_budget("ééééé", 4);
        assert_eq!(pieces, vec!["éé", "éé", "é"]);
    }
}
