//! An HTML help-center page: parsed into an article, then chunked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fathom_fuzz::parse_and_chunk("articles/fuzzed.html", data);
});
