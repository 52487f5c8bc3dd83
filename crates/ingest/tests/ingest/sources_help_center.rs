use fathom_core::ArticleFormat;
use fathom_ingest::SourceErrorReason;

use crate::helpers::{parse_all, parse_error, reason};

#[test]
fn a_zendesk_export_gives_one_article_per_published_entry() {
    let text = r#"{
  "articles": [
    {"id": 360001, "title": "Refunds", "body": "<p>We refund.</p>",
     "html_url": "https://acme.zendesk.com/hc/en-us/articles/360001", "locale": "en-us",
     "updated_at": "2024-05-01T10:00:00Z", "draft": false, "label_names": ["billing", "refunds"]},
    {"id": 360002, "title": "Unfinished", "body": "<p>WIP</p>", "draft": true},
    {"id": "custom-3", "title": "No body", "body": null}
  ],
  "next_page": null
}"#;

    let articles = parse_all("exports/zendesk.json", text);

    assert_eq!(articles.len(), 2, "the draft is skipped");
    let refunds = &articles[0];
    assert_eq!(refunds.id.as_str(), "360001");
    assert_eq!(refunds.title, "Refunds");
    assert_eq!(refunds.body, "<p>We refund.</p>");
    assert_eq!(refunds.format, ArticleFormat::Html);
    assert_eq!(
        refunds.url.as_deref(),
        Some("https://acme.zendesk.com/hc/en-us/articles/360001")
    );
    assert_eq!(refunds.locale.as_deref(), Some("en-us"));
    assert_eq!(refunds.tags, vec!["billing", "refunds"]);
    assert_eq!(refunds.updated_at.as_deref(), Some("2024-05-01T10:00:00Z"));
    assert_eq!(refunds.source_path.to_str(), Some("exports/zendesk.json"));
    assert_eq!(articles[1].id.as_str(), "custom-3");
    assert_eq!(articles[1].body, "");
}

#[test]
fn an_intercom_export_gives_one_article_per_entry() {
    let text = r#"{"type": "list", "data": [
      {"type": "article", "id": "8", "title": "Invite teammates", "body": "<p>Go to Settings.</p>",
       "url": "https://intercom.help/acme/en/articles/8", "default_locale": "en",
       "updated_at": 1714557600, "state": "published"},
      {"id": 9, "title": "Draft", "body": "<p>x</p>", "state": "draft"}
    ]}"#;

    let articles = parse_all("intercom.json", text);

    assert_eq!(articles.len(), 1, "the draft is skipped");
    let article = &articles[0];
    assert_eq!(article.id.as_str(), "8");
    assert_eq!(article.title, "Invite teammates");
    assert_eq!(
        article.url.as_deref(),
        Some("https://intercom.help/acme/en/articles/8")
    );
    assert_eq!(article.locale.as_deref(), Some("en"));
    assert!(article.tags.is_empty());
    assert_eq!(article.updated_at.as_deref(), Some("1714557600"));
    assert_eq!(article.format, ArticleFormat::Html);
}

#[test]
fn an_intercom_export_without_type_is_accepted_and_reads_locale() {
    let articles = parse_all(
        "i.json",
        r#"{"data": [{"id": 1, "title": "A", "body": "", "locale": "de"}]}"#,
    );

    assert_eq!(articles[0].locale.as_deref(), Some("de"));
}

#[test]
fn an_entry_without_title_fails_the_file_naming_its_index() {
    let text = r#"{"articles": [{"id": 1, "title": "Fine"}, {"id": 2, "body": "<p>x</p>"}]}"#;

    let error = parse_error("zendesk.json", text.as_bytes());

    assert_eq!(
        error.reason,
        SourceErrorReason::MalformedEntry {
            collection: "articles",
            index: 1,
            message: "missing field `title`".to_string()
        }
    );
    assert_eq!(
        error.to_string(),
        "zendesk.json: `articles[1]` is malformed: missing field `title`"
    );
}

#[test]
fn an_entry_without_id_fails_the_file_naming_its_index() {
    let reason = reason("intercom.json", br#"{"data": [{"title": "No id"}]}"#);

    assert!(
        matches!(&reason, SourceErrorReason::MalformedEntry { collection: "data", index: 0, message } if message.contains("`id`")),
        "{reason:?}"
    );
}

#[test]
fn an_entry_with_a_blank_id_is_an_invalid_article_id_naming_the_entry() {
    let error = parse_error(
        "z.json",
        br#"{"articles": [{"id": " ", "title": "Blank id"}]}"#,
    );

    assert!(
        matches!(&error.reason, SourceErrorReason::InvalidArticleId { entry: Some(entry), .. } if entry == "articles[0]"),
        "{:?}",
        error.reason
    );
    assert!(error.to_string().contains("(in `articles[0]`)"), "{error}");
}

#[test]
fn invalid_json_reports_line_and_column() {
    let reason = reason(
        "broken.json",
        b"{\n  \"articles\": [\n    {\"id\": 1,,}\n  ]\n}",
    );

    assert!(
        matches!(reason, SourceErrorReason::BadJson { line: 3, column: 14, ref message } if message == "key must be a string"),
        "{reason:?}"
    );
}

#[test]
fn json_of_another_shape_is_rejected_naming_the_supported_shapes() {
    let error = parse_error("other.json", br#"{"items": [], "meta": {}}"#);

    assert_eq!(
        error.reason,
        SourceErrorReason::UnsupportedJsonShape {
            found: "an object with keys `items`, `meta`".to_string()
        }
    );
    let message = error.to_string();
    assert!(
        message.contains("Zendesk") && message.contains("Intercom"),
        "{message}"
    );

    let reason = reason("array.json", b"[1, 2]");
    assert!(
        matches!(reason, SourceErrorReason::UnsupportedJsonShape { found } if found == "an array")
    );
}
