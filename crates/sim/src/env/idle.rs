//! The idle environments of a pool: the times they became idle, oldest first. Taken from the
//! back (the most recently used serves first), reaped from the front.
//!
//! A vector and the position of its front rather than a `VecDeque`: every simulated call
//! looks at both ends and most push or pop one, and here those are a plain vector's `last`,
//! `push` and `pop` and one index, with no wrap-around. The reaped front is dropped when
//! the queue empties, or compacted once it is the larger part of the buffer.

/// Reaped entries tolerated at the front before the buffer is compacted.
const COMPACT_AFTER: usize = 256;

#[derive(Debug, Clone, Default)]
pub(super) struct IdleQueue {
    /// `times[head..]` are the idle environments; `head` is 0 whenever that is empty.
    times: Vec<f64>,
    head: usize,
}

impl IdleQueue {
    pub fn len(&self) -> usize {
        self.times.len() - self.head
    }

    /// When the environment idle longest became idle.
    #[inline]
    pub fn front(&self) -> Option<f64> {
        self.times.get(self.head).copied()
    }

    /// When the most recently used idle environment became idle.
    #[inline]
    pub fn back(&self) -> Option<f64> {
        self.times.last().copied()
    }

    #[inline]
    pub fn push_back(&mut self, since: f64) {
        self.times.push(since);
    }

    #[inline]
    pub fn pop_back(&mut self) -> Option<f64> {
        let since = self.times.pop();
        if self.times.len() == self.head {
            self.clear();
        }
        since
    }

    #[inline]
    pub fn pop_front(&mut self) {
        if self.head < self.times.len() {
            self.head += 1;
            if self.head == self.times.len() {
                self.clear();
            } else if self.head >= COMPACT_AFTER && self.head * 2 >= self.times.len() {
                self.times.drain(..self.head);
                self.head = 0;
            }
        }
    }

    /// Keeps the `len` idle longest.
    pub fn truncate(&mut self, len: usize) {
        if len == 0 {
            self.clear();
        } else {
            self.times.truncate(self.head + len);
        }
    }

    /// Adds `n` environments idle since `since` at the back.
    pub fn push_n(&mut self, since: f64, n: usize) {
        self.times.extend(std::iter::repeat_n(since, n));
    }

    pub fn clear(&mut self) {
        self.times.clear();
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// The queue against a `VecDeque` under a long mixed sequence of every operation.
    #[test]
    fn behaves_as_a_deque() {
        let (mut q, mut d) = (IdleQueue::default(), VecDeque::new());
        let mut state = 7u64;
        for step in 0..200_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let t = step as f64;
            match (state >> 33) % 10 {
                0..=3 => {
                    q.push_back(t);
                    d.push_back(t);
                }
                4 => assert_eq!(q.pop_back(), d.pop_back()),
                5..=7 => {
                    q.pop_front();
                    d.pop_front();
                }
                8 => {
                    let n = ((state >> 40) % 5) as usize;
                    q.push_n(t, n);
                    d.extend(std::iter::repeat_n(t, n));
                }
                _ => {
                    let keep = d.len().saturating_sub(((state >> 40) % 3) as usize);
                    q.truncate(keep);
                    d.truncate(keep);
                }
            }
            assert_eq!((q.len(), q.front(), q.back()), (d.len(), d.front().copied(), d.back().copied()));
        }
    }
}
