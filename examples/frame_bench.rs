//! P4 and P5: drives the real window code headlessly (an `egui::Context`, no GPU) over a database
//! and prints frame times while opening Tokens, scrolling to the middle and the end, and searching.
//!
//! `cargo run --release --example frame_bench -- DB.sqlite3`. Frame time is the wall time of one
//! `Context::run_ui` on the UI thread (drawing and layout; background threads not included).

use std::time::{Duration, Instant};

use egui::{
    Event, Modifiers, MouseWheelSource, MouseWheelUnit, Pos2, RawInput, Rect, TouchPhase, vec2,
};
use tokendesk::TokenDeskApp;
use tokendesk::desk::Desk;
use tokendesk::ui::ViewState;

struct Driver {
    ctx: egui::Context,
    app: TokenDeskApp,
    started: Instant,
    frame_times: Vec<Duration>,
    /// Whether the last frame asked for another one soon (an animation, a scroll in progress).
    wants_repaint: bool,
}

impl Driver {
    fn frame(&mut self, events: Vec<Event>) -> Duration {
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, vec2(1280.0, 800.0))),
            time: Some(self.started.elapsed().as_secs_f64()),
            events,
            ..RawInput::default()
        };
        let start = Instant::now();
        let app = &mut self.app;
        let output = self.ctx.run_ui(input, |ui| app.show(ui));
        let took = start.elapsed();
        self.wants_repaint = output
            .viewport_output
            .values()
            .any(|viewport| viewport.repaint_delay < Duration::from_millis(100));
        self.frame_times.push(took);
        took
    }

    /// Runs frames (about 60 per second, as the window would) until the app's background work
    /// is done, then up to a second more while an animation (a scroll) asks for frames.
    fn settle(&mut self) -> Duration {
        let start = Instant::now();
        // The window repaints as soon as a background job reports (its wake-up callback asks
        // for a repaint), so a finished job is drawn within a couple of milliseconds, not at
        // the next 16 ms tick: poll as often.
        for _ in 0..20_000 {
            self.frame(vec![pointer_over_table()]);
            if !self.app.is_busy() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let busy_done = start.elapsed();
        for _ in 0..60 {
            if !self.wants_repaint {
                break;
            }
            std::thread::sleep(Duration::from_millis(16));
            self.frame(vec![pointer_over_table()]);
        }
        for _ in 0..3 {
            self.frame(vec![pointer_over_table()]);
        }
        busy_done
    }

    fn wheel(&mut self, points: f32) {
        self.frame(vec![
            pointer_over_table(),
            Event::MouseWheel {
                unit: MouseWheelUnit::Point,
                delta: vec2(0.0, points),
                phase: TouchPhase::Move,
                source: MouseWheelSource::Wheel,
                modifiers: Modifiers::NONE,
            },
        ]);
    }
}

/// The token number the table fetched for `row`, proving the jump read that page.
fn fetched_row(app: &TokenDeskApp, row: usize) -> String {
    app.data()
        .tokens
        .row(row)
        .map_or_else(|| "(not fetched)".to_owned(), |t| t.number.clone())
}

fn pointer_over_table() -> Event {
    Event::PointerMoved(Pos2::new(500.0, 400.0))
}

fn percentile(times: &[Duration], fraction: f64) -> f64 {
    let mut sorted: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or(0.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: frame_bench DB.sqlite3")?;
    let started = Instant::now();
    let desk = Desk::open(std::path::Path::new(&path), "bench")?;
    let app = TokenDeskApp::new(desk, ViewState::default());
    let mut driver = Driver {
        ctx: egui::Context::default(),
        app,
        started,
        frame_times: Vec::new(),
        wants_repaint: false,
    };
    driver.frame(vec![pointer_over_table()]);
    let first_frame = started.elapsed();
    let ready = driver.settle();
    let open_frames = std::mem::take(&mut driver.frame_times);

    // Scroll: jump to the middle (as a drag of the scroll bar would), steady wheel steps there,
    // then to the end and wheel back up.
    let rows = driver.app.data().tokens.row_count();
    driver.app.scroll_tokens_to_row(rows / 2);
    driver.settle();
    let middle_row = fetched_row(&driver.app, rows / 2);
    for _ in 0..60 {
        driver.wheel(-120.0);
    }
    driver.settle();
    driver.app.scroll_tokens_to_row(rows.saturating_sub(1));
    driver.settle();
    let end_row = fetched_row(&driver.app, rows.saturating_sub(1));
    for _ in 0..60 {
        driver.wheel(120.0);
    }
    let scroll_frames = std::mem::take(&mut driver.frame_times);

    // Search: Ctrl+F focuses the search field; typing starts the search.
    driver.frame(vec![Event::Key {
        key: egui::Key::F,
        physical_key: None,
        pressed: true,
        repeat: false,
        modifiers: Modifiers::COMMAND,
    }]);
    // Several searches (name, code, token number, participant number), each replacing the
    // last (Ctrl+A, then typing): one sample alone is at the mercy of the frame loop's 16 ms
    // sleeps and of whatever else the machine does.
    let mut search_latencies = Vec::new();
    let mut found = Vec::new();
    for text in ["ada lov", "grace", "PSN", "AT00007", "RP00000123"] {
        driver.frame(vec![Event::Key {
            key: egui::Key::A,
            physical_key: None,
            pressed: true,
            repeat: false,
            modifiers: Modifiers::COMMAND,
        }]);
        let search_started = Instant::now();
        driver.frame(vec![Event::Text(text.to_owned())]);
        // Answered when the app has its rows (not counting the idle frames that follow).
        search_latencies.push(search_started.elapsed() + driver.settle());
        let latency_ms = search_latencies.last().map_or(0.0, Duration::as_secs_f64) * 1000.0;
        found.push(format!(
            "{text:?} {} in {latency_ms:.0} ms",
            driver.app.data().tokens.row_count()
        ));
    }
    let search_frames = std::mem::take(&mut driver.frame_times);

    let all: Vec<Duration> = open_frames
        .iter()
        .chain(&scroll_frames)
        .chain(&search_frames)
        .copied()
        .collect();
    let p95 = percentile(&all, 0.95);
    let verdict = |met: bool| if met { "MET" } else { "MISSED" };
    println!(
        "P4   frame time over {} frames (open, scroll to middle and end, search): p50 {:.2} ms, p95 {:.2} ms (target p95 < 8 ms)  {}",
        all.len(),
        percentile(&all, 0.5),
        p95,
        verdict(p95 < 8.0)
    );
    println!(
        "P4     open {:.2}/{:.2} ms, scroll {:.2}/{:.2} ms, search {:.2}/{:.2} ms (p50/p95); index ready after {:.0} ms",
        percentile(&open_frames, 0.5),
        percentile(&open_frames, 0.95),
        percentile(&scroll_frames, 0.5),
        percentile(&scroll_frames, 0.95),
        percentile(&search_frames, 0.5),
        percentile(&search_frames, 0.95),
        ready.as_secs_f64() * 1000.0
    );
    println!("P4     rows shown after the jumps: middle {middle_row}, end {end_row} (of {rows})");
    let search_ms = percentile(&search_latencies, 0.5);
    let worst_ms = percentile(&search_latencies, 1.0);
    println!(
        "P4   prefix search answered in {search_ms:.1} ms (median of {}; slowest {worst_ms:.1} ms), frames included (target < 50 ms)  {}",
        search_latencies.len(),
        verdict(search_ms < 50.0)
    );
    println!("P4     tokens found: {}", found.join(", "));
    let first_ms = first_frame.as_secs_f64() * 1000.0;
    println!(
        "P5   start to first frame (open database, build the app, draw once; no GPU): {first_ms:.1} ms (target < 500 ms)  {}",
        verdict(first_ms < 500.0)
    );
    Ok(())
}
