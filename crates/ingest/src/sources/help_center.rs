//! Help-center JSON exports: Zendesk Help Center (`{"articles": [...]}`) and Intercom
//! (`{"data": [...]}`, optionally with `"type": "list"`). Bodies are HTML.

use std::path::Path;

use fathom_core::{Article, ArticleFormat};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::{parse_article_id, without_positions, SourceErrorReason};

/// A JSON value read as text: ids and timestamps come as numbers or strings.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "expected a number or a string")]
enum Scalar {
    Number(serde_json::Number),
    Text(String),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Self::Number(number) => number.to_string(),
            Self::Text(text) => text,
        }
    }
}

#[derive(Debug, Deserialize)]
struct ZendeskArticle {
    id: Scalar,
    title: String,
    body: Option<String>,
    html_url: Option<String>,
    locale: Option<String>,
    updated_at: Option<Scalar>,
    draft: Option<bool>,
    label_names: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct IntercomArticle {
    id: Scalar,
    title: String,
    body: Option<String>,
    url: Option<String>,
    default_locale: Option<String>,
    locale: Option<String>,
    updated_at: Option<Scalar>,
    /// `published` or `draft`.
    state: Option<String>,
}

pub(super) fn parse(relative_path: &Path, text: &str) -> Result<Vec<Article>, SourceErrorReason> {
    let export: Value = serde_json::from_str(text).map_err(|error| SourceErrorReason::BadJson {
        line: error.line(),
        column: error.column(),
        message: without_positions(&error.to_string()),
    })?;
    if let Some(entries) = export.get("articles").and_then(Value::as_array) {
        return parse_entries(relative_path, "articles", entries, zendesk_article);
    }
    if let Some(entries) = export.get("data").and_then(Value::as_array) {
        return parse_entries(relative_path, "data", entries, intercom_article);
    }
    Err(SourceErrorReason::UnsupportedJsonShape {
        found: describe_shape(&export),
    })
}

/// The fields of an entry that make an article, whichever export it came from.
struct EntryFields {
    id: Scalar,
    title: String,
    body: Option<String>,
    url: Option<String>,
    locale: Option<String>,
    tags: Vec<String>,
    updated_at: Option<Scalar>,
}

/// `None` for a draft.
fn zendesk_article(entry: ZendeskArticle) -> Option<EntryFields> {
    if entry.draft == Some(true) {
        return None;
    }
    Some(EntryFields {
        id: entry.id,
        title: entry.title,
        body: entry.body,
        url: entry.html_url,
        locale: entry.locale,
        tags: entry.label_names.unwrap_or_default(),
        updated_at: entry.updated_at,
    })
}

/// `None` for a draft.
fn intercom_article(entry: IntercomArticle) -> Option<EntryFields> {
    if entry.state.as_deref() == Some("draft") {
        return None;
    }
    Some(EntryFields {
        id: entry.id,
        title: entry.title,
        body: entry.body,
        url: entry.url,
        locale: entry.default_locale.or(entry.locale),
        tags: Vec::new(),
        updated_at: entry.updated_at,
    })
}

/// Reads every entry; the first malformed one fails the whole file, naming its index.
fn parse_entries<E: DeserializeOwned>(
    relative_path: &Path,
    collection: &'static str,
    entries: &[Value],
    fields_of: fn(E) -> Option<EntryFields>,
) -> Result<Vec<Article>, SourceErrorReason> {
    let mut articles = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let malformed = |message: String| SourceErrorReason::MalformedEntry {
            collection,
            index,
            message,
        };
        let entry = E::deserialize(entry).map_err(|error| malformed(error.to_string()))?;
        let Some(fields) = fields_of(entry) else {
            continue;
        };
        let title = fields.title.trim().to_string();
        if title.is_empty() {
            return Err(malformed("`title` is empty".to_string()));
        }
        let entry_name = format!("{collection}[{index}]");
        let non_blank = |value: Option<String>| {
            value
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        articles.push(Article {
            id: parse_article_id(&fields.id.into_text(), Some(entry_name))?,
            title,
            url: non_blank(fields.url),
            locale: non_blank(fields.locale),
            tags: fields.tags,
            updated_at: non_blank(fields.updated_at.map(Scalar::into_text)),
            format: ArticleFormat::Html,
            body: fields.body.unwrap_or_default(),
            source_path: relative_path.to_path_buf(),
        });
    }
    Ok(articles)
}

/// "an object with keys `items`, `meta`", "an array", …
fn describe_shape(value: &Value) -> String {
    match value {
        Value::Object(map) if map.is_empty() => "an empty object".to_string(),
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().take(5).map(|key| format!("`{key}`")).collect();
            let more = if map.len() > 5 { ", …" } else { "" };
            format!("an object with keys {}{more}", keys.join(", "))
        }
        Value::Array(_) => "an array".to_string(),
        Value::String(_) => "a string".to_string(),
        Value::Number(_) => "a number".to_string(),
        Value::Bool(_) => "a boolean".to_string(),
        Value::Null => "null".to_string(),
    }
}
