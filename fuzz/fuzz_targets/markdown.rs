//! Markdown with YAML front matter: parsed into an article, then chunked. Any input either
//! parses or is refused with an error; nothing panics, and every chunk is within its article.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fathom_fuzz::parse_and_chunk("articles/fuzzed.md", data);
});
