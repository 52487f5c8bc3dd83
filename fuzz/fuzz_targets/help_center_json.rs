//! A Zendesk or Intercom help-center export (the parser tells them apart by shape): parsed into
//! articles, then chunked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fathom_fuzz::parse_and_chunk("exports/fuzzed.json", data);
});
