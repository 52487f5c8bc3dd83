use std::path::{Path, PathBuf};

use fathom_core::{Article, ArticleFormat, ArticleId};
use fathom_ingest::{parse_source, SourceError, SourceErrorReason, SourceLimits};

pub fn parse_one(path: &str, text: &str) -> Article {
    let mut articles = parse_source(Path::new(path), text.as_bytes(), &SourceLimits::default())
        .unwrap_or_else(|error| panic!("{path} should parse: {error}"));
    assert_eq!(articles.len(), 1, "{path} should give one article");
    articles.remove(0)
}

pub fn parse_all(path: &str, text: &str) -> Vec<Article> {
    parse_source(Path::new(path), text.as_bytes(), &SourceLimits::default())
        .unwrap_or_else(|error| panic!("{path} should parse: {error}"))
}

pub fn parse_error(path: &str, bytes: &[u8]) -> SourceError {
    match parse_source(Path::new(path), bytes, &SourceLimits::default()) {
        Ok(articles) => panic!("{path} should fail, got {articles:?}"),
        Err(error) => error,
    }
}

pub fn reason(path: &str, bytes: &[u8]) -> SourceErrorReason {
    parse_error(path, bytes).reason
}

pub fn article(format: ArticleFormat, title: &str, body: &str) -> Article {
    Article {
        id: ArticleId::parse("test-article").expect("valid id"),
        title: title.to_string(),
        url: Some("https://help.example.com/test-article".to_string()),
        locale: Some("en".to_string()),
        tags: Vec::new(),
        updated_at: None,
        format,
        body: body.to_string(),
        source_path: PathBuf::from("test-article.md"),
    }
}
