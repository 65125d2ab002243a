//! `ivr prompts build`, `ivr prompts speak` and `ivr prompts check`.

use ivr::core::prompts::audio::EspeakNg;
use ivr::core::prompts::{Catalog, build};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Make missing or outdated prompt and value-fragment audio with espeak-ng.
    Build {
        /// The prompt folder.
        #[arg(long, default_value = "prompts")]
        prompts: PathBuf,
        /// Remake every generated file (recordings are still kept unless listed).
        #[arg(long)]
        force: bool,
        /// The espeak-ng program.
        #[arg(long, default_value = "espeak-ng")]
        espeak: PathBuf,
    },
    /// Speak a text into an 8 kHz WAV file with espeak-ng (a caller's voice for tests, a
    /// draft prompt).
    Speak {
        /// The text.
        text: String,
        /// Its language.
        #[arg(long, value_enum)]
        lang: super::LangArg,
        /// The WAV file to write.
        #[arg(long)]
        out: PathBuf,
        /// The espeak-ng program.
        #[arg(long, default_value = "espeak-ng")]
        espeak: PathBuf,
    },
    /// Verify the catalog: audio for every message and value fragment in 8 kHz mono 16-bit
    /// PCM, the same messages in every language, and every prompt the given scripts say.
    Check {
        /// The prompt folder.
        #[arg(long, default_value = "prompts")]
        prompts: PathBuf,
        /// Scripts whose prompts must all exist.
        flows: Vec<PathBuf>,
    },
}

pub fn run(c: Command) -> ExitCode {
    match c {
        Command::Speak {
            text,
            lang,
            out,
            espeak,
        } => {
            use ivr::core::prompts::audio::{Tts, write_wav};
            let tts = EspeakNg {
                program: espeak,
                ..Default::default()
            };
            let written = tts
                .synthesize(&text, lang.into())
                .and_then(|s| write_wav(&out, &s).map(|()| s.len()));
            match written {
                Ok(n) => {
                    println!("{}: {:.1} s", out.display(), n as f64 / 8000.0);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("ivr: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Build {
            prompts,
            force,
            espeak,
        } => {
            let tts = EspeakNg {
                program: espeak,
                ..Default::default()
            };
            match build::build(&prompts, &tts, force) {
                Ok(r) => {
                    for p in &r.made {
                        println!("made {}", p.display());
                    }
                    println!(
                        "{} made, {} up to date, {} recorded (kept)",
                        r.made.len(),
                        r.current,
                        r.recorded
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("ivr: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Check { prompts, flows } => {
            let catalog = match Catalog::load(&prompts) {
                Ok(c) => c,
                Err(e) => {
                    println!("problem: {e}");
                    return ExitCode::from(1);
                }
            };
            let mut problems = build::check(&catalog);
            for f in &flows {
                let bytes = match super::read(f) {
                    Ok(b) => b,
                    Err(code) => return code,
                };
                let env = match ivr::project::environment(f, Some(&prompts), None) {
                    Ok(e) => e,
                    Err(e) => {
                        eprintln!("ivr: {e}");
                        return ExitCode::from(2);
                    }
                };
                let checked = ivr::dsl::check(&bytes, &env);
                for d in checked
                    .diagnostics
                    .iter()
                    .filter(|d| d.code == ivr::dsl::Code::MissingPrompt)
                {
                    problems.push(format!(
                        "{}:{}:{}: prompt `{}` is missing in {}",
                        f.display(),
                        d.span.line,
                        d.span.col,
                        d.get("id").unwrap_or_default(),
                        d.get("lang").unwrap_or_default()
                    ));
                }
            }
            for p in &problems {
                println!("problem: {p}");
            }
            let langs: Vec<&str> = catalog.languages().iter().map(|l| l.code()).collect();
            let messages: usize = catalog
                .languages()
                .iter()
                .map(|&l| catalog.messages(l).len())
                .sum();
            println!(
                "checked {} ({}): {messages} messages, {} problem(s)",
                prompts.display(),
                langs.join(", "),
                problems.len()
            );
            if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
