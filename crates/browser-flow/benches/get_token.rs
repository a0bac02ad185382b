//! Criterion benchmarks of `InteractiveBrowserCredential::get_token` against the mock Entra ID:
//! a cached token on one task and on every core, 1,000 concurrent calls on an expired token
//! (and how many token requests they cause), and a whole interactive sign-in with the
//! headless browser stand-in (and how many requests it makes).

// A bench program, like a test, stops loudly on a broken set-up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use entra_testing::{Endpoint, MockEntra};
use support::GRAPH;
use tokio::runtime::Runtime;

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn multi_thread(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

/// A cached token: one task in a loop, then one task per core.
fn cached(c: &mut Criterion) {
    let rt = multi_thread(cores());
    let mock = rt.block_on(MockEntra::start()).unwrap();
    let credential = support::credential(&mock);
    rt.block_on(credential.get_token(&[GRAPH], None)).unwrap();
    mock.clear_log();

    let mut group = c.benchmark_group("get_token_cached");
    let one = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_task", |b| {
        b.iter_custom(|iters| {
            one.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(
                        credential
                            .get_token(black_box(&[GRAPH]), None)
                            .await
                            .unwrap(),
                    );
                }
                start.elapsed()
            })
        });
    });

    let tasks = cores();
    // Time per iteration = one call on each of `tasks` tasks running at once; criterion's
    // throughput turns that into calls per second for the whole machine. Each task runs on
    // its own OS thread (a current-thread runtime each): tasks that never wait would otherwise
    // be run one after the other by a shared runtime's worker, measuring no parallelism.
    group.throughput(Throughput::Elements(tasks as u64));
    group.bench_function(format!("{tasks}_tasks_on_{tasks}_cores"), |b| {
        b.iter_custom(|iters| {
            let barrier = Arc::new(std::sync::Barrier::new(tasks));
            let threads: Vec<_> = (0..tasks)
                .map(|_| {
                    let credential = Arc::clone(&credential);
                    let barrier = Arc::clone(&barrier);
                    std::thread::spawn(move || {
                        let local = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .unwrap();
                        local.block_on(async {
                            // Warm this thread's path once, then start together.
                            black_box(credential.get_token(&[GRAPH], None).await.unwrap());
                            barrier.wait();
                            let start = Instant::now();
                            for _ in 0..iters {
                                black_box(credential.get_token(&[GRAPH], None).await.unwrap());
                            }
                            start.elapsed()
                        })
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .max()
                .unwrap_or_default()
        });
    });
    group.finish();
    assert_eq!(
        mock.total_requests(),
        0,
        "cached calls never reach the mock"
    );
}

/// 1,000 concurrent calls for a token that has just expired: they must share one refresh.
///
/// Not a criterion loop: each stampede needs a token that was fresh a moment ago and is
/// expired now. The mock issues tokens living 5 minutes + 2 seconds, so a new token is fresh
/// for 2 seconds and then inside the 5-minute refresh margin; each stampede starts after that
/// (a token that is stale on arrival would be refreshed again by callers arriving after the
/// refresh, which is not the case measured here).
fn stampede(stampedes: usize) {
    const CALLERS: usize = 1_000;
    const FRESH_FOR: Duration = Duration::from_secs(2);
    let rt = multi_thread(cores());
    let mock = rt
        .block_on(
            MockEntra::builder()
                .token_lifetime(Duration::from_secs(300) + FRESH_FOR)
                .start(),
        )
        .unwrap();
    let credential = support::credential(&mock);
    rt.block_on(credential.get_token(&[GRAPH], None)).unwrap();
    let mut requests = Vec::new();
    let mut times = Vec::new();
    for _ in 0..stampedes {
        std::thread::sleep(FRESH_FOR + Duration::from_millis(200));
        let before = mock.count(Endpoint::Token);
        let elapsed = rt.block_on(async {
            let barrier = Arc::new(tokio::sync::Barrier::new(CALLERS + 1));
            let handles: Vec<_> = (0..CALLERS)
                .map(|_| {
                    let credential = Arc::clone(&credential);
                    let barrier = Arc::clone(&barrier);
                    tokio::spawn(async move {
                        barrier.wait().await;
                        credential.get_token(&[GRAPH], None).await.unwrap()
                    })
                })
                .collect();
            barrier.wait().await;
            let start = Instant::now();
            for h in handles {
                black_box(h.await.unwrap());
            }
            start.elapsed()
        });
        requests.push(mock.count(Endpoint::Token) - before);
        times.push(elapsed.as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let max = requests.iter().copied().max().unwrap_or(0);
    let min = requests.iter().copied().min().unwrap_or(0);
    support::record(
        "1,000 concurrent get_token on an expired token: token requests per stampede (max)",
        max as f64,
        "requests",
        &format!("must be 1; min {min} over {stampedes} stampedes of {CALLERS} callers"),
    );
    support::record(
        "1,000 concurrent get_token on an expired token: all 1,000 answered (median)",
        times[times.len() / 2],
        "ms",
        &format!(
            "from release to the last answer, one refresh included; min {:.1} ms, max {:.1} ms",
            times[0],
            times[times.len() - 1]
        ),
    );
}

/// A whole interactive sign-in: a new credential, the loopback server, the stand-in browser
/// following the authorize URL and posting the form, the code redemption.
fn sign_in(c: &mut Criterion) {
    let rt = multi_thread(cores());
    let mock = rt.block_on(MockEntra::start()).unwrap();
    let sign_ins = AtomicU64::new(0);
    let requests = AtomicU64::new(0);

    let mut group = c.benchmark_group("interactive_sign_in");
    group.sample_size(10);
    group.bench_function("end_to_end_with_stand_in_browser", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let credential = support::credential(&mock);
                let before = mock.total_requests();
                let start = Instant::now();
                black_box(rt.block_on(credential.get_token(&[GRAPH], None)).unwrap());
                total += start.elapsed();
                requests.fetch_add(mock.total_requests() - before, Ordering::Relaxed);
                sign_ins.fetch_add(1, Ordering::Relaxed);
                mock.clear_log();
            }
            total
        });
    });
    group.finish();

    let n = sign_ins.load(Ordering::Relaxed);
    support::record(
        "interactive sign-in: requests to Entra ID per sign-in",
        requests.load(Ordering::Relaxed) as f64 / n.max(1) as f64,
        "requests",
        &format!("mean over {n} sign-ins (authorize page + code redemption)"),
    );
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    cached(&mut c);
    sign_in(&mut c);
    stampede(if support::bench_mode() { 5 } else { 1 });
    c.final_summary();
    if support::bench_mode() {
        support::write("get_token");
    }
}
