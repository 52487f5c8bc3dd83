use fathom_core::ArticleFormat;
use fathom_ingest::SourceErrorReason;

use crate::helpers::{parse_one, reason};

#[test]
fn front_matter_fields_become_the_article_metadata() {
    let text = "---\n\
                id: refund-policy\n\
                title: Refund policy\n\
                url: https://help.example.com/refunds\n\
                locale: en-GB\n\
                tags: [billing, refunds]\n\
                updated_at: 2024-05-01T10:00:00Z\n\
                ---\n\
                # Refunds\n\nWe refund annual plans.\n";

    let article = parse_one("billing/refunds.md", text);

    assert_eq!(article.id.as_str(), "refund-policy");
    assert_eq!(article.title, "Refund policy");
    assert_eq!(
        article.url.as_deref(),
        Some("https://help.example.com/refunds")
    );
    assert_eq!(article.locale.as_deref(), Some("en-GB"));
    assert_eq!(article.tags, vec!["billing", "refunds"]);
    assert_eq!(article.updated_at.as_deref(), Some("2024-05-01T10:00:00Z"));
    assert_eq!(article.format, ArticleFormat::Markdown);
    assert_eq!(article.body, "# Refunds\n\nWe refund annual plans.\n");
    assert_eq!(article.source_path.to_str(), Some("billing/refunds.md"));
}

#[test]
fn tags_given_as_one_string_are_split_on_commas() {
    let article = parse_one("a.md", "---\ntags: billing, refunds\n---\nBody.\n");
    assert_eq!(article.tags, vec!["billing", "refunds"]);

    let article = parse_one("a.md", "---\ntags: billing\n---\nBody.\n");
    assert_eq!(article.tags, vec!["billing"]);
}

#[test]
fn numeric_ids_and_unquoted_dates_are_read_as_text() {
    let article = parse_one(
        "a.md",
        "---\nid: 360012345\nupdated_at: 2024-05-01\n---\nBody.\n",
    );

    assert_eq!(article.id.as_str(), "360012345");
    assert_eq!(article.updated_at.as_deref(), Some("2024-05-01"));
}

#[test]
fn without_front_matter_the_id_comes_from_the_path_and_the_title_from_the_first_heading() {
    let text = "Intro text.\n\n## Supported **browsers**\n\nChrome and Firefox.\n";

    let article = parse_one("troubleshooting/browser-support.md", text);

    assert_eq!(article.id.as_str(), "troubleshooting/browser-support");
    assert_eq!(article.title, "Supported browsers");
    assert_eq!(article.body, text);
    assert!(article.url.is_none() && article.locale.is_none() && article.tags.is_empty());
}

#[test]
fn front_matter_without_id_or_title_falls_back_to_path_and_heading() {
    let article = parse_one(
        "guides/setup.markdown",
        "---\nlocale: fr\n---\n# Installation\n\nTexte.\n",
    );

    assert_eq!(article.id.as_str(), "guides/setup");
    assert_eq!(article.title, "Installation");
    assert_eq!(article.locale.as_deref(), Some("fr"));
}

#[test]
fn without_any_heading_the_title_is_the_file_stem() {
    let article = parse_one("faq/reset-password.md", "Click *Forgot password*.\n");

    assert_eq!(article.title, "reset-password");
}

#[test]
fn a_byte_order_mark_and_windows_line_endings_are_accepted() {
    let text = "\u{feff}---\r\nid: bom\r\ntitle: With BOM\r\n---\r\nBody.\r\n";

    let article = parse_one("bom.md", text);

    assert_eq!(article.id.as_str(), "bom");
    assert_eq!(article.title, "With BOM");
    assert_eq!(article.body, "Body.\r\n");
}

#[test]
fn malformed_front_matter_error_names_the_file_line() {
    let text = "---\nid: refunds\ntitle: Refunds\ntags: [billing\nlocale: en\n---\nBody.\n";

    let error = crate::helpers::parse_error("refunds.md", text.as_bytes());

    let SourceErrorReason::MalformedFrontMatter { line, .. } = &error.reason else {
        panic!("expected malformed front matter, got {:?}", error.reason);
    };
    // The unclosed flow sequence opens on line 4 and is detected on the next line.
    assert!(matches!(line, Some(4..=6)), "line was {line:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("refunds.md: front matter is malformed at line "),
        "{message}"
    );
}

#[test]
fn front_matter_of_the_wrong_type_is_malformed() {
    let reason = reason("a.md", b"---\ntags: {billing: true}\n---\nBody.\n");

    assert!(
        matches!(
            reason,
            SourceErrorReason::MalformedFrontMatter { line: Some(2), .. }
        ),
        "{reason:?}"
    );
}

#[test]
fn unclosed_front_matter_is_malformed() {
    let reason = reason("a.md", b"---\nid: a\n\nBody without closing fence.\n");

    assert_eq!(
        reason,
        SourceErrorReason::MalformedFrontMatter {
            line: Some(1),
            message: "the opening `---` has no closing `---`".to_string()
        }
    );
}

#[test]
fn a_blank_front_matter_id_is_an_invalid_article_id() {
    let reason = reason("a.md", b"---\nid: \"  \"\n---\nBody.\n");

    assert!(
        matches!(
            reason,
            SourceErrorReason::InvalidArticleId { entry: None, .. }
        ),
        "{reason:?}"
    );
}
