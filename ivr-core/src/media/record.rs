//! Recording the caller, sans-IO: decoded audio goes in; the recording ends at its maximum
//! length, on trailing silence after speech (energy-based voice activity detection), on the
//! finish key (whose tone is held back and dropped, so it is not in the recording), or when
//! stopped. The audio to keep is handed out in pieces ([`Recorder::take_audio`]); the result
//! says how long it is, why it ended and whether any speech was heard.

use std::collections::VecDeque;

/// Limits of one recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordConfig {
    /// Longest recording.
    pub max_ms: u64,
    /// Silence after speech that ends it.
    pub silence_ms: u64,
    /// Ends it if no speech at all comes this long.
    pub initial_ms: u64,
    /// A frame is speech above this level (dBm0).
    pub speech_dbm0: i32,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            max_ms: 60_000,
            silence_ms: 3_000,
            initial_ms: 5_000,
            speech_dbm0: -40,
        }
    }
}

/// Why a recording ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It reached its maximum length.
    Max,
    /// Silence after speech.
    Silence,
    /// No speech at all.
    NoSpeech,
    /// The finish key.
    Key,
    /// Stopped (caller hung up, call ended).
    Stopped,
}

/// What a recording came to (the audio itself went out through [`Recorder::take_audio`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// Length of the audio kept, ms.
    pub duration_ms: u64,
    /// Why it ended.
    pub ended: Ended,
    /// Whether any speech was heard (an empty recording can be asked for again).
    pub speech: bool,
}

/// Audio held back so that a finish key's tone can be dropped (in-band detection needs
/// about 40 ms to recognise a key; RFC 4733 events arrive about as fast).
const HOLD: usize = 8 * 120;
/// Voice activity is judged on 20 ms frames.
const FRAME: usize = 160;

/// One recording in progress. Sans-IO: the audio to keep collects in the recorder until it is
/// taken ([`Recorder::take_audio`]); writing it anywhere is the caller's business.
#[derive(Clone, Debug)]
pub struct Recorder {
    c: RecordConfig,
    audio: Vec<i16>,
    held: VecDeque<i16>,
    written: u64,
    total: u64,
    speech: bool,
    quiet: u64,
    frame: Vec<i16>,
    threshold: f64,
    ended: Option<Ended>,
}

impl Recorder {
    /// Starts a recording.
    pub fn new(c: RecordConfig) -> Recorder {
        let threshold = 2.6145e8 * 10f64.powf(f64::from(c.speech_dbm0) / 10.0);
        Recorder {
            c,
            audio: Vec::new(),
            held: VecDeque::with_capacity(HOLD + FRAME),
            written: 0,
            total: 0,
            speech: false,
            quiet: 0,
            frame: Vec::with_capacity(FRAME),
            threshold,
            ended: None,
        }
    }

    /// Adds decoded audio; returns why it ended, once it has.
    pub fn push(&mut self, samples: &[i16]) -> Option<Ended> {
        if self.ended.is_some() {
            return self.ended;
        }
        let max = self.c.max_ms * 8;
        for &s in samples {
            if self.total >= max {
                return self.end(Ended::Max, false);
            }
            self.total += 1;
            self.held.push_back(s);
            if self.held.len() > HOLD {
                let n = self.held.len() - HOLD;
                self.written += n as u64;
                self.audio.extend(self.held.drain(..n));
            }
            self.frame.push(s);
            if self.frame.len() == FRAME {
                let power = self
                    .frame
                    .iter()
                    .map(|&x| f64::from(x).powi(2))
                    .sum::<f64>()
                    / FRAME as f64;
                self.frame.clear();
                if power > self.threshold {
                    self.speech = true;
                    self.quiet = 0;
                } else {
                    self.quiet += FRAME as u64;
                }
                if self.speech && self.quiet >= self.c.silence_ms * 8 {
                    return self.end(Ended::Silence, false);
                }
                if !self.speech && self.total >= self.c.initial_ms * 8 {
                    return self.end(Ended::NoSpeech, false);
                }
            }
        }
        if self.total >= max {
            return self.end(Ended::Max, false);
        }
        None
    }

    /// The finish key was pressed: the held-back audio (its tone) is dropped.
    pub fn finish_key(&mut self) -> Option<Ended> {
        if self.ended.is_some() {
            return self.ended;
        }
        self.end(Ended::Key, true)
    }

    /// Stops (the call ended).
    pub fn stop(&mut self) -> Option<Ended> {
        if self.ended.is_some() {
            return self.ended;
        }
        self.end(Ended::Stopped, false)
    }

    fn end(&mut self, why: Ended, drop_held: bool) -> Option<Ended> {
        if drop_held {
            self.held.clear();
        } else {
            self.written += self.held.len() as u64;
            self.audio.extend(self.held.drain(..));
        }
        self.ended = Some(why);
        self.ended
    }

    /// Samples kept so far and not yet taken (audio held back for the finish key is not
    /// among them until the recording ends).
    pub fn pending(&self) -> usize {
        self.audio.len()
    }

    /// Moves the kept samples not yet taken onto `out`.
    pub fn take_audio(&mut self, out: &mut Vec<i16>) {
        out.append(&mut self.audio);
    }

    /// Whether it has ended, and why.
    pub fn ended(&self) -> Option<Ended> {
        self.ended
    }

    /// Ends it (stopped, if nothing ended it before) and says what it came to; the rest of
    /// the audio is left for [`Recorder::take_audio`].
    pub fn finish(&mut self) -> Recorded {
        if self.ended.is_none() {
            self.end(Ended::Stopped, false);
        }
        Recorded {
            duration_ms: self.written / 8,
            ended: self.ended.unwrap_or(Ended::Stopped),
            speech: self.speech,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speech(ms: u64) -> Vec<i16> {
        (0..ms * 8)
            .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
            .collect()
    }

    fn quiet(ms: u64) -> Vec<i16> {
        (0..ms * 8).map(|i| (i % 7) as i16 - 3).collect()
    }

    #[test]
    fn trailing_silence_after_speech_ends_it() {
        let mut r = Recorder::new(RecordConfig {
            silence_ms: 1000,
            ..Default::default()
        });
        let mut kept = Vec::new();
        assert_eq!(r.push(&speech(2000)), None);
        r.take_audio(&mut kept);
        assert_eq!(kept.len(), 2000 * 8 - HOLD, "all but the held-back audio");
        let mut ended = None;
        for chunk in quiet(3000).chunks(160) {
            if let Some(e) = r.push(chunk) {
                ended = Some(e);
                break;
            }
        }
        assert_eq!(ended, Some(Ended::Silence));
        let res = r.finish();
        r.take_audio(&mut kept);
        assert_eq!(res.ended, Ended::Silence);
        assert!(res.speech);
        assert_eq!(res.duration_ms, 3000);
        assert_eq!(kept.len(), 3000 * 8, "exactly that audio");
        assert_eq!(&kept[..100], &speech(2000)[..100]);
    }

    #[test]
    fn max_length() {
        let mut r = Recorder::new(RecordConfig {
            max_ms: 1500,
            ..Default::default()
        });
        assert_eq!(r.push(&speech(3000)), Some(Ended::Max));
        assert_eq!(r.finish().duration_ms, 1500);
        let mut kept = Vec::new();
        r.take_audio(&mut kept);
        assert_eq!(kept.len(), 1500 * 8);
    }

    #[test]
    fn finish_key_tone_is_not_recorded() {
        let mut r = Recorder::new(RecordConfig::default());
        r.push(&speech(2000));
        r.push(&speech(100)); // the key's tone, recognised after it
        assert_eq!(r.finish_key(), Some(Ended::Key));
        let res = r.finish();
        // 2.1 s pushed, the last 120 ms (the key) dropped.
        assert_eq!(res.duration_ms, 1980);
        assert_eq!(res.ended, Ended::Key);
        let mut kept = Vec::new();
        r.take_audio(&mut kept);
        assert_eq!(kept.len(), 1980 * 8);
    }

    #[test]
    fn silence_only_is_flagged() {
        let mut r = Recorder::new(RecordConfig {
            initial_ms: 2000,
            ..Default::default()
        });
        assert_eq!(r.push(&quiet(5000)), Some(Ended::NoSpeech));
        let res = r.finish();
        assert!(!res.speech);
        assert_eq!(res.duration_ms, 2000);
    }
}
