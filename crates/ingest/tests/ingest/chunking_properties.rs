//! Property tests: for generated Markdown articles, chunking loses nothing, duplicates no more
//! than the overlap, respects the token budget, and keeps sections apart under the right
//! heading paths.
//!
//! Every generated body word is unique and names its section: `s3w17` is word 17 of section 3;
//! table header words are `s3h0`, `s3h1`… (headers are repeated by design, so they are not
//! counted as duplicates). Heading texts (`Heading 3`) never look like body words.

use std::collections::{BTreeMap, BTreeSet};

use fathom_core::{ArticleFormat, Chunk, WorkspaceId};
use fathom_ingest::{chunk_article, count_tokens, ChunkerConfig};
use proptest::prelude::*;

use crate::helpers::article;

const TITLE: &str = "Generated article";

#[derive(Debug, Clone)]
enum BlockShape {
    /// Sentences, each a number of words; `false` sentences have no final period.
    Paragraph(Vec<(usize, bool)>),
    /// Items as (nesting depth, words).
    List {
        ordered: bool,
        items: Vec<(usize, usize)>,
    },
    /// Lines of words.
    Code(Vec<usize>),
    /// Columns and rows.
    Table { columns: usize, rows: usize },
}

#[derive(Debug, Clone)]
struct SectionShape {
    /// `None` for text before the first heading.
    heading_level: Option<usize>,
    blocks: Vec<BlockShape>,
}

fn block_shape() -> impl Strategy<Value = BlockShape> {
    prop_oneof![
        6 => prop::collection::vec((1usize..30, prop::bool::weighted(0.8)), 1..6).prop_map(BlockShape::Paragraph),
        2 => (any::<bool>(), prop::collection::vec((0usize..3, 1usize..15), 1..6)).prop_map(|(ordered, items)| {
            // Nesting may deepen by one level at a time only.
            let mut depth = 0;
            let items = items
                .into_iter()
                .map(|(wanted, words)| {
                    depth = wanted.min(depth + 1);
                    (depth, words)
                })
                .collect();
            BlockShape::List { ordered, items: fix_first_depth(items) }
        }),
        1 => prop::collection::vec(1usize..12, 1..12).prop_map(BlockShape::Code),
        1 => (1usize..4, 1usize..12).prop_map(|(columns, rows)| BlockShape::Table { columns, rows }),
    ]
}

fn fix_first_depth(mut items: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    if let Some(first) = items.first_mut() {
        first.0 = 0;
    }
    items
}

fn article_shape() -> impl Strategy<Value = Vec<SectionShape>> {
    let intro = prop::collection::vec(block_shape(), 0..3);
    let sections = prop::collection::vec(
        (1usize..=4, prop::collection::vec(block_shape(), 0..5)),
        0..6,
    );
    (intro, sections).prop_map(|(intro, sections)| {
        let mut shapes = vec![SectionShape {
            heading_level: None,
            blocks: intro,
        }];
        shapes.extend(sections.into_iter().map(|(level, blocks)| SectionShape {
            heading_level: Some(level),
            blocks,
        }));
        shapes
    })
}

/// The Markdown, each section's body words, and each section's expected heading path.
struct Generated {
    markdown: String,
    words_by_section: Vec<Vec<String>>,
    heading_paths: Vec<Vec<String>>,
}

fn generate(shapes: &[SectionShape]) -> Generated {
    let mut markdown = String::new();
    let mut words_by_section = Vec::new();
    let mut heading_paths = Vec::new();
    let mut open_headings: Vec<(usize, String)> = Vec::new();
    for (section, shape) in shapes.iter().enumerate() {
        if let Some(level) = shape.heading_level {
            let text = format!("Heading {section}");
            markdown.push_str(&format!("{} {text}\n\n", "#".repeat(level)));
            open_headings.retain(|(open_level, _)| *open_level < level);
            open_headings.push((level, text));
        }
        let mut path: Vec<String> = Vec::new();
        if open_headings.first().is_none_or(|(level, _)| *level != 1) {
            path.push(TITLE.to_string());
        }
        path.extend(open_headings.iter().map(|(_, text)| text.clone()));
        heading_paths.push(path);

        let mut words = Vec::new();
        let next_word = |words: &mut Vec<String>| {
            let word = format!("s{section}w{}", words.len());
            words.push(word.clone());
            word
        };
        for block in &shape.blocks {
            match block {
                BlockShape::Paragraph(sentences) => {
                    let sentences: Vec<String> = sentences
                        .iter()
                        .map(|(count, period)| {
                            let sentence: Vec<String> =
                                (0..*count).map(|_| next_word(&mut words)).collect();
                            format!("{}{}", sentence.join(" "), if *period { "." } else { "" })
                        })
                        .collect();
                    markdown.push_str(&sentences.join(" "));
                    markdown.push_str("\n\n");
                }
                BlockShape::List { ordered, items } => {
                    for (index, (depth, count)) in items.iter().enumerate() {
                        let item: Vec<String> =
                            (0..*count).map(|_| next_word(&mut words)).collect();
                        let (indent, marker) = if *ordered && *depth == 0 {
                            (String::new(), format!("{}.", index + 1))
                        } else {
                            // Bullets nest under ordered items ("1. " is 3 wide) and bullets ("- " is 2).
                            let width = if *ordered { 3 } else { 2 };
                            (" ".repeat(width * depth), "-".to_string())
                        };
                        markdown.push_str(&format!("{indent}{marker} {}\n", item.join(" ")));
                    }
                    markdown.push('\n');
                }
                BlockShape::Code(lines) => {
                    markdown.push_str("```text\n");
                    for count in lines {
                        let line: Vec<String> =
                            (0..*count).map(|_| next_word(&mut words)).collect();
                        markdown.push_str(&line.join(" "));
                        markdown.push('\n');
                    }
                    markdown.push_str("```\n\n");
                }
                BlockShape::Table { columns, rows } => {
                    let header: Vec<String> = (0..*columns)
                        .map(|column| format!("s{section}h{column}"))
                        .collect();
                    markdown.push_str(&format!("| {} |\n", header.join(" | ")));
                    markdown.push_str(&format!("|{}\n", "---|".repeat(*columns)));
                    for _ in 0..*rows {
                        let row: Vec<String> =
                            (0..*columns).map(|_| next_word(&mut words)).collect();
                        markdown.push_str(&format!("| {} |\n", row.join(" | ")));
                    }
                    markdown.push('\n');
                }
            }
        }
        words_by_section.push(words);
    }
    Generated {
        markdown,
        words_by_section,
        heading_paths,
    }
}

/// Generated words in a chunk's text, as (section, is a body word, word).
fn generated_words(text: &str) -> Vec<(usize, bool, &str)> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter_map(|word| {
            let rest = word.strip_prefix('s')?;
            let split = rest.find(['w', 'h'])?;
            let section = rest[..split].parse().ok()?;
            let number = &rest[split + 1..];
            (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then_some((
                section,
                rest.as_bytes()[split] == b'w',
                word,
            ))
        })
        .collect()
}

fn section_of(chunk: &Chunk) -> Option<usize> {
    let sections: BTreeSet<usize> = generated_words(&chunk.text)
        .iter()
        .map(|(section, _, _)| *section)
        .collect();
    assert!(
        sections.len() <= 1,
        "chunk {} mixes sections {sections:?}:\n{}",
        chunk.position,
        chunk.text
    );
    sections.into_iter().next()
}

/// An over-budget chunk is one code block or one table header with one row.
fn is_single_unsplittable_unit(text: &str) -> bool {
    let single_code_block =
        text.starts_with("```") && text.ends_with("```") && text.matches("```").count() == 2;
    let lines: Vec<&str> = text.lines().collect();
    let single_table_row = lines.len() <= 2 && lines.iter().all(|line| line.starts_with('|'));
    single_code_block || single_table_row
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn chunking_generated_markdown_loses_nothing_and_keeps_sections_apart(
        shapes in article_shape(),
        max_tokens in 40usize..200,
        overlap_tokens in 0usize..30,
    ) {
        let generated = generate(&shapes);
        let config = ChunkerConfig { max_tokens, overlap_tokens };
        let source = article(ArticleFormat::Markdown, TITLE, &generated.markdown);

        let chunks = chunk_article(&WorkspaceId::default(), &source, &config);

        let overlap_allowance = overlap_tokens.min(max_tokens / 2);
        let mut chunk_count_by_section: BTreeMap<usize, usize> = BTreeMap::new();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut previous: Option<(usize, Vec<&str>)> = None;
        for (position, chunk) in chunks.iter().enumerate() {
            prop_assert_eq!(chunk.position as usize, position);
            let section = section_of(chunk);
            prop_assert!(section.is_some(), "chunk {} has no generated words:\n{}", position, chunk.text);
            let section = section.unwrap_or_default();
            prop_assert_eq!(&chunk.heading_path, &generated.heading_paths[section], "chunk text:\n{}", chunk.text);
            *chunk_count_by_section.entry(section).or_default() += 1;
            prop_assert!(
                chunk.token_count as usize <= max_tokens || is_single_unsplittable_unit(&chunk.text),
                "chunk {} has {} tokens (max {}):\n{}", position, chunk.token_count, max_tokens, chunk.text
            );

            // Nothing duplicated beyond the overlap: the words this chunk repeats are its first
            // words, they are the tail of the previous chunk of the same section, and they fit
            // the overlap budget.
            let body_words: Vec<&str> = generated_words(&chunk.text)
                .into_iter()
                .filter_map(|(_, is_body_word, word)| is_body_word.then_some(word))
                .collect();
            let repeated = body_words.iter().filter(|word| seen.contains(*word)).count();
            let overlap = &body_words[..repeated];
            prop_assert!(overlap.iter().all(|word| seen.contains(word)), "repeated words are not a prefix:\n{}", chunk.text);
            if repeated > 0 {
                let Some((previous_section, previous_words)) = &previous else {
                    return Err(TestCaseError::fail("the first chunk cannot repeat anything"));
                };
                prop_assert_eq!(*previous_section, section, "overlap crosses sections:\n{}", chunk.text);
                prop_assert!(previous_words.ends_with(overlap), "overlap is not the previous chunk's tail:\n{}", chunk.text);
                prop_assert!(
                    count_tokens(&overlap.join(" ")) <= overlap_allowance,
                    "overlap {:?} is over {} tokens", overlap, overlap_allowance
                );
            }
            seen.extend(body_words.iter().copied());
            previous = Some((section, body_words));
        }

        // Nothing lost: every body word is in some chunk (of its own section, checked above).
        for word in generated.words_by_section.iter().flatten() {
            prop_assert!(seen.contains(word.as_str()), "{} is missing\n{}", word, generated.markdown);
        }
        // Sections with body words have chunks; sections without have none.
        for (section, words) in generated.words_by_section.iter().enumerate() {
            prop_assert_eq!(chunk_count_by_section.contains_key(&section), !words.is_empty());
        }
    }
}
