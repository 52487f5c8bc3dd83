//! Source files → articles. One file gives one article (Markdown, HTML) or many (a Zendesk or
//! Intercom help-center JSON export). Every failure names the file and says what is wrong.

mod help_center;
mod html;
mod markdown;

use std::fmt;
use std::path::{Component, Path, PathBuf};

use fathom_core::{Article, ArticleId, IdError};

/// Guards applied to a file's bytes before it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLimits {
    /// Files bigger than this are rejected unread. Default: 2 MiB.
    pub max_bytes: usize,
}

impl Default for SourceLimits {
    fn default() -> Self {
        Self {
            max_bytes: 2 * 1024 * 1024,
        }
    }
}

/// A source file that could not be turned into articles.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}: {reason}", path.display())]
pub struct SourceError {
    /// The file, relative to the ingested folder.
    pub path: PathBuf,
    pub reason: SourceErrorReason,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceErrorReason {
    #[error("unsupported file type: use .md, .markdown, .html, .htm or .json")]
    UnsupportedExtension,
    #[error("file is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("file is empty")]
    Empty,
    #[error("file looks binary: it has a NUL byte at byte offset {byte_offset}")]
    Binary { byte_offset: usize },
    #[error("file is not valid UTF-8: invalid byte sequence at byte offset {byte_offset}")]
    InvalidUtf8 { byte_offset: usize },
    #[error("front matter is malformed{}: {message}", AtLine(*line))]
    MalformedFrontMatter {
        /// 1-based line in the file, when known.
        line: Option<usize>,
        message: String,
    },
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    BadJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "unsupported JSON shape ({found}): expected a Zendesk Help Center export \
         {{\"articles\": [...]}} or an Intercom export {{\"data\": [...]}}"
    )]
    UnsupportedJsonShape { found: String },
    #[error("`{collection}[{index}]` is malformed: {message}")]
    MalformedEntry {
        /// The JSON array holding the entry: `articles` or `data`.
        collection: &'static str,
        /// 0-based position of the entry in that array.
        index: usize,
        message: String,
    },
    #[error("{source}{}", InEntry(entry.as_deref()))]
    InvalidArticleId {
        /// The JSON entry the id came from (`articles[3]`), for exports.
        entry: Option<String>,
        source: IdError,
    },
}

struct AtLine(Option<usize>);

impl fmt::Display for AtLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(line) => write!(f, " at line {line}"),
            None => Ok(()),
        }
    }
}

struct InEntry<'a>(Option<&'a str>);

impl fmt::Display for InEntry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(entry) => write!(f, " (in `{entry}`)"),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    Markdown,
    Html,
    HelpCenterJson,
}

impl SourceKind {
    fn of(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "md" | "markdown" => Some(Self::Markdown),
            "html" | "htm" => Some(Self::Html),
            "json" => Some(Self::HelpCenterJson),
            _ => None,
        }
    }
}

/// Whether `parse_source` understands this file, judging by its extension.
pub fn is_supported(path: &Path) -> bool {
    SourceKind::of(path).is_some()
}

/// Parses one source file into articles.
///
/// `relative_path` is the file's path relative to the ingested folder: it picks the parser
/// (by extension), and gives the article id and title when the file does not.
pub fn parse_source(
    relative_path: &Path,
    bytes: &[u8],
    limits: &SourceLimits,
) -> Result<Vec<Article>, SourceError> {
    let articles = decode_text(bytes, limits)
        .and_then(|text| {
            let kind =
                SourceKind::of(relative_path).ok_or(SourceErrorReason::UnsupportedExtension)?;
            match kind {
                SourceKind::Markdown => markdown::parse(relative_path, text).map(|a| vec![a]),
                SourceKind::Html => html::parse(relative_path, text).map(|a| vec![a]),
                SourceKind::HelpCenterJson => help_center::parse(relative_path, text),
            }
        })
        .map_err(|reason| SourceError {
            path: relative_path.to_path_buf(),
            reason,
        })?;
    tracing::debug!(
        path = %relative_path.display(),
        article_count = articles.len(),
        "parsed source"
    );
    Ok(articles)
}

/// Checks the size first (a huge file is never scanned), then emptiness, NUL bytes and UTF-8.
/// A leading byte-order mark is dropped.
fn decode_text<'b>(bytes: &'b [u8], limits: &SourceLimits) -> Result<&'b str, SourceErrorReason> {
    if bytes.len() > limits.max_bytes {
        return Err(SourceErrorReason::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    if bytes.is_empty() {
        return Err(SourceErrorReason::Empty);
    }
    if let Some(byte_offset) = bytes.iter().position(|&byte| byte == 0) {
        return Err(SourceErrorReason::Binary { byte_offset });
    }
    let text = std::str::from_utf8(bytes).map_err(|error| SourceErrorReason::InvalidUtf8 {
        byte_offset: error.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(SourceErrorReason::Empty);
    }
    Ok(text)
}

/// `troubleshooting/browser-support.md` → `troubleshooting/browser-support`, whatever the
/// platform's separator.
fn article_id_from_path(relative_path: &Path) -> Result<ArticleId, SourceErrorReason> {
    let mut parts: Vec<String> = relative_path
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .filter_map(|component| match component {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.push(file_stem(relative_path));
    parse_article_id(&parts.join("/"), None)
}

fn parse_article_id(raw: &str, entry: Option<String>) -> Result<ArticleId, SourceErrorReason> {
    ArticleId::parse(raw).map_err(|source| SourceErrorReason::InvalidArticleId { entry, source })
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// serde_json and serde_yaml put " at line L column C" in their messages, in coordinates of
/// the parsed text; the errors here report the position in file coordinates themselves, so
/// those mentions are dropped.
fn without_positions(message: &str) -> String {
    let mut cleaned = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(" at line ") {
        let after_line = &rest[start + " at line ".len()..];
        let after_line_number = after_line.trim_start_matches(|c: char| c.is_ascii_digit());
        let Some(after_column) = after_line_number.strip_prefix(" column ") else {
            cleaned.push_str(&rest[..start + " at line ".len()]);
            rest = after_line;
            continue;
        };
        cleaned.push_str(&rest[..start]);
        rest = after_column.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    cleaned.push_str(rest);
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_positions_are_removed_from_messages() {
        assert_eq!(
            without_positions("expected ',' at line 4 column 7, while parsing at line 3 column 1"),
            "expected ',', while parsing"
        );
        assert_eq!(without_positions("EOF at line 1 column 6"), "EOF");
        assert_eq!(
            without_positions("stop at line breaks"),
            "stop at line breaks"
        );
    }

    #[test]
    fn article_ids_from_paths_use_slashes_and_drop_the_extension() {
        let id = article_id_from_path(Path::new("./guides/billing/refunds.md"));
        assert_eq!(
            id.map(|id| id.to_string()),
            Ok("guides/billing/refunds".to_string())
        );
    }
}
