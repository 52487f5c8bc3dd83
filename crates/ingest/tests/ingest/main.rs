//! One integration-test binary for fathom-ingest, a module per feature.

mod chunking;
mod chunking_properties;
mod copy_index;
mod helpers;
mod source_errors;
mod sources_help_center;
mod sources_html;
mod sources_markdown;
