//! Markdown articles with optional YAML front matter.

use std::path::Path;

use fathom_core::{Article, ArticleFormat};
use serde::Deserialize;

use super::{
    article_id_from_path, file_stem, parse_article_id, without_positions, SourceErrorReason,
};
use crate::chunk::first_heading_text;

#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "front matter to be a mapping of fields such as `id` and `title`")]
struct FrontMatter {
    id: Option<Scalar>,
    title: Option<Scalar>,
    url: Option<Scalar>,
    locale: Option<Scalar>,
    tags: Option<Tags>,
    updated_at: Option<Scalar>,
}

/// A YAML scalar read as text: `id: 42` and `updated_at: 2024-05-01` are fine.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "expected a string, number or boolean")]
enum Scalar {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Self::Text(text) => text,
            Self::Integer(number) => number.to_string(),
            Self::Float(number) => number.to_string(),
            Self::Boolean(value) => value.to_string(),
        }
    }
}

/// `tags: [billing, refunds]` or `tags: billing, refunds`.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "expected `tags` to be a list or a comma-separated string"
)]
enum Tags {
    Many(Vec<Scalar>),
    One(Scalar),
}

impl Tags {
    fn into_list(self) -> Vec<String> {
        let tags = match self {
            Self::Many(tags) => tags.into_iter().map(Scalar::into_text).collect(),
            Self::One(tags) => tags
                .into_text()
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>(),
        };
        tags.into_iter()
            .map(|tag| tag.trim().to_string())
            .filter(|tag| !tag.is_empty())
            .collect()
    }
}

pub(super) fn parse(relative_path: &Path, text: &str) -> Result<Article, SourceErrorReason> {
    let (front_matter, body) = split_front_matter(text)?;
    let non_blank = |scalar: Option<Scalar>| {
        scalar
            .map(|scalar| scalar.into_text().trim().to_string())
            .filter(|text| !text.is_empty())
    };
    let id = match front_matter.id {
        Some(id) => parse_article_id(&id.into_text(), None)?,
        None => article_id_from_path(relative_path)?,
    };
    let title = non_blank(front_matter.title)
        .or_else(|| first_heading_text(body))
        .unwrap_or_else(|| file_stem(relative_path));
    Ok(Article {
        id,
        title,
        url: non_blank(front_matter.url),
        locale: non_blank(front_matter.locale),
        tags: front_matter.tags.map(Tags::into_list).unwrap_or_default(),
        updated_at: non_blank(front_matter.updated_at),
        format: ArticleFormat::Markdown,
        body: body.to_string(),
        source_path: relative_path.to_path_buf(),
    })
}

/// Splits `---\n<yaml>\n---\n<body>` into parsed front matter and body. A file that does not
/// start with a `---` line has no front matter. The closing line may also be `...`.
fn split_front_matter(text: &str) -> Result<(FrontMatter, &str), SourceErrorReason> {
    let mut lines = text.split_inclusive('\n');
    let Some(opening) = lines.next().filter(|line| line.trim_end() == "---") else {
        return Ok((FrontMatter::default(), text));
    };
    let yaml_start = opening.len();
    let mut offset = yaml_start;
    for line in lines {
        if matches!(line.trim_end(), "---" | "...") {
            let front_matter = parse_front_matter(&text[yaml_start..offset])?;
            return Ok((front_matter, &text[offset + line.len()..]));
        }
        offset += line.len();
    }
    Err(SourceErrorReason::MalformedFrontMatter {
        line: Some(1),
        message: "the opening `---` has no closing `---`".to_string(),
    })
}

fn parse_front_matter(yaml: &str) -> Result<FrontMatter, SourceErrorReason> {
    if yaml.trim().is_empty() {
        return Ok(FrontMatter::default());
    }
    serde_yaml::from_str(yaml).map_err(|error| {
        SourceErrorReason::MalformedFrontMatter {
            // The YAML starts on the file's second line, after the opening `---`.
            line: error.location().map(|location| location.line() + 1),
            message: without_positions(&error.to_string()),
        }
    })
}
