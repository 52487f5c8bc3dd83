//! The intermediate form both parsers produce: sections (a heading path and its blocks).

/// A run of blocks under one heading chain. A chunk never spans two sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    pub heading_path: Vec<String>,
    pub blocks: Vec<Block>,
}

/// One structural unit of a section, already rendered as plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Block {
    /// Prose: a paragraph or a blockquote paragraph (with its `> ` marks). May be split at
    /// sentence and word boundaries.
    Text(String),
    /// Prose of a list item, with its marker (`-`, `3.`) and nesting indentation. Consecutive
    /// items are joined by a single newline.
    ListItem(String),
    /// A fenced code block, fences and language included. Never split.
    Code(String),
    /// A table as `| a | b |` rows. Split only between rows, repeating the header.
    Table {
        header: Option<String>,
        rows: Vec<String>,
    },
}

impl Block {
    pub fn code(language: &str, code: &str) -> Self {
        let code = code.trim_end_matches(['\n', '\r']);
        let longest_backtick_run = code.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest_backtick_run.max(2) + 1);
        Self::Code(format!("{fence}{language}\n{code}\n{fence}"))
    }

    pub fn table_row(cells: &[String]) -> String {
        let cells: Vec<String> = cells
            .iter()
            .map(|cell| collapse_whitespace(cell).replace('|', "\\|"))
            .collect();
        format!("| {} |", cells.join(" | "))
    }
}

/// A code block being read: its language (may be empty) and raw text.
pub(crate) struct CodeInProgress {
    pub language: String,
    pub code: String,
}

/// Collects blocks and headings in document order and cuts them into sections.
///
/// The heading path of a section is the chain of headings above it. When that chain has no
/// h1, the article title stands in as its root, so every path starts at the article level.
pub(crate) struct SectionBuilder<'t> {
    title: &'t str,
    /// The open heading chain: (level 1-6, text), strictly increasing levels.
    headings: Vec<(u8, String)>,
    blocks: Vec<Block>,
    sections: Vec<Section>,
}

impl<'t> SectionBuilder<'t> {
    pub fn new(title: &'t str) -> Self {
        Self {
            title,
            headings: Vec::new(),
            blocks: Vec::new(),
            sections: Vec::new(),
        }
    }

    pub fn push_heading(&mut self, level: u8, text: &str) {
        self.close_section();
        while self
            .headings
            .last()
            .is_some_and(|(open_level, _)| *open_level >= level)
        {
            self.headings.pop();
        }
        self.headings.push((level, collapse_whitespace(text)));
    }

    /// Adds a block to the current section; blocks with no visible text are ignored.
    pub fn push_block(&mut self, block: Block) {
        let is_empty = match &block {
            Block::Text(text) | Block::ListItem(text) => text.trim().is_empty(),
            Block::Code(_) => false,
            Block::Table { header, rows } => header.is_none() && rows.is_empty(),
        };
        if !is_empty {
            self.blocks.push(block);
        }
    }

    pub fn finish(mut self) -> Vec<Section> {
        self.close_section();
        self.sections
    }

    fn close_section(&mut self) {
        if self.blocks.is_empty() {
            return;
        }
        let has_h1 = self.headings.first().is_some_and(|(level, _)| *level == 1);
        let root = (!has_h1).then_some(self.title.trim());
        let heading_path = root
            .into_iter()
            .chain(self.headings.iter().map(|(_, text)| text.as_str()))
            .filter(|text| !text.is_empty())
            .map(str::to_string)
            .collect();
        self.sections.push(Section {
            heading_path,
            blocks: std::mem::take(&mut self.blocks),
        });
    }
}

/// Replaces every run of whitespace (newlines and non-breaking spaces included) with one space.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Prefixes for prose nested in lists and blockquotes, shared by both parsers.
#[derive(Debug, Default)]
pub(crate) struct ListContext {
    /// One entry per open list: the next number for ordered lists, `None` for bullets.
    lists: Vec<Option<u64>>,
    /// One entry per open list item, innermost last.
    items: Vec<OpenItem>,
    pub quote_depth: usize,
}

#[derive(Debug)]
struct OpenItem {
    /// "-" or "3.".
    marker: String,
    /// The item's first text carries the marker; later text is indented under it.
    marker_written: bool,
}

impl ListContext {
    pub fn open_list(&mut self, first_number: Option<u64>) {
        self.lists.push(first_number);
    }

    pub fn close_list(&mut self) {
        self.lists.pop();
    }

    pub fn open_item(&mut self) {
        let marker = match self.lists.last_mut() {
            Some(Some(number)) => {
                let marker = format!("{number}.");
                *number = number.saturating_add(1);
                marker
            }
            Some(None) | None => "-".to_string(),
        };
        self.items.push(OpenItem {
            marker,
            marker_written: false,
        });
    }

    pub fn close_item(&mut self) {
        self.items.pop();
    }

    /// Takes the pending inline text as a prose block under the current list/quote context.
    pub fn prose_block(&mut self, inline: &mut String) -> Option<Block> {
        let text = collapse_whitespace(&std::mem::take(inline));
        if text.is_empty() {
            return None;
        }
        let mut prefix = "> ".repeat(self.quote_depth);
        let nesting = self.items.len().saturating_sub(1);
        let Some(item) = self.items.last_mut() else {
            return Some(Block::Text(format!("{prefix}{text}")));
        };
        prefix.push_str(&"  ".repeat(nesting));
        if item.marker_written {
            prefix.push_str(&" ".repeat(item.marker.len() + 1));
        } else {
            prefix.push_str(&item.marker);
            prefix.push(' ');
            item.marker_written = true;
        }
        Some(Block::ListItem(format!("{prefix}{text}")))
    }
}
