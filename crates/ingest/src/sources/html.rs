//! Single HTML pages: metadata from the head, body from `<article>`, `<main>` or `<body>`.

use std::path::Path;

use fathom_core::{Article, ArticleFormat};
use scraper::{Html, Selector};

use super::{article_id_from_path, file_stem, parse_article_id, SourceErrorReason};
use crate::chunk::collapse_whitespace;

pub(super) fn parse(relative_path: &Path, text: &str) -> Result<Article, SourceErrorReason> {
    let document = Html::parse_document(text);
    let id = match attribute(&document, r#"meta[name="article-id"]"#, "content") {
        Some(id) => parse_article_id(&id, None)?,
        None => article_id_from_path(relative_path)?,
    };
    let title = element_text(&document, "title")
        .or_else(|| element_text(&document, "h1"))
        .unwrap_or_else(|| file_stem(relative_path));
    let locale = attribute(&document, r#"meta[name="locale"]"#, "content")
        .or_else(|| attribute(&document, "html[lang]", "lang"));
    let body = ["article", "main", "body"]
        .into_iter()
        .find_map(|css| document.select(&selector(css)).next())
        .map(|element| element.html())
        .unwrap_or_default();
    Ok(Article {
        id,
        title,
        url: attribute(&document, r#"link[rel~="canonical"]"#, "href"),
        locale,
        tags: Vec::new(),
        updated_at: None,
        format: ArticleFormat::Html,
        body,
        source_path: relative_path.to_path_buf(),
    })
}

fn selector(css: &'static str) -> Selector {
    Selector::parse(css).expect("selectors written in this file are valid CSS")
}

/// The trimmed, non-empty value of `name` on the first element matching `css`.
fn attribute(document: &Html, css: &'static str, name: &str) -> Option<String> {
    document
        .select(&selector(css))
        .next()
        .and_then(|element| element.attr(name))
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}

/// The text of the first element matching `css`, whitespace collapsed, if not blank.
fn element_text(document: &Html, css: &'static str) -> Option<String> {
    let element = document.select(&selector(css)).next()?;
    let text = collapse_whitespace(&element.text().collect::<String>());
    (!text.is_empty()).then_some(text)
}
