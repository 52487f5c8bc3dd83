//! The local MiniLM embedder against the real all-MiniLM-L6-v2 weights.
//!
//! The model directory comes from `FATHOM_MODEL_DIR`, else `<workspace>/models/all-minilm-l6-v2`.
//! When it is missing these tests fail (they do not skip): run `scripts/fetch-model.sh`.

use std::path::PathBuf;
use std::sync::OnceLock;

use fathom_core::{EmbedError, Embedder};
use fathom_embed::{MiniLmConfig, MiniLmEmbedder, QueryBatching};

fn model_dir() -> PathBuf {
    std::env::var_os("FATHOM_MODEL_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-minilm-l6-v2"),
        PathBuf::from,
    )
}

/// Loaded once per test binary; every test shares it.
fn embedder() -> &'static MiniLmEmbedder {
    static EMBEDDER: OnceLock<MiniLmEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        let dir = model_dir();
        MiniLmEmbedder::load(MiniLmConfig::new(&dir)).unwrap_or_else(|error| {
            panic!(
                "the MiniLM tests need the model in {}: run scripts/fetch-model.sh \
                 (or set FATHOM_MODEL_DIR). {error}",
                dir.display()
            )
        })
    })
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn words(count: usize) -> String {
    const VOCABULARY: [&str; 8] = [
        "refund", "order", "shipping", "invoice", "account", "password", "delivery", "support",
    ];
    (0..count)
        .map(|i| VOCABULARY[i % VOCABULARY.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn loaded_model_has_dimension_384_and_an_id_naming_its_directory() {
    let embedder = embedder();

    assert_eq!(embedder.dimension(), 384);
    let expected_id = format!(
        "minilm:{}",
        model_dir()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    assert_eq!(embedder.model_id(), expected_id);
}

#[tokio::test]
async fn vectors_are_unit_length_and_384_long() {
    let texts = vec!["refund policy".to_owned(), String::new(), words(400)];

    let vectors = embedder()
        .embed_documents(texts)
        .await
        .expect("embedding succeeds");

    assert_eq!(vectors.len(), 3);
    for vector in &vectors {
        assert_eq!(vector.len(), 384);
        let norm = dot(vector, vector).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
}

/// Vectors from an independent float64 NumPy implementation of BERT + mean pooling +
/// normalisation over the same weights (`fixtures/reference_embeddings.py`), including a text
/// past the 256 word-piece limit. Catches pipeline mistakes (pooling over padding, a missing
/// normalisation, a tokenizer setting, an attention bug) that relative tests would miss.
#[tokio::test]
async fn vectors_match_an_independent_reference_implementation() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/reference_embeddings.json"))
            .expect("fixture is JSON");
    let cases = fixture["cases"].as_array().expect("cases");
    let texts: Vec<String> = cases
        .iter()
        .map(|case| case["text"].as_str().expect("text").to_owned())
        .collect();
    let references: Vec<Vec<f32>> = cases
        .iter()
        .map(|case| {
            let vector = case["vector"].as_array().expect("vector");
            vector
                .iter()
                .map(|value| value.as_f64().expect("number") as f32)
                .collect()
        })
        .collect();

    let batched = embedder()
        .embed_documents(texts.clone())
        .await
        .expect("batch embeds");

    for ((text, reference), vector) in texts.iter().zip(&references).zip(&batched) {
        let difference = max_abs_difference(vector, reference);
        assert!(
            difference < 1e-4,
            "{text:?} differs from the reference by {difference}"
        );
    }
}

#[tokio::test]
async fn a_paraphrase_is_closer_than_an_unrelated_sentence() {
    let query = embedder()
        .embed_query("How do I get my money back?")
        .await
        .expect("query embeds");
    let documents = embedder()
        .embed_documents(vec![
            "refund policy".into(),
            "The weather in Paris is sunny today.".into(),
        ])
        .await
        .expect("documents embed");

    let paraphrase_similarity = dot(&query, &documents[0]);
    let unrelated_similarity = dot(&query, &documents[1]);

    assert!(
        paraphrase_similarity > unrelated_similarity + 0.2,
        "paraphrase {paraphrase_similarity}, unrelated {unrelated_similarity}"
    );
}

#[tokio::test]
async fn batched_vectors_equal_one_at_a_time_vectors() {
    // Different lengths, so the batch is padded and sorted; more texts than one batch.
    let texts: Vec<String> = (0..20).map(|i| words(3 + i * 17)).collect();

    let batched = embedder()
        .embed_documents(texts.clone())
        .await
        .expect("batch embeds");

    assert_eq!(batched.len(), texts.len());
    for (text, batched_vector) in texts.iter().zip(&batched) {
        let single = embedder()
            .embed_query(text)
            .await
            .expect("single text embeds");
        let difference = max_abs_difference(&single, batched_vector);
        assert!(
            difference < 1e-4,
            "text of {} chars differs by {difference}",
            text.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_queries_batched_together_get_their_own_vectors() {
    // Different lengths, so a shared pass packs texts of several sizes.
    let questions: Vec<String> = (0..40).map(|i| words(1 + i * 3)).collect();
    let mut one_at_a_time = Vec::new();
    for question in &questions {
        one_at_a_time.push(embedder().embed_query(question).await.expect("embeds"));
    }

    // join_all polls every call in one task: all reach the queue before any is answered.
    let together =
        futures::future::join_all(questions.iter().map(|q| embedder().embed_query(q))).await;

    for ((question, alone), shared) in questions.iter().zip(&one_at_a_time).zip(together) {
        let shared = shared.expect("embeds");
        let difference = max_abs_difference(alone, &shared);
        assert!(
            difference < 1e-4,
            "{} words: batched differs by {difference}",
            question.split(' ').count()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_query_queue_refuses_at_once_with_overloaded_and_the_rest_are_answered() {
    let mut config = MiniLmConfig::new(model_dir());
    config.query_batching = QueryBatching {
        max_batch: 1,
        queue_capacity: 2,
        ..QueryBatching::default()
    };
    let small_queue = MiniLmEmbedder::load(config).expect("model loads");
    let long_question = words(250);

    let outcomes =
        futures::future::join_all((0..60).map(|_| small_queue.embed_query(&long_question))).await;

    let refused = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(EmbedError::Overloaded { queued: 2 })))
        .count();
    let answered = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert!(refused > 0, "nothing was refused");
    assert!(answered >= 2, "only {answered} answered");
    assert_eq!(
        refused + answered,
        outcomes.len(),
        "other errors: {outcomes:?}"
    );
    let message = EmbedError::Overloaded { queued: 2 }.to_string();
    assert!(message.contains("overloaded"), "{message}");
}

#[tokio::test]
async fn embedding_no_texts_returns_no_vectors() {
    let vectors = embedder()
        .embed_documents(Vec::new())
        .await
        .expect("empty input is fine");

    assert!(vectors.is_empty());
}

#[tokio::test]
async fn a_5000_word_text_is_truncated_to_the_same_vector_as_its_first_words() {
    let long_text = words(5000);
    let longer_text = format!("{long_text} completely different ending about the weather");

    let vectors = embedder()
        .embed_documents(vec![long_text, longer_text])
        .await
        .expect("long texts embed");

    assert!(max_abs_difference(&vectors[0], &vectors[1]) < 1e-5);
}

#[tokio::test]
async fn a_shorter_max_seq_len_truncates_earlier() {
    let mut config = MiniLmConfig::new(model_dir());
    config.max_seq_len = 8;
    let short = MiniLmEmbedder::load(config).expect("model loads");
    // Six one-piece words plus [CLS] and [SEP] fill the 8 word-pieces; the rest is cut.
    let prefix = "order shipping account password delivery support";

    let truncated = short
        .embed_query(&format!("{prefix} refund invoice"))
        .await
        .expect("embeds");
    let exact = short.embed_query(prefix).await.expect("embeds");

    assert!(max_abs_difference(&truncated, &exact) < 1e-5);
}

#[test]
fn missing_model_files_are_a_load_error_naming_the_file_the_directory_and_the_fetch_script() {
    let empty_dir = tempfile::tempdir().expect("temp dir");

    let error =
        MiniLmEmbedder::load(MiniLmConfig::new(empty_dir.path())).expect_err("nothing to load");

    let message = error.to_string();
    assert!(matches!(error, EmbedError::Load { .. }), "{error:?}");
    assert!(message.contains("model.safetensors"), "{message}");
    assert!(
        message.contains(&empty_dir.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("scripts/fetch-model.sh"), "{message}");
}

#[test]
fn a_max_seq_len_beyond_the_position_table_is_rejected() {
    let mut config = MiniLmConfig::new(model_dir());
    config.max_seq_len = 1024;

    let error = MiniLmEmbedder::load(config).expect_err("512 positions only");

    assert!(error.to_string().contains("max_seq_len 1024"), "{error}");
}
