//! The `SyncStateStore` contract (sync manifests and the ingest lease), run against every
//! backend available here: files beside the embedded index always, and a real Qdrant server when
//! `QDRANT_URL` names one (otherwise its half prints "skipped").

use std::time::Duration;

use fathom_core::{SyncStateError, SyncStateStore, WorkspaceId};
use fathom_store::testing::{qdrant_url, TestCollection};
use fathom_store::{FileSyncState, QdrantSyncState};
use tempfile::TempDir;

const MINUTE: Duration = Duration::from_secs(60);

struct Backend {
    name: &'static str,
    state: Box<dyn SyncStateStore>,
    _dir: Option<TempDir>,
    _collection: Option<TestCollection>,
}

async fn qdrant_backend(what: &str) -> Option<Backend> {
    let url = qdrant_url(what)?;
    let collection = TestCollection::new(&url, "state");
    let state = QdrantSyncState::open(&collection.config())
        .await
        .expect("the Qdrant server at QDRANT_URL opens the sync collection");
    Some(Backend {
        name: "qdrant-server",
        state: Box::new(state),
        _dir: None,
        _collection: Some(collection),
    })
}

async fn backends() -> Vec<Backend> {
    let dir = TempDir::new().unwrap();
    let mut backends = vec![Backend {
        name: "files",
        state: Box::new(FileSyncState::new(dir.path().join("workspaces"))),
        _dir: Some(dir),
        _collection: None,
    }];
    backends.extend(qdrant_backend("sync state contract").await);
    backends
}

fn ws(name: &str) -> WorkspaceId {
    WorkspaceId::parse(name).unwrap()
}

#[tokio::test]
async fn a_workspace_never_synced_has_no_state_and_no_holder() {
    for backend in backends().await {
        assert_eq!(
            backend.state.load(&ws("acme")).await.unwrap(),
            None,
            "{}",
            backend.name
        );
        assert_eq!(
            backend.state.holder(&ws("acme")).await.unwrap(),
            None,
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn saved_state_loads_back_byte_for_byte_and_the_last_save_wins() {
    for backend in backends().await {
        let lease = backend
            .state
            .acquire(&ws("acme"), "test", MINUTE)
            .await
            .unwrap();
        backend.state.save(&lease, b"first".to_vec()).await.unwrap();
        // Larger than one stored part (1 MiB), and not UTF-8.
        let big: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
        backend.state.save(&lease, big.clone()).await.unwrap();
        assert_eq!(
            backend.state.load(&ws("acme")).await.unwrap().as_deref(),
            Some(big.as_slice()),
            "{}",
            backend.name
        );
        backend
            .state
            .save(&lease, b"small again".to_vec())
            .await
            .unwrap();
        assert_eq!(
            backend.state.load(&ws("acme")).await.unwrap().as_deref(),
            Some(&b"small again"[..]),
            "{}",
            backend.name
        );
        assert_eq!(backend.state.load(&ws("globex")).await.unwrap(), None);
        backend.state.release(&lease).await.unwrap();
    }
}

#[tokio::test]
async fn a_second_sync_of_the_same_workspace_is_refused_naming_the_first() {
    for backend in backends().await {
        let first = backend
            .state
            .acquire(&ws("acme"), "fathom ingest (pid 1 on web-1)", MINUTE)
            .await
            .unwrap();
        let err = backend
            .state
            .acquire(&ws("acme"), "fathom ingest (pid 2 on web-2)", MINUTE)
            .await
            .unwrap_err();
        assert!(
            matches!(err, SyncStateError::Held { .. }),
            "{}: {err}",
            backend.name
        );
        assert_eq!(err.code(), "sync_in_progress");
        assert!(
            err.to_string().contains("pid 1 on web-1"),
            "{}: {err}",
            backend.name
        );
        let holder = backend.state.holder(&ws("acme")).await.unwrap().unwrap();
        assert!(holder.holder.contains("web-1"), "{}", backend.name);

        // Another workspace is independent.
        let other = backend
            .state
            .acquire(&ws("globex"), "other", MINUTE)
            .await
            .unwrap();
        backend.state.release(&other).await.unwrap();

        // Released, the lease can be taken again; the old lease can no longer write.
        backend.state.release(&first).await.unwrap();
        assert_eq!(
            backend.state.holder(&ws("acme")).await.unwrap(),
            None,
            "{}",
            backend.name
        );
        let second = backend
            .state
            .acquire(&ws("acme"), "second", MINUTE)
            .await
            .unwrap();
        let err = backend
            .state
            .save(&first, b"stale".to_vec())
            .await
            .unwrap_err();
        assert!(
            matches!(err, SyncStateError::Lost { .. }),
            "{}: {err}",
            backend.name
        );
        backend
            .state
            .save(&second, b"fresh".to_vec())
            .await
            .unwrap();
        assert_eq!(
            backend.state.load(&ws("acme")).await.unwrap().as_deref(),
            Some(&b"fresh"[..])
        );
        let renewed = backend.state.renew(&second, MINUTE).await.unwrap();
        assert_eq!(renewed.id, second.id);
        assert!(
            backend.state.renew(&first, MINUTE).await.is_err(),
            "{}",
            backend.name
        );
        backend.state.release(&second).await.unwrap();
    }
}

#[tokio::test]
async fn a_file_lease_ends_with_its_holder_so_a_crashed_run_blocks_nothing() {
    let dir = TempDir::new().unwrap();
    let held = FileSyncState::new(dir.path());
    let lease = held
        .acquire(&ws("acme"), "crashing run", MINUTE)
        .await
        .unwrap();
    // Another process's view of the same files: refused while the lock is held…
    let other = FileSyncState::new(dir.path());
    assert!(other
        .acquire(&ws("acme"), "next run", MINUTE)
        .await
        .is_err());
    // …and free once the holder's file handle is gone, as when its process dies.
    drop((held, lease));
    other
        .acquire(&ws("acme"), "next run", MINUTE)
        .await
        .unwrap();
}

#[tokio::test]
async fn qdrant_server_lease_that_ran_out_is_taken_over_and_the_old_holder_cannot_write() {
    let Some(backend) = qdrant_backend("lease expiry").await else {
        return;
    };
    let state = &backend.state;
    let crashed = state
        .acquire(&ws("acme"), "crashed run", Duration::from_millis(300))
        .await
        .unwrap();
    state.save(&crashed, b"half done".to_vec()).await.unwrap();
    assert!(state
        .acquire(&ws("acme"), "too early", MINUTE)
        .await
        .is_err());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        state.holder(&ws("acme")).await.unwrap(),
        None,
        "expired counts as free"
    );
    let next = state
        .acquire(&ws("acme"), "next run", MINUTE)
        .await
        .unwrap();
    assert_eq!(
        state.load(&ws("acme")).await.unwrap().as_deref(),
        Some(&b"half done"[..]),
        "the state survives the takeover"
    );
    let err = state.save(&crashed, b"zombie".to_vec()).await.unwrap_err();
    assert!(matches!(err, SyncStateError::Lost { .. }), "{err}");
    assert!(matches!(
        state.renew(&crashed, MINUTE).await,
        Err(SyncStateError::Lost { .. })
    ));
    assert_eq!(
        state.load(&ws("acme")).await.unwrap().as_deref(),
        Some(&b"half done"[..])
    );
    state.release(&next).await.unwrap();
}

#[tokio::test]
async fn qdrant_server_lets_exactly_one_of_many_racing_runs_take_the_lease() {
    let Some(backend) = qdrant_backend("lease race").await else {
        return;
    };
    let state = &backend.state;
    let attempts = (0..8).map(|i| {
        let holder = format!("run {i}");
        async move { state.acquire(&ws("acme"), &holder, MINUTE).await }
    });
    let results = futures::future::join_all(attempts).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
}
