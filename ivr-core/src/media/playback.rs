//! Prompt playback: audio is encoded once per codec at load ([`Encoded`]) and shared by every
//! call; a play request is a list of pieces (shared audio, or silence of a length) played back
//! to back; stopping (barge-in) takes effect at the next frame boundary and reports how far
//! each request got. Audio queued in one law keeps playing after the call moves to the other
//! (a re-INVITE): it is transcoded frame by frame.

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

/// One piece of a play: audio in the law the play was queued in, or a pause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// G.711 bytes (one per sample), shared.
    Audio(Arc<[u8]>),
    /// This many samples of silence.
    Silence(usize),
}

impl Piece {
    /// Its length in samples (8 per millisecond).
    pub fn len(&self) -> usize {
        match self {
            Piece::Audio(a) => a.len(),
            Piece::Silence(n) => *n,
        }
    }

    /// Whether it has no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The frames a play of `samples` samples takes at `frame` samples per frame (the last one
/// padded with silence).
pub fn frames(samples: usize, frame: usize) -> u64 {
    samples.div_ceil(frame.max(1)) as u64
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

/// What the player reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayEvent {
    /// A request began to sound (its first frame is going out now).
    Started(u64),
    /// A request ended.
    Ended(Played),
}

struct Item {
    id: u64,
    law: Law,
    pieces: Vec<Piece>,
    piece: usize,
    offset: usize,
    sent: usize,
    started: bool,
}

/// The player of one call.
pub struct Player {
    law: Law,
    frame: usize,
    queue: VecDeque<Item>,
    scratch: Vec<u8>,
    silence: Vec<u8>,
}

impl Player {
    /// A player sending `frame` bytes per packet in `law`.
    pub fn new(law: Law, frame: usize) -> Self {
        Player {
            law,
            frame,
            queue: VecDeque::new(),
            scratch: Vec::with_capacity(frame),
            silence: vec![law.silence(); frame],
        }
    }

    /// The law it sends.
    pub fn law(&self) -> Law {
        self.law
    }

    /// Sends in `law` from the next frame on; audio already queued in the other law is
    /// transcoded as it goes out.
    pub fn set_law(&mut self, law: Law) {
        self.law = law;
        self.silence.fill(law.silence());
    }

    /// Queues a request whose audio is in `law`.
    pub fn play(&mut self, id: u64, law: Law, pieces: Vec<Piece>) {
        self.queue.push_back(Item {
            id,
            law,
            pieces,
            piece: 0,
            offset: 0,
            sent: 0,
            started: false,
        });
    }

    /// Whether anything is queued.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// The next frame, or `None` when idle. Requests that start or finish are reported in
    /// `events`. A frame that lies inside one piece of audio in the player's law is a slice of
    /// the shared audio (no copy); one that crosses pieces, is silence inside audio, or needs
    /// transcoding is assembled; the last frame of a request is padded with silence.
    pub fn next_frame(&mut self, events: &mut Vec<PlayEvent>) -> Option<&[u8]> {
        let frame = self.frame;
        loop {
            let item = self.queue.front_mut()?;
            if !item.started {
                item.started = true;
                events.push(PlayEvent::Started(item.id));
            }
            // Skip empty pieces; finish the item when none are left.
            while item.piece < item.pieces.len() && item.offset >= item.pieces[item.piece].len() {
                item.piece += 1;
                item.offset = 0;
            }
            if item.piece >= item.pieces.len() {
                let ms = item.sent as u64 / 8;
                let id = item.id;
                self.queue.pop_front();
                events.push(PlayEvent::Ended(Played {
                    id,
                    ms,
                    interrupted: false,
                }));
                continue;
            }
            let same_law = item.law == self.law;
            match &item.pieces[item.piece] {
                Piece::Audio(a) if same_law && item.offset + frame <= a.len() => {
                    let start = item.offset;
                    item.offset += frame;
                    item.sent += frame;
                    let a = match self.queue.front().map(|i| &i.pieces[i.piece]) {
                        Some(Piece::Audio(a)) => a,
                        _ => return None,
                    };
                    return Some(&a[start..start + frame]);
                }
                Piece::Silence(n) if item.offset + frame <= *n => {
                    item.offset += frame;
                    item.sent += frame;
                    return Some(&self.silence);
                }
                _ => {}
            }
            // Crosses a piece boundary (or the end), or needs transcoding: assemble.
            self.scratch.clear();
            let (from, to) = (item.law, self.law);
            while self.scratch.len() < frame && item.piece < item.pieces.len() {
                let p = &item.pieces[item.piece];
                let take = (frame - self.scratch.len()).min(p.len() - item.offset);
                match p {
                    Piece::Audio(a) => {
                        let part = &a[item.offset..item.offset + take];
                        if from == to {
                            self.scratch.extend_from_slice(part);
                        } else {
                            self.scratch
                                .extend(part.iter().map(|&c| g711::transcode(from, to, c)));
                        }
                    }
                    Piece::Silence(_) => {
                        let len = self.scratch.len();
                        self.scratch.resize(len + take, to.silence());
                    }
                }
                item.offset += take;
                if item.offset >= p.len() {
                    item.piece += 1;
                    item.offset = 0;
                }
            }
            item.sent += self.scratch.len();
            self.scratch.resize(frame, to.silence());
            return Some(&self.scratch);
        }
    }

    /// Stops everything at this frame boundary; every queued request is reported.
    pub fn stop(&mut self, events: &mut Vec<PlayEvent>) {
        for item in self.queue.drain(..) {
            events.push(PlayEvent::Ended(Played {
                id: item.id,
                ms: item.sent as u64 / 8,
                interrupted: true,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: u8, n: usize) -> Piece {
        Piece::Audio(vec![v; n].into())
    }

    fn ended(events: &[PlayEvent]) -> Vec<Played> {
        events
            .iter()
            .filter_map(|e| match e {
                PlayEvent::Ended(p) => Some(*p),
                PlayEvent::Started(_) => None,
            })
            .collect()
    }

    #[test]
    fn pieces_back_to_back_and_padding_at_the_end() {
        let mut p = Player::new(Law::Pcmu, 160);
        p.play(
            1,
            Law::Pcmu,
            vec![bytes(1, 320), bytes(2, 100), bytes(3, 100)],
        );
        let mut ev = Vec::new();
        let f1 = p.next_frame(&mut ev).map(<[u8]>::to_vec);
        assert_eq!(
            ev,
            vec![PlayEvent::Started(1)],
            "reported with the first frame"
        );
        assert_eq!(f1, Some(vec![1; 160]));
        assert_eq!(
            p.next_frame(&mut ev).map(<[u8]>::to_vec),
            Some(vec![1; 160])
        );
        // 100 bytes of 2, then 60 of 3.
        let f3 = p.next_frame(&mut ev).map(<[u8]>::to_vec).expect("frame");
        assert_eq!((&f3[..100], &f3[100..]), (&[2u8; 100][..], &[3u8; 60][..]));
        // 40 bytes of 3, padded with μ-law silence.
        let f4 = p.next_frame(&mut ev).map(<[u8]>::to_vec).expect("frame");
        assert_eq!((&f4[..40], &f4[40..]), (&[3u8; 40][..], &[0xFFu8; 120][..]));
        assert_eq!(p.next_frame(&mut ev), None);
        assert_eq!(
            ended(&ev),
            vec![Played {
                id: 1,
                ms: 65,
                interrupted: false
            }]
        );
        assert_eq!(frames(520, 160), 4, "the frames it took");
    }

    #[test]
    fn a_frame_inside_a_piece_is_the_shared_audio() {
        let shared: Arc<[u8]> = vec![9u8; 1600].into();
        let mut p = Player::new(Law::Pcma, 160);
        p.play(1, Law::Pcma, vec![Piece::Audio(Arc::clone(&shared))]);
        let mut ev = Vec::new();
        let f = p.next_frame(&mut ev).expect("frame");
        assert!(std::ptr::eq(f.as_ptr(), shared.as_ptr()));
    }

    #[test]
    fn silence_pieces_are_pauses() {
        let mut p = Player::new(Law::Pcma, 160);
        p.play(1, Law::Pcma, vec![Piece::Silence(200), bytes(7, 120)]);
        let mut ev = Vec::new();
        assert_eq!(p.next_frame(&mut ev), Some(&[0xD5u8; 160][..]));
        let f = p.next_frame(&mut ev).map(<[u8]>::to_vec).expect("frame");
        assert_eq!((&f[..40], &f[40..]), (&[0xD5u8; 40][..], &[7u8; 120][..]));
        assert_eq!(p.next_frame(&mut ev), None);
        assert_eq!(ended(&ev)[0].ms, 40);
    }

    #[test]
    fn audio_queued_before_a_codec_change_is_transcoded() {
        let mut samples = Vec::new();
        g711::encode(Law::Pcmu, &[1000i16; 160], &mut samples);
        let mut p = Player::new(Law::Pcmu, 160);
        p.play(1, Law::Pcmu, vec![Piece::Audio(samples.into())]);
        p.set_law(Law::Pcma);
        let mut ev = Vec::new();
        let f = p.next_frame(&mut ev).map(<[u8]>::to_vec).expect("frame");
        let mut back = Vec::new();
        g711::decode(Law::Pcma, &f, &mut back);
        assert!(
            back.iter().all(|&s| (s - 1000).abs() < 40),
            "{:?}",
            &back[..4]
        );
    }

    #[test]
    fn stop_reports_how_far_each_request_got() {
        let mut p = Player::new(Law::Pcmu, 160);
        p.play(7, Law::Pcmu, vec![bytes(1, 8000)]);
        p.play(8, Law::Pcmu, vec![bytes(2, 800)]);
        let mut ev = Vec::new();
        for _ in 0..10 {
            p.next_frame(&mut ev);
        }
        ev.clear();
        p.stop(&mut ev);
        assert_eq!(
            ended(&ev),
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
