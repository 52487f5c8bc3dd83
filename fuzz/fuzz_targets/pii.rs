//! The PII detectors (and the injection detector, which reads the same raw messages): any text
//! is redacted without panicking, restoring gives the text back exactly, and redacting the
//! redacted text finds nothing more.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        fathom_fuzz::redact_and_restore(text);
    }
});
