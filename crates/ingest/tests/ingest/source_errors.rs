use std::path::Path;

use fathom_ingest::{is_supported, parse_source, SourceErrorReason, SourceLimits};

use crate::helpers::{parse_error, reason};

#[test]
fn a_file_over_the_size_limit_is_rejected_before_anything_else() {
    let limits = SourceLimits { max_bytes: 8 };
    let binary_and_not_utf8 = [0u8, 0xff, 0xfe, 0, 1, 2, 3, 4, 5];

    let error = parse_source(Path::new("big.png"), &binary_and_not_utf8, &limits).unwrap_err();

    assert_eq!(
        error.reason,
        SourceErrorReason::TooLarge { size: 9, limit: 8 }
    );
    assert_eq!(
        error.to_string(),
        "big.png: file is 9 bytes, over the limit of 8 bytes"
    );
}

#[test]
fn the_default_size_limit_is_two_mebibytes() {
    assert_eq!(SourceLimits::default().max_bytes, 2 * 1024 * 1024);
    let just_over = vec![b'a'; 2 * 1024 * 1024 + 1];

    assert!(matches!(
        reason("big.md", &just_over),
        SourceErrorReason::TooLarge { .. }
    ));
}

#[test]
fn an_empty_or_blank_file_is_rejected() {
    assert_eq!(reason("empty.md", b""), SourceErrorReason::Empty);
    assert_eq!(reason("blank.html", b" \n\t\r\n"), SourceErrorReason::Empty);
    assert_eq!(
        reason("bom-only.json", "\u{feff}".as_bytes()),
        SourceErrorReason::Empty
    );
}

#[test]
fn a_file_with_nul_bytes_is_rejected_as_binary_with_the_offset() {
    assert_eq!(
        reason("image.md", b"abc\0def"),
        SourceErrorReason::Binary { byte_offset: 3 }
    );
}

#[test]
fn invalid_utf8_is_rejected_with_the_byte_offset() {
    let error = parse_error("latin1.md", b"caf\xe9 au lait");

    assert_eq!(
        error.reason,
        SourceErrorReason::InvalidUtf8 { byte_offset: 3 }
    );
    assert!(error.to_string().contains("byte offset 3"), "{error}");
}

#[test]
fn an_unsupported_extension_is_rejected() {
    assert_eq!(
        reason("notes.txt", b"hello"),
        SourceErrorReason::UnsupportedExtension
    );
    assert_eq!(
        reason("README", b"hello"),
        SourceErrorReason::UnsupportedExtension
    );
}

#[test]
fn supported_files_are_recognised_by_extension_case_insensitively() {
    for supported in ["a.md", "b/c.markdown", "d.HTML", "e.htm", "f.json", "g.Md"] {
        assert!(is_supported(Path::new(supported)), "{supported}");
    }
    for unsupported in ["a.txt", "b.pdf", "Makefile", "c.md.bak", ".md"] {
        assert!(!is_supported(Path::new(unsupported)), "{unsupported}");
    }
}

#[test]
fn a_path_too_long_for_an_article_id_is_an_invalid_article_id() {
    let long_path = format!("{}.md", "a".repeat(300));

    let reason = reason(&long_path, b"Body.");

    assert!(
        matches!(
            reason,
            SourceErrorReason::InvalidArticleId { entry: None, .. }
        ),
        "{reason:?}"
    );
}
