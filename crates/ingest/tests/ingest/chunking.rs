use fathom_core::{ArticleFormat, ChunkId, WorkspaceId};
use fathom_ingest::{chunk_article, count_tokens, ChunkerConfig};

use crate::helpers::article;

fn chunks_of(
    format: ArticleFormat,
    title: &str,
    body: &str,
    config: ChunkerConfig,
) -> Vec<fathom_core::Chunk> {
    chunk_article(
        &WorkspaceId::default(),
        &article(format, title, body),
        &config,
    )
}

fn markdown_chunks(body: &str) -> Vec<fathom_core::Chunk> {
    chunks_of(
        ArticleFormat::Markdown,
        "Billing",
        body,
        ChunkerConfig::default(),
    )
}

fn texts(chunks: &[fathom_core::Chunk]) -> Vec<&str> {
    chunks.iter().map(|chunk| chunk.text.as_str()).collect()
}

#[test]
fn the_default_config_is_350_tokens_with_40_of_overlap() {
    assert_eq!(
        ChunkerConfig::default(),
        ChunkerConfig {
            max_tokens: 350,
            overlap_tokens: 40
        }
    );
}

#[test]
fn token_counts_use_cl100k() {
    assert_eq!(count_tokens(""), 0);
    assert_eq!(count_tokens("hello world"), 2);
    assert_eq!(
        count_tokens("<|endoftext|>"),
        7,
        "special tokens count as plain text"
    );
}

#[test]
fn heading_paths_follow_the_heading_chain_from_the_h1() {
    let body = "# Billing\n\nIntro.\n\n## Refunds\n\nRefund text.\n\n### Annual plans\n\nAnnual text.\n\n## Invoices\n\nInvoice text.\n";

    let chunks = chunks_of(
        ArticleFormat::Markdown,
        "Billing FAQ",
        body,
        ChunkerConfig::default(),
    );

    let paths: Vec<Vec<&str>> = chunks
        .iter()
        .map(|chunk| chunk.heading_path.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        paths,
        vec![
            vec!["Billing"],
            vec!["Billing", "Refunds"],
            vec!["Billing", "Refunds", "Annual plans"],
            vec!["Billing", "Invoices"],
        ]
    );
    assert_eq!(
        texts(&chunks),
        vec!["Intro.", "Refund text.", "Annual text.", "Invoice text."]
    );
}

#[test]
fn without_an_h1_the_article_title_is_the_root_of_every_heading_path() {
    let body = "Before any heading.\n\n## Refunds\n\nText.\n\n#### Deep\n\nDeeper.\n";

    let chunks = markdown_chunks(body);

    let paths: Vec<Vec<String>> = chunks
        .iter()
        .map(|chunk| chunk.heading_path.clone())
        .collect();
    assert_eq!(
        paths,
        vec![
            vec!["Billing"],
            vec!["Billing", "Refunds"],
            vec!["Billing", "Refunds", "Deep"]
        ]
    );
}

#[test]
fn sections_with_only_a_heading_and_empty_articles_give_no_chunks() {
    assert!(markdown_chunks("").is_empty());
    assert!(markdown_chunks("# Title\n\n## Empty\n\n### Also empty\n").is_empty());

    let chunks = markdown_chunks("# Title\n\n## Empty\n\n## Full\n\nText.\n");
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].heading_path, vec!["Title", "Full"]);
}

#[test]
fn inline_markup_is_reduced_to_readable_text() {
    let body =
        "Use **bold**, _emphasis_, ~~old~~ and `code`, see [the guide](https://example.com/guide) \
                or <kbd>Ctrl</kbd>+<kbd>C</kbd>. ![screenshot](shot.png)\nSecond line.";

    let chunks = markdown_chunks(body);

    assert_eq!(
        texts(&chunks),
        vec!["Use bold, emphasis, old and code, see the guide or Ctrl+C. Second line."]
    );
}

#[test]
fn list_items_keep_their_markers_and_nesting() {
    let body = "Steps:\n\n1. Open settings\n2. Choose a plan\n   - Monthly\n   - Annual\n     - [x] Discounted\n3. Pay\n\n- Loose item\n\n  with a second paragraph\n";

    let chunks = markdown_chunks(body);

    assert_eq!(
        texts(&chunks),
        vec![
            "Steps:\n\n1. Open settings\n2. Choose a plan\n  - Monthly\n  - Annual\n    - [x] Discounted\n3. Pay\n- Loose item\n  with a second paragraph"
        ]
    );
}

#[test]
fn code_blocks_keep_their_fences_and_language_and_blockquotes_their_marks() {
    let body = "Run:\n\n```bash\ncurl -X POST https://api.example.com\n```\n\n> Note: this is **important**.\n\n    indented code\n";

    let chunks = markdown_chunks(body);

    assert_eq!(
        texts(&chunks),
        vec!["Run:\n\n```bash\ncurl -X POST https://api.example.com\n```\n\n> Note: this is important.\n\n```\nindented code\n```"]
    );
}

#[test]
fn markdown_tables_are_rendered_as_rows_with_the_header_first() {
    let body = "| Plan | Price |\n|------|------:|\n| Basic | $10 |\n| Pro | $20 |\n";

    let chunks = markdown_chunks(body);

    assert_eq!(
        texts(&chunks),
        vec!["| Plan | Price |\n| Basic | $10 |\n| Pro | $20 |"]
    );
}

#[test]
fn raw_html_blocks_in_markdown_contribute_their_text() {
    let body = "<div class=\"note\">\n<p>Heads up: <b>backups</b> run nightly.</p>\n<script>alert(1)</script>\n</div>\n\nAfter.\n";

    let chunks = markdown_chunks(body);

    assert_eq!(
        texts(&chunks),
        vec!["Heads up: backups run nightly.\n\nAfter."]
    );
}

#[test]
fn html_chrome_is_dropped_while_headings_lists_tables_and_code_are_kept() {
    let body = r#"<body>
<header><a href="/">Acme Help</a></header>
<nav><ul><li>Home</li><li>Billing</li></ul></nav>
<script>var tracking = "secret";</script>
<style>p { color: red }</style>
<noscript>Enable JavaScript</noscript>
<main>
  <h1>Billing</h1>
  <p>Plans are billed   monthly.<br>Cancel anytime.</p>
  <aside>Related articles</aside>
  <form><input name="q"><button>Search</button></form>
  <iframe src="https://ads.example.com"></iframe>
  <h2>Prices</h2>
  <table>
    <caption>Current prices</caption>
    <thead><tr><th>Plan</th><th>Price</th></tr></thead>
    <tbody><tr><td>Basic</td><td>$10</td></tr><tr><td>Pro</td><td><p>$20</p></td></tr></tbody>
  </table>
  <h3>Via the API</h3>
  <pre><code class="language-bash">curl https://api.example.com/prices
  | jq .</code></pre>
  <ol start="3"><li>Third step<ul><li>Nested</li></ul></li><li>Fourth step</li></ol>
  <div hidden>Hidden text</div>
</main>
<footer>© Acme</footer>
</body>"#;

    let chunks = chunks_of(
        ArticleFormat::Html,
        "Billing",
        body,
        ChunkerConfig::default(),
    );

    let sections: Vec<(Vec<String>, &str)> = chunks
        .iter()
        .map(|chunk| (chunk.heading_path.clone(), chunk.text.as_str()))
        .collect();
    assert_eq!(
        sections,
        vec![
            (vec!["Billing".to_string()], "Plans are billed monthly. Cancel anytime."),
            (
                vec!["Billing".to_string(), "Prices".to_string()],
                "Current prices\n\n| Plan | Price |\n| Basic | $10 |\n| Pro | $20 |"
            ),
            (
                vec!["Billing".to_string(), "Prices".to_string(), "Via the API".to_string()],
                "```bash\ncurl https://api.example.com/prices\n  | jq .\n```\n\n3. Third step\n  - Nested\n4. Fourth step"
            ),
        ]
    );
    let all_text: String = texts(&chunks).join("\n");
    for dropped in [
        "Acme Help",
        "Home",
        "tracking",
        "color",
        "JavaScript",
        "Related",
        "Search",
        "Hidden",
        "©",
    ] {
        assert!(
            !all_text.contains(dropped),
            "{dropped:?} should be dropped:\n{all_text}"
        );
    }
}

#[test]
fn a_long_paragraph_is_split_at_sentences_with_overlap_between_chunks() {
    let sentences: Vec<String> = (0..40)
        .map(|index| {
            format!("Sentence number {index} explains one more detail of the refund policy.")
        })
        .collect();
    let body = sentences.join(" ");
    let config = ChunkerConfig {
        max_tokens: 60,
        overlap_tokens: 15,
    };

    let chunks = chunks_of(ArticleFormat::Markdown, "Refunds", &body, config);

    assert!(chunks.len() > 5, "{} chunks", chunks.len());
    for chunk in &chunks {
        assert!(
            chunk.token_count as usize <= 60,
            "{} tokens: {}",
            chunk.token_count,
            chunk.text
        );
        assert!(
            chunk.text.starts_with("Sentence number") && chunk.text.ends_with("policy."),
            "{}",
            chunk.text
        );
    }
    for pair in chunks.windows(2) {
        let last_sentence_of_previous = pair[0].text.rsplit(" Sentence").next().unwrap_or_default();
        assert!(
            pair[1].text.contains(last_sentence_of_previous),
            "chunk {} should start with the tail of chunk {}",
            pair[1].position,
            pair[0].position
        );
    }
}

#[test]
fn paragraphs_that_fit_move_whole_to_the_next_chunk() {
    let paragraph = |index: usize| {
        format!("Paragraph {index} has a handful of words that describe the product.")
    };
    let body: Vec<String> = (0..6).map(paragraph).collect();
    let config = ChunkerConfig {
        max_tokens: 40,
        overlap_tokens: 0,
    };

    let chunks = chunks_of(ArticleFormat::Markdown, "T", &body.join("\n\n"), config);

    for chunk in &chunks {
        for part in chunk.text.split("\n\n") {
            assert!(
                body.iter().any(|paragraph| paragraph == part),
                "{part:?} is not a whole paragraph"
            );
        }
    }
    assert_eq!(
        texts(&chunks).join("\n\n"),
        body.join("\n\n"),
        "no overlap was asked for"
    );
}

#[test]
fn an_over_long_list_item_keeps_its_marker_with_its_first_sentence() {
    let words = "word ".repeat(30);
    let body = format!("1. First sentence has {words}in it. Second sentence too.\n");
    let config = ChunkerConfig {
        max_tokens: 40,
        overlap_tokens: 0,
    };

    let chunks = chunks_of(ArticleFormat::Markdown, "T", &body, config);

    assert_eq!(
        texts(&chunks),
        vec![
            format!("1. First sentence has {words}in it."),
            "Second sentence too.".to_string()
        ]
    );
}

#[test]
fn a_code_block_is_never_cut_even_over_the_budget() {
    let code: Vec<String> = (0..60)
        .map(|line| format!("echo \"step {line} of the migration\""))
        .collect();
    let body = format!(
        "Before the code.\n\n```sh\n{}\n```\n\nAfter the code.\n",
        code.join("\n")
    );
    let config = ChunkerConfig {
        max_tokens: 50,
        overlap_tokens: 10,
    };

    let chunks = chunks_of(ArticleFormat::Markdown, "Migrate", &body, config);

    let expected_block = format!("```sh\n{}\n```", code.join("\n"));
    assert_eq!(
        texts(&chunks),
        vec![
            "Before the code.",
            expected_block.as_str(),
            "After the code."
        ]
    );
    assert!(chunks[1].token_count > 50);
}

#[test]
fn a_big_table_is_split_between_rows_with_the_header_repeated() {
    let rows: Vec<String> = (0..30)
        .map(|row| format!("| Plan {row} | {row}0 dollars per month | includes {row} seats |"))
        .collect();
    let body = format!(
        "| Plan | Price | Seats |\n|---|---|---|\n{}\n",
        rows.join("\n")
    );
    let config = ChunkerConfig {
        max_tokens: 80,
        overlap_tokens: 0,
    };

    let chunks = chunks_of(ArticleFormat::Markdown, "Prices", &body, config);

    assert!(chunks.len() > 2, "{} chunks", chunks.len());
    let mut seen_rows = Vec::new();
    for chunk in &chunks {
        assert!(chunk.token_count <= 80, "{}", chunk.text);
        let mut lines = chunk.text.lines();
        assert_eq!(
            lines.next(),
            Some("| Plan | Price | Seats |"),
            "every part starts with the header"
        );
        seen_rows.extend(lines.map(str::to_string));
    }
    assert_eq!(seen_rows, rows, "every row appears once, whole, in order");
}

#[test]
fn a_table_row_over_the_budget_gets_a_chunk_of_its_own() {
    let long_cell = "word ".repeat(80);
    let body =
        format!("| A | B |\n|---|---|\n| short | row |\n| {long_cell} | x |\n| another | row |\n");
    let config = ChunkerConfig {
        max_tokens: 40,
        overlap_tokens: 0,
    };

    let chunks = chunks_of(ArticleFormat::Markdown, "T", &body, config);

    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[1].text.lines().count(), 2, "header and the long row");
    assert!(chunks[1].token_count > 40);
}

#[test]
fn chunks_carry_ids_positions_counts_hashes_and_article_metadata() {
    let workspace = WorkspaceId::parse("acme").expect("valid workspace");
    let source = article(
        ArticleFormat::Markdown,
        "Billing",
        "# Billing\n\nOne.\n\n## Two\n\nTwo.\n",
    );

    let chunks = chunk_article(&workspace, &source, &ChunkerConfig::default());

    assert_eq!(chunks.len(), 2);
    for (index, chunk) in chunks.iter().enumerate() {
        let position = index as u32;
        assert_eq!(chunk.position, position);
        assert_eq!(chunk.id, ChunkId::derive(&workspace, &source.id, position));
        assert_eq!(chunk.workspace, workspace);
        assert_eq!(chunk.article_id, source.id);
        assert_eq!(chunk.title, "Billing");
        assert_eq!(chunk.url, source.url);
        assert_eq!(chunk.locale, source.locale);
        assert_eq!(chunk.token_count as usize, count_tokens(&chunk.text));
        assert_eq!(
            chunk.content_hash,
            blake3::hash(chunk.text.as_bytes()).to_hex().to_string()
        );
    }
    assert_eq!(
        chunk_article(&workspace, &source, &ChunkerConfig::default()),
        chunks,
        "chunking is deterministic"
    );
}

#[test]
fn a_giant_word_is_cut_to_fit_the_budget() {
    let blob = "Zm9vYmFy".repeat(200);
    let config = ChunkerConfig {
        max_tokens: 30,
        overlap_tokens: 5,
    };

    let chunks = chunks_of(ArticleFormat::Markdown, "T", &blob, config);

    assert!(chunks.len() > 1);
    assert!(chunks.iter().all(|chunk| chunk.token_count <= 30));
    let rejoined: String = texts(&chunks).concat().split_whitespace().collect();
    assert!(rejoined.contains(&blob[..100]));
}
