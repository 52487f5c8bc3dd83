//! Slow and idle connections against a running gateway, while `/healthz` is timed over fresh
//! connections: do the connection timeouts close them, and does the gateway stay responsive?
//!
//! `target/debug/examples/slowloris [address=127.0.0.1:8080] [connections=1000] [seconds=45]`
//!
//! The connections are split evenly into four kinds:
//! - `silent`: connects and sends nothing;
//! - `slow_headers`: a request line, then one more header line every 2 s, never the end;
//! - `slow_body`: `POST /v1/conversations` declaring `Content-Length: 1000000000`, then one byte
//!   every 2 s;
//! - `idle_keep_alive`: one `GET /healthz`, then silence on the open connection.
//!
//! Prints, per kind, how many the server closed and after how long, then `/healthz` latency
//! (p50, p99, max) and errors during the run, and the load average before and after. A
//! connection still open when the run ends counts as not closed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KINDS: [&str; 4] = ["silent", "slow_headers", "slow_body", "idle_keep_alive"];

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

/// Opens one connection of `kind` and returns how long after its start the server closed it
/// (`None`: still open at `deadline`, or never connected).
async fn attack(address: SocketAddr, kind: &'static str, deadline: Instant) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).await.ok()?;
    let opening: &[u8] = match kind {
        "silent" => b"",
        "slow_headers" => b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
        "slow_body" => b"POST /v1/conversations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{",
        _ => b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    stream.write_all(opening).await.ok()?;
    let mut buffer = [0u8; 4096];
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.tick().await;
    let mut line = 0;
    loop {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return Some(started.elapsed()),
                Ok(_) => {}
            },
            _ = tick.tick() => {
                let more: Vec<u8> = match kind {
                    "slow_headers" => { line += 1; format!("X-Slow-{line}: 1\r\n").into_bytes() }
                    "slow_body" => b" ".to_vec(),
                    _ => vec![],
                };
                if !more.is_empty() && stream.write_all(&more).await.is_err() {
                    return Some(started.elapsed());
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => return None,
        }
    }
}

/// One `GET /healthz` over a fresh connection; the time to the whole response.
async fn healthz(address: SocketAddr) -> Result<Duration, String> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    if !response.starts_with(b"HTTP/1.1 200") {
        return Err(String::from_utf8_lossy(&response).into());
    }
    Ok(started.elapsed())
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let address: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()
        .expect("an address like 127.0.0.1:8080");
    let connections: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(45);
    println!("load average before: {}", load_average());
    let began = Instant::now();
    let deadline = began + Duration::from_secs(seconds);

    let mut attacks = Vec::with_capacity(connections);
    for index in 0..connections {
        let kind = KINDS[index % KINDS.len()];
        attacks.push((kind, tokio::spawn(attack(address, kind, deadline))));
        if index % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    println!(
        "{connections} connections opened in {:.1} s",
        began.elapsed().as_secs_f64()
    );

    let prober = tokio::spawn(async move {
        let mut latencies = Vec::new();
        let mut errors = Vec::new();
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(5), healthz(address)).await {
                Ok(Ok(latency)) => latencies.push(latency),
                Ok(Err(error)) => errors.push(error),
                Err(_) => errors.push("no answer within 5 s".into()),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (latencies, errors)
    });

    let mut closed: Vec<Vec<Duration>> = vec![Vec::new(); KINDS.len()];
    let mut open = [0usize; 4];
    for (kind, handle) in attacks {
        let slot = KINDS.iter().position(|k| *k == kind).unwrap_or(0);
        match handle.await.ok().flatten() {
            Some(after) => closed[slot].push(after),
            None => open[slot] += 1,
        }
    }
    let (mut latencies, errors) = prober.await.expect("the prober runs");
    latencies.sort();

    println!("kind              closed  still open  closed after (p50 / max)");
    for (slot, kind) in KINDS.iter().enumerate() {
        let times = &mut closed[slot];
        times.sort();
        println!(
            "{kind:<16} {:>7} {:>11}  {:.1} s / {:.1} s",
            times.len(),
            open[slot],
            percentile(times, 0.5).as_secs_f64(),
            times.last().copied().unwrap_or_default().as_secs_f64()
        );
    }
    println!(
        "/healthz: {} answered, {} failed; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        errors.len(),
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    if let Some(error) = errors.first() {
        println!("first /healthz failure: {error}");
    }
    println!("load average after: {}", load_average());
}
