//! Prompt playback: audio is encoded once per codec at load ([`Encoded`]) and shared by every
//! call; a play request is a list of fragments played back to back; stopping (barge-in) takes
//! effect at the next frame boundary and reports how far each request got.

use super::g711::{self, Law};
use std::collections::VecDeque;
use std::sync::Arc;

/// One piece of audio in both G.711 laws.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// μ-law bytes.
    pub pcmu: Arc<[u8]>,
    /// A-law bytes.
    pub pcma: Arc<[u8]>,
}

impl Encoded {
    /// Encodes 8 kHz samples once.
    pub fn new(samples: &[i16]) -> Self {
        let (mut u, mut a) = (Vec::new(), Vec::new());
        g711::encode(Law::Pcmu, samples, &mut u);
        g711::encode(Law::Pcma, samples, &mut a);
        Encoded {
            pcmu: u.into(),
            pcma: a.into(),
        }
    }

    /// The bytes in one law.
    pub fn get(&self, law: Law) -> &Arc<[u8]> {
        match law {
            Law::Pcmu => &self.pcmu,
            Law::Pcma => &self.pcma,
        }
    }
}

/// The beep before a recording: 400 ms of 1 kHz at −12 dBm0, with 5 ms ramps.
pub fn beep() -> Vec<i16> {
    let amp = super::sine_amplitude(-12.0);
    let n = 3200;
    (0..n)
        .map(|i| {
            let ramp = (i.min(n - 1 - i) as f32 / 40.0).min(1.0);
            (amp * ramp * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 8000.0).sin()) as i16
        })
        .collect()
}

/// A play request that ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Played {
    /// Its id.
    pub id: u64,
    /// How much of it was sent, in ms.
    pub ms: u64,
    /// Whether it was stopped before its end.
    pub interrupted: bool,
}

struct Item {
    id: u64,
    fragments: Vec<Arc<[u8]>>,
    frag: usize,
    offset: usize,
    sent: usize,
}

/// The player of one call.
pub struct Player {
    law: Law,
    frame: usize,
    queue: VecDeque<Item>,
    scratch: Vec<u8>,
}

impl Player {
    /// A player sending `frame` bytes per packet in `law`.
    pub fn new(law: Law, frame: usize) -> Self {
        Player {
            law,
            frame,
            queue: VecDeque::new(),
            scratch: Vec::with_capacity(frame),
        }
    }

    /// The law it sends.
    pub fn law(&self) -> Law {
        self.law
    }

    /// Queues a request.
    pub fn play(&mut self, id: u64, fragments: Vec<Arc<[u8]>>) {
        self.queue.push_back(Item {
            id,
            fragments,
            frag: 0,
            offset: 0,
            sent: 0,
        });
    }

    /// Whether anything is queued.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// The next frame, or `None` when idle. Requests that finish are appended to `done`. A
    /// frame that lies inside one fragment is a slice of the shared audio (no copy); one that
    /// crosses fragments is assembled; the last frame of a request is padded with silence.
    pub fn next_frame(&mut self, done: &mut Vec<Played>) -> Option<&[u8]> {
        let frame = self.frame;
        let silence = self.law.silence();
        loop {
            let item = self.queue.front_mut()?;
            // Skip empty fragments; finish the item when none are left.
            while item.frag < item.fragments.len() && item.offset >= item.fragments[item.frag].len()
            {
                item.frag += 1;
                item.offset = 0;
            }
            if item.frag >= item.fragments.len() {
                let ms = item.sent as u64 / 8;
                let id = item.id;
                self.queue.pop_front();
                done.push(Played {
                    id,
                    ms,
                    interrupted: false,
                });
                continue;
            }
            let f = &item.fragments[item.frag];
            if item.offset + frame <= f.len() {
                let start = item.offset;
                item.offset += frame;
                item.sent += frame;
                let f = &self.queue.front()?.fragments[self.queue.front()?.frag];
                return Some(&f[start..start + frame]);
            }
            // Crosses a fragment boundary (or the end): assemble.
            self.scratch.clear();
            while self.scratch.len() < frame && item.frag < item.fragments.len() {
                let f = &item.fragments[item.frag];
                let take = (frame - self.scratch.len()).min(f.len() - item.offset);
                self.scratch
                    .extend_from_slice(&f[item.offset..item.offset + take]);
                item.offset += take;
                if item.offset >= f.len() {
                    item.frag += 1;
                    item.offset = 0;
                }
            }
            item.sent += self.scratch.len();
            self.scratch.resize(frame, silence);
            return Some(&self.scratch);
        }
    }

    /// Stops everything at this frame boundary; every queued request is reported.
    pub fn stop(&mut self, done: &mut Vec<Played>) {
        for item in self.queue.drain(..) {
            done.push(Played {
                id: item.id,
                ms: item.sent as u64 / 8,
                interrupted: true,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: u8, n: usize) -> Arc<[u8]> {
        vec![v; n].into()
    }

    #[test]
    fn fragments_back_to_back_and_padding_at_the_end() {
        let mut p = Player::new(Law::Pcmu, 160);
        p.play(1, vec![bytes(1, 320), bytes(2, 100), bytes(3, 100)]);
        let mut done = Vec::new();
        let f1 = p.next_frame(&mut done).map(<[u8]>::to_vec);
        assert_eq!(f1, Some(vec![1; 160]));
        assert_eq!(
            p.next_frame(&mut done).map(<[u8]>::to_vec),
            Some(vec![1; 160])
        );
        // 100 bytes of 2, then 60 of 3.
        let f3 = p.next_frame(&mut done).map(<[u8]>::to_vec).expect("frame");
        assert_eq!((&f3[..100], &f3[100..]), (&[2u8; 100][..], &[3u8; 60][..]));
        // 40 bytes of 3, padded with μ-law silence.
        let f4 = p.next_frame(&mut done).map(<[u8]>::to_vec).expect("frame");
        assert_eq!((&f4[..40], &f4[40..]), (&[3u8; 40][..], &[0xFFu8; 120][..]));
        assert_eq!(p.next_frame(&mut done), None);
        assert_eq!(
            done,
            vec![Played {
                id: 1,
                ms: 65,
                interrupted: false
            }]
        );
    }

    #[test]
    fn a_frame_inside_a_fragment_is_the_shared_audio() {
        let shared = bytes(9, 1600);
        let mut p = Player::new(Law::Pcma, 160);
        p.play(1, vec![Arc::clone(&shared)]);
        let mut done = Vec::new();
        let f = p.next_frame(&mut done).expect("frame");
        assert!(std::ptr::eq(f.as_ptr(), shared.as_ptr()));
    }

    #[test]
    fn stop_reports_how_far_each_request_got() {
        let mut p = Player::new(Law::Pcmu, 160);
        p.play(7, vec![bytes(1, 8000)]);
        p.play(8, vec![bytes(2, 800)]);
        let mut done = Vec::new();
        for _ in 0..10 {
            p.next_frame(&mut done);
        }
        p.stop(&mut done);
        assert_eq!(
            done,
            vec![
                Played {
                    id: 7,
                    ms: 200,
                    interrupted: true
                },
                Played {
                    id: 8,
                    ms: 0,
                    interrupted: true
                }
            ]
        );
        assert!(p.is_idle());
    }

    #[test]
    fn encoded_once_in_both_laws() {
        let e = Encoded::new(&beep());
        assert_eq!(e.get(Law::Pcmu).len(), 3200);
        assert_eq!(e.get(Law::Pcma).len(), 3200);
        assert_ne!(e.pcmu, e.pcma);
    }
}
