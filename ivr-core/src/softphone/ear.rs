//! The softphone's ear: listens to the far end's audio in 20 ms frames — whether it is
//! speaking, how long it has been silent, and the 1 kHz beep before a recording.

/// Listens to the far end's audio in 20 ms frames: speech level, silence since, the beep.
pub(super) struct Ear {
    frame: Vec<i16>,
    loud: bool,
    /// Milliseconds of silence since the far end last spoke.
    pub(super) quiet_ms: u64,
    /// Whether the far end has spoken since this was last cleared.
    pub(super) heard_any: bool,
    beep_frames: u32,
    beep_seen: bool,
    /// Milliseconds of far-end audio above the speech level.
    pub(super) audio_ms: u64,
    /// Set when audio starts again: how long the silence before it was.
    pub(super) resumed_after: Option<u64>,
}

/// Energy above this (about −40 dBm0 mean power) is audio.
const LOUD: f64 = 2.6e4;

impl Ear {
    pub(super) fn new() -> Self {
        Ear {
            frame: Vec::with_capacity(160),
            loud: false,
            quiet_ms: 0,
            heard_any: false,
            beep_frames: 0,
            beep_seen: false,
            audio_ms: 0,
            resumed_after: None,
        }
    }

    /// Feeds samples; returns whether a beep just ended.
    pub(super) fn hear(&mut self, samples: &[i16]) -> bool {
        let mut beep_ended = false;
        for &s in samples {
            self.frame.push(s);
            if self.frame.len() == 160 {
                beep_ended |= self.frame_done();
                self.frame.clear();
            }
        }
        beep_ended
    }

    fn frame_done(&mut self) -> bool {
        let n = self.frame.len() as f64;
        let power: f64 = self
            .frame
            .iter()
            .map(|&x| f64::from(x).powi(2))
            .sum::<f64>()
            / n;
        let was_loud = self.loud;
        self.loud = power > LOUD;
        if self.loud {
            if !was_loud {
                self.resumed_after = Some(self.quiet_ms);
            }
            self.quiet_ms = 0;
            self.heard_any = true;
            self.audio_ms += 20;
        } else {
            self.quiet_ms += 20;
        }
        // The beep: most of the power at 1 kHz (Goertzel), 100 ms or more.
        let w = 2.0 * std::f64::consts::PI * 1000.0 / 8000.0;
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in &self.frame {
            let s0 = f64::from(x) + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let tone = (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) * 2.0 / (n * n);
        let is_beep = self.loud && tone > 0.8 * power;
        if is_beep {
            self.beep_frames += 1;
            if self.beep_frames >= 5 {
                self.beep_seen = true;
            }
            false
        } else {
            let ended = self.beep_seen;
            self.beep_frames = 0;
            self.beep_seen = false;
            ended
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ear_hears_the_beep_and_silence() {
        let mut ear = Ear::new();
        let beep = crate::media::playback::beep();
        assert!(!ear.hear(&beep[..3000]), "still beeping");
        assert!(ear.hear(&[0i16; 400]), "the beep ended");
        assert!(ear.heard_any && ear.quiet_ms >= 40);
        // Audio after silence is noted with the length of the silence.
        let mut ear = Ear::new();
        ear.hear(&beep[..1600]);
        assert_eq!(ear.resumed_after, Some(0));
        ear.resumed_after = None;
        ear.hear(&[0i16; 4000]);
        assert_eq!(ear.resumed_after, None);
        ear.hear(&beep[..1600]);
        assert_eq!(
            ear.resumed_after,
            Some(500),
            "half a second of silence before"
        );
        // Speech-like noise is not a beep.
        let noise: Vec<i16> = (0..4000)
            .map(|i| ((i * 7919 % 2000) as i16 - 1000) * 4)
            .collect();
        let mut ear = Ear::new();
        assert!(!ear.hear(&noise) && !ear.hear(&[0i16; 400]));
    }
}
