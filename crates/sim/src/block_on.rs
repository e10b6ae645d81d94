//! Runs a future that is ready at its first poll (every future of the simulator's ports),
//! with no async runtime.

use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Polls `fut` once and returns its output.
///
/// # Panics
/// If the future is not ready at once: only futures built from the simulator's (always
/// ready) ports may be passed here.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("block_on: the future was not ready; only simulator ports are always ready"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_async_code_over_ready_futures() {
        async fn add(a: u32) -> u32 {
            std::future::ready(a).await + 1
        }
        assert_eq!(block_on(async { add(1).await + add(2).await }), 5);
    }
}
