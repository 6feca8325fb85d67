//! Prints the median time of one argon2id hash with production parameters, in seconds.
//! `scripts/bench` uses it as P2's `t_hash`.

use std::time::Instant;

use tokendesk::domain::{Secret, SecretHasher};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hasher = SecretHasher::default();
    let mut memory = hasher.memory();
    let secret = Secret::new("benchmark pass code");
    let mut times = Vec::new();
    for _ in 0..15 {
        let start = Instant::now();
        hasher.hash_reusing(&secret, &mut memory)?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{:.6} seconds per argon2id hash (m={}, t={}, p={})",
        times[times.len() / 2],
        hasher.params().m_cost(),
        hasher.params().t_cost(),
        hasher.params().p_cost()
    );
    Ok(())
}
