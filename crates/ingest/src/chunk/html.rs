//! HTML → sections, with scraper (html5ever). Page chrome (navigation, headers, footers,
//! scripts, forms…) is dropped; headings, prose, lists, tables and `<pre>` code are kept.

use scraper::node::Element;
use scraper::{Html, Node};

use super::sections::{
    collapse_whitespace, Block, CodeInProgress, ListContext, Section, SectionBuilder,
};

/// Elements whose whole subtree is chrome or not text.
const SKIPPED_ELEMENTS: &[&str] = &[
    "nav", "header", "footer", "script", "style", "noscript", "aside", "form", "iframe", "head",
    "template", "svg", "canvas", "object", "embed", "select", "button",
];

/// Elements that end the current run of inline text.
const BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "body",
    "caption",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "hgroup",
    "hr",
    "html",
    "legend",
    "main",
    "p",
    "section",
    "summary",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
];

pub(crate) fn sections(title: &str, html: &str) -> Vec<Section> {
    let document = Html::parse_document(html);
    let mut builder = SectionBuilder::new(title);
    walk(&document, &mut builder);
    builder.finish()
}

/// Adds the blocks (and headings) of an HTML fragment, e.g. a raw HTML block inside Markdown.
pub(crate) fn push_fragment(builder: &mut SectionBuilder<'_>, html: &str) {
    let fragment = Html::parse_fragment(html);
    walk(&fragment, builder);
}

enum Visit {
    Open,
    Close,
}

/// Walks the tree depth-first with an explicit stack: deeply nested markup cannot overflow
/// the call stack.
fn walk(document: &Html, builder: &mut SectionBuilder<'_>) {
    let mut walker = Walker {
        builder,
        inline: String::new(),
        context: ListContext::default(),
        code: None,
        table: None,
    };
    let mut stack = vec![(document.tree.root(), Visit::Open)];
    while let Some((node, visit)) = stack.pop() {
        match (node.value(), visit) {
            (Node::Text(text), _) => walker.text(text),
            (Node::Element(element), Visit::Open) => {
                if is_skipped(element) {
                    continue;
                }
                walker.open(element);
                stack.push((node, Visit::Close));
                stack.extend(node.children().rev().map(|child| (child, Visit::Open)));
            }
            (Node::Element(element), Visit::Close) => walker.close(element),
            (Node::Document | Node::Fragment, _) => {
                stack.extend(node.children().rev().map(|child| (child, Visit::Open)));
            }
            (Node::Doctype(_) | Node::Comment(_) | Node::ProcessingInstruction(_), _) => {}
        }
    }
    walker.flush_prose();
}

fn is_skipped(element: &Element) -> bool {
    SKIPPED_ELEMENTS.contains(&element.name())
        || element.attr("hidden").is_some()
        || element.attr("aria-hidden") == Some("true")
}

fn heading_level(element_name: &str) -> Option<u8> {
    match element_name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// `class="language-rust"` or `class="lang-rust"` → "rust".
fn code_language(element: &Element) -> Option<String> {
    element.classes().find_map(|class| {
        class
            .strip_prefix("language-")
            .or_else(|| class.strip_prefix("lang-"))
            .map(str::to_string)
    })
}

#[derive(Default)]
struct TableInProgress {
    caption: String,
    header: Option<String>,
    rows: Vec<String>,
    cells: Vec<String>,
    in_head: bool,
    /// Every cell of the current row so far is a `<th>`.
    row_is_header: bool,
    /// Tables inside this table's cells are flattened into cell text.
    nested_tables: usize,
}

struct Walker<'b, 't> {
    builder: &'b mut SectionBuilder<'t>,
    /// Inline text of the current leaf: a paragraph, heading, list item or table cell.
    inline: String,
    context: ListContext,
    code: Option<CodeInProgress>,
    table: Option<TableInProgress>,
}

impl Walker<'_, '_> {
    fn text(&mut self, text: &str) {
        match self.code.as_mut() {
            Some(code) => code.code.push_str(text),
            None => self.inline.push_str(text),
        }
    }

    fn open(&mut self, element: &Element) {
        let name = element.name();
        if let Some(code) = self.code.as_mut() {
            match name {
                "br" => code.code.push('\n'),
                "code" if code.language.is_empty() => {
                    code.language = code_language(element).unwrap_or_default();
                }
                _ => {}
            }
            return;
        }
        if let Some(table) = self.table.as_mut() {
            match name {
                "table" => {
                    table.nested_tables += 1;
                    self.inline.push(' ');
                }
                _ if table.nested_tables > 0 => self.inline.push(' '),
                "thead" => table.in_head = true,
                "tr" => {
                    table.cells.clear();
                    table.row_is_header = true;
                }
                "td" | "th" => {
                    table.row_is_header &= name == "th";
                    self.inline.clear();
                }
                "caption" => self.inline.clear(),
                _ => self.inline.push(' '),
            }
            return;
        }
        match name {
            "pre" => {
                self.flush_prose();
                self.code = Some(CodeInProgress {
                    language: code_language(element).unwrap_or_default(),
                    code: String::new(),
                });
            }
            "table" => {
                self.flush_prose();
                self.table = Some(TableInProgress::default());
            }
            "ul" => {
                self.flush_prose();
                self.context.open_list(None);
            }
            "ol" => {
                self.flush_prose();
                let start = element
                    .attr("start")
                    .and_then(|start| start.trim().parse().ok());
                self.context.open_list(Some(start.unwrap_or(1)));
            }
            "li" => {
                self.flush_prose();
                self.context.open_item();
            }
            "blockquote" => {
                self.flush_prose();
                self.context.quote_depth += 1;
            }
            "br" => self.inline.push(' '),
            _ if heading_level(name).is_some() || BLOCK_ELEMENTS.contains(&name) => {
                self.flush_prose()
            }
            _ => {}
        }
    }

    fn close(&mut self, element: &Element) {
        let name = element.name();
        if self.code.is_some() {
            if name == "pre" {
                if let Some(code) = self.code.take() {
                    self.builder
                        .push_block(Block::code(&code.language, &code.code));
                }
            }
            return;
        }
        if let Some(table) = self.table.as_mut() {
            match name {
                "table" if table.nested_tables > 0 => table.nested_tables -= 1,
                "table" => self.finish_table(),
                _ if table.nested_tables > 0 => self.inline.push(' '),
                "thead" => table.in_head = false,
                "caption" => table.caption = std::mem::take(&mut self.inline),
                "td" | "th" => table.cells.push(std::mem::take(&mut self.inline)),
                "tr" => {
                    let cells = std::mem::take(&mut table.cells);
                    if cells.is_empty() {
                        return;
                    }
                    let row = Block::table_row(&cells);
                    let is_header = (table.in_head || table.row_is_header)
                        && table.header.is_none()
                        && table.rows.is_empty();
                    if is_header {
                        table.header = Some(row);
                    } else {
                        table.rows.push(row);
                    }
                }
                _ => self.inline.push(' '),
            }
            return;
        }
        match name {
            "ul" | "ol" => {
                self.flush_prose();
                self.context.close_list();
            }
            "li" => {
                self.flush_prose();
                self.context.close_item();
            }
            "blockquote" => {
                self.flush_prose();
                self.context.quote_depth = self.context.quote_depth.saturating_sub(1);
            }
            "br" => {}
            _ => {
                if let Some(level) = heading_level(name) {
                    let text = std::mem::take(&mut self.inline);
                    self.builder.push_heading(level, &text);
                } else if BLOCK_ELEMENTS.contains(&name) {
                    self.flush_prose();
                }
            }
        }
    }

    fn finish_table(&mut self) {
        let Some(table) = self.table.take() else {
            return;
        };
        self.inline.clear();
        let caption = collapse_whitespace(&table.caption);
        self.builder.push_block(Block::Text(caption));
        self.builder.push_block(Block::Table {
            header: table.header,
            rows: table.rows,
        });
    }

    fn flush_prose(&mut self) {
        if let Some(block) = self.context.prose_block(&mut self.inline) {
            self.builder.push_block(block);
        }
    }
}
