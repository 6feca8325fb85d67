//! Draws from the operating system's secure random source, without panicking when it fails.

use rand::TryRng as _;
use rand::rngs::SysRng;

/// The operating system refused to hand out random bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random source is not available")]
pub struct RandomSourceError;

/// Fills `bytes` from the operating system's secure random source.
pub fn fill(bytes: &mut [u8]) -> Result<(), RandomSourceError> {
    SysRng.try_fill_bytes(bytes).map_err(|_| RandomSourceError)
}

/// Returns `count` indices, each uniformly drawn from `0..bound` (`bound` ≥ 1).
///
/// Rejection sampling on bytes avoids the bias a plain modulo would add.
pub fn indices(bound: usize, count: usize) -> Result<Vec<usize>, RandomSourceError> {
    let bound = bound.clamp(1, 1 << 16);
    let mut out = Vec::with_capacity(count);
    let mut buffer = [0u8; 64];
    while out.len() < count {
        fill(&mut buffer)?;
        for pair in buffer.chunks_exact(2) {
            let value = usize::from(u16::from_le_bytes([pair[0], pair[1]]));
            let zone = (1usize << 16) - ((1usize << 16) % bound);
            if value < zone {
                out.push(value % bound);
                if out.len() == count {
                    break;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_stay_below_the_bound_and_cover_it() {
        let drawn = indices(10, 2000).unwrap();
        assert!(drawn.iter().all(|&i| i < 10));
        for digit in 0..10 {
            assert!(drawn.contains(&digit), "{digit} never drawn in 2000 tries");
        }
    }
}
