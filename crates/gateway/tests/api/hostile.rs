//! The gateway under hostile traffic: slow and idle connections are closed within their
//! timeouts, open connections are capped, one client's flood does not starve another client of
//! the same workspace, and customer attributes are bounded.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fathom_gateway::{AttributeLimits, ClientAddresses, ConnectionLimits};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_app, Options};

fn short_timeouts() -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_millis(800),
        body_read_timeout: Duration::from_millis(800),
        idle_timeout: Duration::from_millis(1500),
        ..ConnectionLimits::default()
    }
}

/// Reads until the server closes the connection (or `limit` passes); returns what it sent and
/// how long it took to close, if it did.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return (String::from_utf8_lossy(&received).into(), None),
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Ok(Err(error)) if error.kind() == ErrorKind::ConnectionReset => break,
            Ok(Err(error)) => panic!("reading: {error}"),
        }
    }
    (
        String::from_utf8_lossy(&received).into(),
        Some(started.elapsed()),
    )
}

async fn connect(address: SocketAddr) -> TcpStream {
    TcpStream::connect(address).await.unwrap()
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed_after_the_header_timeout() {
    let app = spawn_app(Options {
        connections: short_timeouts(),
        ..Options::default()
    })
    .await;
    let (mut reader, mut writer) = connect(app.address).await.into_split();
    writer
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One more header line every 200 ms: always something new, never the end of the headers.
    let trickle = tokio::spawn(async move {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let line = format!("X-Slow-{i}: yes\r\n");
            if writer.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });

    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    trickle.abort();

    assert!(closed.is_ok(), "still open after 5 s of trickled headers");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn silent_and_idle_keep_alive_connections_are_closed() {
    let app = spawn_app(Options {
        connections: short_timeouts(),
        ..Options::default()
    })
    .await;
    let mut silent = connect(app.address).await;
    let mut idle = connect(app.address).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();

    let (silent_sent, silent_closed) = until_closed(&mut silent, Duration::from_secs(5)).await;
    let (idle_sent, idle_closed) = until_closed(&mut idle, Duration::from_secs(5)).await;

    assert!(silent_sent.is_empty(), "{silent_sent}");
    assert!(
        silent_closed.is_some(),
        "a connection that says nothing is closed"
    );
    assert!(idle_sent.starts_with("HTTP/1.1 200"), "{idle_sent}");
    assert!(
        idle_closed.is_some(),
        "an idle keep-alive connection is closed"
    );
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app(Options {
        connections: short_timeouts(),
        ..Options::default()
    })
    .await;
    let mut h2 = connect(app.address).await;
    // The HTTP/2 preface and an empty SETTINGS frame, then nothing.
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();

    let (_, closed) = until_closed(&mut h2, Duration::from_secs(6)).await;

    let closed = closed.expect("the idle HTTP/2 connection is closed");
    assert!(closed < Duration::from_secs(5), "after {closed:?}");
}

#[tokio::test]
async fn a_trickled_body_gets_408_when_its_time_is_up() {
    let app = spawn_app(Options {
        connections: short_timeouts(),
        ..Options::default()
    })
    .await;
    let mut slow = connect(app.address).await;
    slow.write_all(
        b"POST /v1/conversations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{\"workspace\": ",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut response = String::new();
    for _ in 0..25 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if slow.write_all(b" ").await.is_err() {
            break;
        }
        let mut buffer = [0u8; 4096];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), slow.read(&mut buffer)).await
        {
            response.push_str(&String::from_utf8_lossy(&buffer[..n]));
            if n == 0 || response.contains("\r\n\r\n") {
                break;
            }
        }
    }
    let (rest, _) = until_closed(&mut slow, Duration::from_secs(3)).await;
    response.push_str(&rest);

    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("body_timeout"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

/// At the cap, a crowd of connections that never send a request (slowloris, idle keep-alive)
/// does not keep a new client waiting: the one quiet longest is closed to make room.
#[tokio::test]
async fn past_the_connection_cap_the_longest_quiet_connection_makes_room() {
    let app = spawn_app(Options {
        connections: ConnectionLimits {
            max_connections: 4,
            ..ConnectionLimits::default()
        },
        ..Options::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(app.address).await;
        // Headers begun, never finished: the connection counts, with nothing in flight.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        held.push(stream);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let healthz = reqwest::Client::new()
        .get(app.url("/healthz"))
        .timeout(Duration::from_millis(1500))
        .send()
        .await;

    assert_eq!(healthz.unwrap().status(), StatusCode::OK);
    let (_, closed_after) = until_closed(&mut held[0], Duration::from_secs(2)).await;
    assert!(
        closed_after.is_some(),
        "the oldest quiet connection is still open"
    );
    let (_, newest_closed) = until_closed(&mut held[3], Duration::from_millis(300)).await;
    assert!(newest_closed.is_none(), "closed more than it needed to");
}

/// Connections with a request in flight are never cut to make room: past the cap, a new
/// client waits for one of them to end.
#[tokio::test]
async fn past_the_connection_cap_busy_connections_are_kept_and_new_ones_wait() {
    let app = spawn_app(Options {
        connections: ConnectionLimits {
            max_connections: 2,
            ..ConnectionLimits::default()
        },
        ..Options::default()
    })
    .await;
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(app.address).await;
        // A request whose body is still coming: in flight until it arrives or times out.
        stream
            .write_all(
                b"POST /v1/conversations HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
            )
            .await
            .unwrap();
        busy.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let healthz = || {
        reqwest::Client::new()
            .get(app.url("/healthz"))
            .timeout(Duration::from_millis(1500))
            .send()
    };

    let while_busy = healthz().await;
    let (_, first_closed) = until_closed(&mut busy[0], Duration::from_millis(100)).await;
    drop(busy);
    let after = healthz().await;

    assert!(while_busy.is_err(), "served past the cap: {while_busy:?}");
    assert!(first_closed.is_none(), "a busy connection was cut");
    assert_eq!(after.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_creation_flood_from_one_address_leaves_another_client_unthrottled() {
    let app = spawn_app(Options {
        workspace_per_second: 60,
        client_per_second: 20,
        client_burst: 40,
        client_conversations_per_minute: 30,
        clients: ClientAddresses {
            trusted_proxy_header: Some("x-forwarded-for".into()),
            trusted_proxies: vec!["127.0.0.1".into()],
        },
        ..Options::default()
    })
    .await;
    let conversations_url = app.url("/v1/conversations");
    let create = move |client: reqwest::Client, from: &'static str| {
        let url = conversations_url.clone();
        async move {
            client
                .post(url)
                .header("x-forwarded-for", from)
                .json(&json!({"workspace": "acme"}))
                .send()
                .await
                .unwrap()
        }
    };
    let flood_until = Instant::now() + Duration::from_secs(3);
    let attackers: Vec<_> = (0..16)
        .map(|_| {
            let create = create.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let (mut created, mut refused) = (0, 0);
                while Instant::now() < flood_until {
                    match create(client.clone(), "203.0.113.7").await.status() {
                        StatusCode::CREATED => created += 1,
                        StatusCode::TOO_MANY_REQUESTS => refused += 1,
                        other => panic!("{other}"),
                    }
                }
                (created, refused)
            })
        })
        .collect();

    let customer = reqwest::Client::new();
    let (mut ok, mut throttled) = (0, 0);
    let mut conversation: Option<Value> = None;
    while Instant::now() < flood_until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let response = match &conversation {
            Some(created) => customer
                .get(app.url(&format!(
                    "/v1/conversations/{}",
                    created["conversation_id"].as_str().unwrap()
                )))
                .header("x-forwarded-for", "198.51.100.9")
                .bearer_auth(created["customer_token"].as_str().unwrap())
                .send()
                .await
                .unwrap(),
            None => create(customer.clone(), "198.51.100.9").await,
        };
        match response.status() {
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            StatusCode::CREATED => {
                ok += 1;
                conversation = Some(response.json().await.unwrap());
            }
            StatusCode::OK => ok += 1,
            other => panic!("{other}"),
        }
        if ok % 5 == 0 {
            conversation = None;
        }
    }
    let (mut flood_created, mut flood_refused) = (0, 0);
    for attacker in attackers {
        let (created, refused) = attacker.await.unwrap();
        flood_created += created;
        flood_refused += refused;
    }

    assert_eq!(
        throttled, 0,
        "the other client got {throttled} 429s and {ok} answers"
    );
    assert!(ok >= 10, "{ok}");
    assert!(flood_refused > 0);
    // The quota's burst (30) plus what it refills in the 3 s (one every 2 s).
    assert!(
        flood_created <= 30 + 2,
        "one address started {flood_created} conversations in 3 s"
    );
}

#[tokio::test]
async fn oversized_customer_attributes_are_refused_with_invalid_customer() {
    let app = spawn_app(Options::default()).await;
    let limits = AttributeLimits::default();
    let many: serde_json::Map<String, Value> = (0..=limits.max_extra)
        .map(|i| (format!("k{i}"), json!("v")))
        .collect();
    let long_value = "x".repeat(limits.max_value_bytes + 1);
    let long_key = "k".repeat(limits.max_key_bytes + 1);
    let many_large: serde_json::Map<String, Value> = (0..limits.max_extra)
        .map(|i| (format!("k{i}"), json!("y".repeat(limits.max_value_bytes))))
        .collect();

    for customer in [
        json!({"extra": many}),
        json!({"name": long_value}),
        json!({"extra": {long_key: "v"}}),
        json!({"extra": many_large}),
    ] {
        let response = app
            .client
            .post(app.url("/v1/conversations"))
            .json(&json!({"workspace": "acme", "customer": customer}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_customer", "{body}");
    }
    let fine = app
        .client
        .post(app.url("/v1/conversations"))
        .json(&json!({"workspace": "acme", "customer": {"name": "Ada", "plan": "annual", "extra": {"crm_id": "4711"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), StatusCode::CREATED);
}
