//! The shipped hotline (`flows/complaint_940*.flow` with `prompts/`) as a line for the test
//! kit and the simulator, and the caller's voice (`examples/audio/caller-ar.wav`).
#![allow(dead_code)]

use ivr_core::call::{CallConfig, Line};
use ivr_core::flow::{Defaults, FlowConfig, Program};
use ivr_core::prompts::Catalog;
use ivr_core::prompts::bank::PromptBank;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shipped prompts, encoded once per test binary.
pub fn bank() -> Arc<PromptBank> {
    static BANK: OnceLock<Arc<PromptBank>> = OnceLock::new();
    Arc::clone(BANK.get_or_init(|| {
        let c = Catalog::load(&root().join("prompts")).expect("the shipped prompts load");
        Arc::new(PromptBank::new(Arc::new(c)))
    }))
}

/// The hotline script (`complaint_940.flow`, or the Arabic-keyword one), compiled.
pub fn program(file: &str) -> Arc<Program> {
    let src = std::fs::read(root().join("flows").join(file)).expect("the script");
    let env = ivr_dsl::Environment {
        prompts: Some(ivr_dsl::PromptCatalog::load(&root().join("prompts")).expect("ids")),
        destinations: Some(["agents".to_string()].into()),
        ..Default::default()
    };
    Arc::new(Program::compile(&src, &env, Defaults::default()).expect("the hotline compiles"))
}

/// The call settings the shipped `ivr.yaml` gives (agents at a test address), changed by
/// `f`.
pub fn config(f: impl FnOnce(&mut CallConfig)) -> Arc<CallConfig> {
    let mut c = CallConfig {
        max_call_ms: 900_000,
        transfer: [("agents".to_string(), "sip:agents@10.0.0.9".to_string())].into(),
        ..CallConfig::default()
    };
    f(&mut c);
    Arc::new(c)
}

/// The hotline as a line, with its real prompt audio.
pub fn line(file: &str, f: impl FnOnce(&mut CallConfig)) -> Line {
    Line {
        program: program(file),
        version: Arc::from("test"),
        flow: Arc::new(FlowConfig::default()),
        config: config(f),
        bank: bank(),
    }
}

/// The Arabic caller's spoken description.
pub fn voice() -> Arc<[i16]> {
    ivr_core::prompts::audio::read_wav(&root().join("examples/audio/caller-ar.wav"))
        .expect("the caller's voice")
        .samples
}

/// The hotline (`complaint_940.flow`, settings changed by `f`) on a test network whose SIP and
/// RTP links behave as `link`, answering backend requests with the canned backend.
pub fn net(
    seed: u64,
    link: ivr_core::testkit::LinkConfig,
    f: impl FnOnce(&mut CallConfig),
) -> ivr_core::testkit::Net {
    ivr_core::testkit::Net::new(
        line("complaint_940.flow", f),
        ivr_core::testkit::canned(),
        ivr_core::testkit::NetConfig {
            seed,
            sip_link: link,
            rtp_link: link,
            ..ivr_core::testkit::NetConfig::default()
        },
    )
}
