//! Helpdesk webhook bodies through the real router: the first byte picks the adapter
//! (Standard Webhooks, Chatwoot, django-helpdesk), the rest is the body, correctly signed so
//! that parsing and handling past the signature check are reached. Never a 5xx, always JSON.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fathom_fuzz::webhooks::deliver(data);
});
