use fathom_core::ArticleFormat;

use crate::helpers::parse_one;

#[test]
fn html_metadata_comes_from_title_meta_and_canonical_link() {
    let text = r#"<!doctype html>
<html lang="de">
<head>
  <title>  Two-factor
     authentication </title>
  <meta name="article-id" content="kb-2fa">
  <meta name="locale" content="en-US">
  <link rel="canonical" href="https://help.example.com/2fa">
</head>
<body>
  <nav><a href="/">Home</a></nav>
  <article><h1>Set up 2FA</h1><p>Open your profile.</p></article>
  <footer>© Example</footer>
</body>
</html>"#;

    let article = parse_one("security/2fa.html", text);

    assert_eq!(article.id.as_str(), "kb-2fa");
    assert_eq!(article.title, "Two-factor authentication");
    assert_eq!(article.locale.as_deref(), Some("en-US"));
    assert_eq!(article.url.as_deref(), Some("https://help.example.com/2fa"));
    assert_eq!(article.format, ArticleFormat::Html);
    assert_eq!(
        article.body,
        "<article><h1>Set up 2FA</h1><p>Open your profile.</p></article>"
    );
}

#[test]
fn html_without_metadata_falls_back_to_h1_html_lang_path_and_main() {
    let text = r#"<html lang="fr"><body><header>Site</header>
<main><h1>Exporter  vos données</h1><p>Allez dans Paramètres.</p></main></body></html>"#;

    let article = parse_one("data/export.htm", text);

    assert_eq!(article.id.as_str(), "data/export");
    assert_eq!(article.title, "Exporter vos données");
    assert_eq!(article.locale.as_deref(), Some("fr"));
    assert!(article.url.is_none());
    assert!(article.body.starts_with("<main><h1>"), "{}", article.body);
}

#[test]
fn html_without_article_or_main_uses_the_body_and_the_file_stem_as_title() {
    let article = parse_one("notes.html", "<p>Just a paragraph.</p>");

    assert_eq!(article.title, "notes");
    assert!(article.body.starts_with("<body>"), "{}", article.body);
    assert!(article.body.contains("Just a paragraph."));
}
