//! Media: G.711, and (as they land) RTP sessions, keypresses three ways, playback and
//! recording, all as sans-IO machines the runtime drives.

pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod latch;
pub mod playback;
pub mod record;
pub mod rtp;
pub mod sender;
pub mod session;

/// Power of a 0 dBm0 sine in 16-bit linear units (the G.711 reference level, 3.14 dB below a
/// full-scale sine).
pub const DBM0_POWER: f32 = 2.6145e8;

/// Peak amplitude of a sine at `dbm0`.
pub fn sine_amplitude(dbm0: f32) -> f32 {
    (2.0 * DBM0_POWER * 10f32.powf(dbm0 / 10.0)).sqrt()
}
