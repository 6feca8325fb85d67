//! Measures the listing and search queries the Tokens panel relies on, on an existing database.
//!
//! `cargo run --release --example query_latency -- DB.sqlite3` prints one line per query with its
//! median time over a few runs. Used by `scripts/bench` for P4's search latency.

use std::time::{Duration, Instant};

use tokendesk::desk::{SortDirection, TokenFilter, TokenSort};
use tokendesk::storage::Store;

fn median_time(runs: usize, mut work: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: query_latency DB.sqlite3")?;
    let store = Store::open(std::path::Path::new(&path))?;
    let db = store.db();
    let all = TokenFilter::default();
    let report =
        |name: &str, time: Duration| println!("{name:<40} {:>9.2} ms", time.as_secs_f64() * 1000.0);

    let mut total = 0;
    report(
        "count all tokens",
        median_time(3, || total = db.count_all_tokens().unwrap_or(0)),
    );
    report(
        "first page (60 rows)",
        median_time(5, || {
            db.list_tokens(&all, TokenSort::Number, SortDirection::Ascending, None, 60)
                .ok();
        }),
    );
    let mut anchors = Vec::new();
    report(
        "anchors, stride 1000 (background)",
        median_time(3, || {
            anchors = db
                .counted_token_anchors(
                    &all,
                    TokenSort::Number,
                    SortDirection::Ascending,
                    1000,
                    &|| false,
                )
                .map(|(anchors, _)| anchors)
                .unwrap_or_default();
        }),
    );
    let middle = anchors.get(anchors.len() / 2).cloned().flatten();
    report(
        "page in the middle (60 rows)",
        median_time(5, || {
            db.list_tokens(
                &all,
                TokenSort::Number,
                SortDirection::Ascending,
                middle.as_ref(),
                60,
            )
            .ok();
        }),
    );
    let last = anchors.last().cloned().flatten();
    report(
        "page at the end (60 rows)",
        median_time(5, || {
            db.list_tokens(
                &all,
                TokenSort::Number,
                SortDirection::Ascending,
                last.as_ref(),
                60,
            )
            .ok();
        }),
    );
    let sample = db.list_tokens(
        &all,
        TokenSort::Number,
        SortDirection::Ascending,
        middle.as_ref(),
        1,
    )?;
    let code_prefix = sample
        .first()
        .map(|t| t.authentication_code[..6].to_owned())
        .unwrap_or_default();
    for (name, text) in [
        ("prefix search: authentication code", code_prefix.as_str()),
        ("prefix search: token number", "AT00005"),
        ("prefix search: owner name", "ada lo"),
        ("prefix search: a common first name", "grace"),
        ("prefix search: one letter", "a"),
    ] {
        let filter = TokenFilter {
            text: text.to_owned(),
            ..TokenFilter::default()
        };
        report(
            name,
            median_time(5, || {
                db.list_tokens(
                    &filter,
                    TokenSort::Number,
                    SortDirection::Ascending,
                    None,
                    60,
                )
                .ok();
            }),
        );
        report(
            &format!("{name} (count)"),
            median_time(3, || {
                db.count_tokens(&filter).ok();
            }),
        );
    }
    println!("tokens: {total}");
    Ok(())
}
