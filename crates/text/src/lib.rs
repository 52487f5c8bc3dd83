//! Text analysis for every language, in one place: which language a text is in, its words (with
//! dictionary segmentation for Chinese and character pairs for scripts without spaces), and its
//! index terms (stop words out, Snowball stemming, Latin diacritics folded).
//!
//! Used by ingest (an article's language), BM25 (sparse vectors of chunks and queries) and the
//! answer judge (lexical coverage). No I/O: dictionaries and stop lists are compiled in.

mod analyze;
mod language;
mod segment;

pub use analyze::{analyze, is_stop_word, ANALYSIS_VERSION};
pub use language::{detect, language_of, resolve, Detection, Language};
pub use segment::words;
