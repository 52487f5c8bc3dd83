//! Markdown → sections, with pulldown-cmark.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::html;
use super::sections::{
    collapse_whitespace, Block, CodeInProgress, ListContext, Section, SectionBuilder,
};

fn parser(markdown: &str) -> Parser<'_> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    Parser::new_ext(markdown, options)
}

/// The text of the first non-empty heading, inline markup removed.
pub(crate) fn first_heading_text(markdown: &str) -> Option<String> {
    let mut heading_text: Option<String> = None;
    for event in parser(markdown) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading_text = Some(String::new()),
            Event::Text(text) | Event::Code(text) => {
                if let Some(heading_text) = heading_text.as_mut() {
                    heading_text.push_str(&text);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let text = collapse_whitespace(&heading_text.take().unwrap_or_default());
                if !text.is_empty() {
                    return Some(text);
                }
            }
            _ => {}
        }
    }
    None
}

pub(crate) fn sections(title: &str, markdown: &str) -> Vec<Section> {
    let mut walker = Walker {
        builder: SectionBuilder::new(title),
        inline: String::new(),
        context: ListContext::default(),
        code: None,
        table: None,
        html_block: None,
        image_depth: 0,
    };
    for event in parser(markdown) {
        walker.handle(event);
    }
    walker.flush_prose();
    walker.builder.finish()
}

#[derive(Default)]
struct TableInProgress {
    header: Option<String>,
    rows: Vec<String>,
    cells: Vec<String>,
}

struct Walker<'t> {
    builder: SectionBuilder<'t>,
    /// Inline text of the current leaf: a paragraph, heading, tight list item or table cell.
    inline: String,
    context: ListContext,
    code: Option<CodeInProgress>,
    table: Option<TableInProgress>,
    html_block: Option<String>,
    /// Inside an image: its alt text is not body text.
    image_depth: usize,
}

impl Walker<'_> {
    fn handle(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => {
                if let Some(code) = self.code.as_mut() {
                    code.code.push_str(&text);
                } else if let Some(html_block) = self.html_block.as_mut() {
                    html_block.push_str(&text);
                } else if self.image_depth == 0 {
                    self.inline.push_str(&text);
                }
            }
            Event::Code(code) => self.inline.push_str(&code),
            Event::Html(html) => {
                if let Some(html_block) = self.html_block.as_mut() {
                    html_block.push_str(&html);
                }
            }
            Event::SoftBreak | Event::HardBreak => self.inline.push(' '),
            Event::TaskListMarker(checked) => {
                self.inline.push_str(if checked { "[x] " } else { "[ ] " })
            }
            Event::Rule => self.flush_prose(),
            // Inline tags (`<kbd>`, `<br>`) carry no text of their own; their content arrives
            // as ordinary text events.
            Event::InlineHtml(_)
            | Event::FootnoteReference(_)
            | Event::InlineMath(_)
            | Event::DisplayMath(_) => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { .. } | Tag::Paragraph | Tag::FootnoteDefinition(_) => self.flush_prose(),
            Tag::BlockQuote(_) => {
                self.flush_prose();
                self.context.quote_depth += 1;
            }
            Tag::CodeBlock(kind) => {
                self.flush_prose();
                let language = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split_whitespace().next().unwrap_or("").to_string()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some(CodeInProgress {
                    language,
                    code: String::new(),
                });
            }
            Tag::HtmlBlock => {
                self.flush_prose();
                self.html_block = Some(String::new());
            }
            Tag::List(first_number) => {
                self.flush_prose();
                self.context.open_list(first_number);
            }
            Tag::Item => {
                self.flush_prose();
                self.context.open_item();
            }
            Tag::Table(_) => {
                self.flush_prose();
                self.table = Some(TableInProgress::default());
            }
            Tag::TableHead | Tag::TableRow | Tag::TableCell => self.inline.clear(),
            Tag::Image { .. } => self.image_depth += 1,
            Tag::DefinitionList | Tag::DefinitionListTitle | Tag::DefinitionListDefinition => {
                self.flush_prose()
            }
            Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript
            | Tag::Link { .. }
            | Tag::MetadataBlock(_) => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(level) => {
                let text = std::mem::take(&mut self.inline);
                self.builder.push_heading(heading_level(level), &text);
            }
            TagEnd::Paragraph
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition => self.flush_prose(),
            TagEnd::BlockQuote(_) => {
                self.flush_prose();
                self.context.quote_depth = self.context.quote_depth.saturating_sub(1);
            }
            TagEnd::CodeBlock => {
                if let Some(code) = self.code.take() {
                    self.builder
                        .push_block(Block::code(&code.language, &code.code));
                }
            }
            TagEnd::HtmlBlock => {
                if let Some(html_block) = self.html_block.take() {
                    html::push_fragment(&mut self.builder, &html_block);
                }
            }
            TagEnd::List(_) => {
                self.flush_prose();
                self.context.close_list();
            }
            TagEnd::Item => {
                self.flush_prose();
                self.context.close_item();
            }
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.inline);
                if let Some(table) = self.table.as_mut() {
                    table.cells.push(cell);
                }
            }
            TagEnd::TableHead => {
                if let Some(table) = self.table.as_mut() {
                    let cells = std::mem::take(&mut table.cells);
                    table.header = Some(Block::table_row(&cells));
                }
            }
            TagEnd::TableRow => {
                if let Some(table) = self.table.as_mut() {
                    let cells = std::mem::take(&mut table.cells);
                    table.rows.push(Block::table_row(&cells));
                }
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    self.builder.push_block(Block::Table {
                        header: table.header,
                        rows: table.rows,
                    });
                }
            }
            TagEnd::Image => self.image_depth = self.image_depth.saturating_sub(1),
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link
            | TagEnd::MetadataBlock(_) => {}
        }
    }

    fn flush_prose(&mut self) {
        if let Some(block) = self.context.prose_block(&mut self.inline) {
            self.builder.push_block(block);
        }
    }
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}
