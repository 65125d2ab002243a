//! Media: G.711, and (as they land) RTP sessions, keypresses three ways, playback and
//! recording, all as sans-IO machines the runtime drives.

pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod rtp;
pub mod sender;
