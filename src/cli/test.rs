//! `ivr test`: run scenario files against scripts in virtual time.

use ivr::core::call::Line;
use ivr::core::flow::{Defaults, Program};
use ivr::core::prompts::Catalog;
use ivr::core::prompts::bank::PromptBank;
use ivr::core::sim::{self, scenario::Scenario};
use ivr::project::Project;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario files, or folders searched for *.yaml and *.yml.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Report the steps, menu options and handlers that no scenario reached.
    #[arg(long)]
    coverage: bool,
    /// Print each call's transcript.
    #[arg(long)]
    verbose: bool,
}

fn scenario_files(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            scenario_files(&e, out)?;
        }
    } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") || !p.exists() {
        out.push(p.to_path_buf());
    }
    Ok(())
}

struct Compiled {
    program: Arc<Program>,
    executed: Vec<bool>,
}

pub fn run(a: Args) -> ExitCode {
    let mut files = Vec::new();
    for p in &a.paths {
        if let Err(e) = scenario_files(p, &mut files) {
            eprintln!("ivr: cannot read {}: {e}", p.display());
            return ExitCode::from(2);
        }
    }
    let (mut passed, mut failed) = (0, 0);
    let mut programs: BTreeMap<PathBuf, Compiled> = BTreeMap::new();
    let mut banks = BTreeMap::new();
    for f in &files {
        let sc = match Scenario::load(f) {
            Ok(s) => s,
            Err(e) => {
                println!("FAIL {}: {e}", f.display());
                failed += 1;
                continue;
            }
        };
        for flow in &sc.flows {
            let label = format!(
                "{} [{}]",
                sc.name,
                flow.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            );
            match run_one(&sc, flow, &mut programs, &mut banks, a.verbose) {
                Ok(problems) if problems.is_empty() => {
                    println!("PASS {label}");
                    passed += 1;
                }
                Ok(problems) => {
                    println!("FAIL {label}");
                    for p in problems {
                        println!("     {p}");
                    }
                    failed += 1;
                }
                Err(e) => {
                    println!("FAIL {label}: {e}");
                    failed += 1;
                }
            }
        }
    }
    if a.coverage {
        for (path, c) in &programs {
            // A statement is reached when any of its compiled instances ran (a `defaults`
            // handler has one per input state).
            let mut statements: BTreeMap<(u32, &str), bool> = BTreeMap::new();
            for p in &c.program.points {
                let ran = c.executed.get(p.pc).copied().unwrap_or(false);
                *statements.entry((p.line, p.what.as_str())).or_default() |= ran;
            }
            let missed: Vec<_> = statements
                .iter()
                .filter(|(_, r)| !**r)
                .map(|(k, _)| k)
                .collect();
            println!(
                "coverage {}: {} of {} steps, options and handlers reached",
                path.display(),
                statements.len() - missed.len(),
                statements.len()
            );
            for (line, what) in missed {
                println!("  not reached: {}:{line}: {what}", path.display());
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn run_one(
    sc: &Scenario,
    flow: &Path,
    programs: &mut BTreeMap<PathBuf, Compiled>,
    banks: &mut BTreeMap<Option<PathBuf>, Arc<PromptBank>>,
    verbose: bool,
) -> Result<Vec<String>, String> {
    let project = Project::load(flow, None, sc.prompts.as_deref()).map_err(|e| e.to_string())?;
    let env = project.environment().map_err(|e| e.to_string())?;
    let key = std::fs::canonicalize(flow).unwrap_or_else(|_| flow.to_path_buf());
    if !programs.contains_key(&key) {
        let bytes = ivr::project::read_script(flow)
            .map_err(|e| format!("cannot read {}: {e}", flow.display()))?;
        let program = Program::compile(&bytes, &env, Defaults::default())
            .map_err(|e| format!("{}: {e}", flow.display()))?;
        let executed = vec![false; program.code.len()];
        programs.insert(
            key.clone(),
            Compiled {
                program: Arc::new(program),
                executed,
            },
        );
    }
    let compiled = programs.get_mut(&key).ok_or("compiled program missing")?;
    let mut flow_config = project.flow_config();
    if let Some(l) = sc.lang {
        flow_config.default_language = l;
    }
    let mut opts = sc.options.clone();
    opts.coverage = true;
    // The prompt audio is encoded once per prompt folder, not once per scenario.
    let dir = env.prompts.as_ref().map(|c| c.dir.clone());
    let bank = match banks.get(&dir) {
        Some(b) => Arc::clone(b),
        None => {
            let catalog = dir
                .as_ref()
                .map(|d| Catalog::load(d))
                .transpose()
                .map_err(|e| e.to_string())?;
            let b = Arc::new(PromptBank::estimating(
                catalog.map(Arc::new),
                opts.ms_per_char,
            ));
            banks.insert(dir, Arc::clone(&b));
            b
        }
    };
    let line = Line {
        program: Arc::clone(&compiled.program),
        version: Arc::from("test"),
        flow: Arc::new(flow_config),
        config: Arc::new(project.call_config()),
        bank,
    };
    let mut backend = sc.backend.clone();
    let mut caller = sc.caller();
    let t = sim::simulate(&line, &mut caller, &mut backend, &opts);
    for (i, ran) in t.executed.iter().enumerate() {
        if *ran && let Some(c) = compiled.executed.get_mut(i) {
            *c = true;
        }
    }
    if verbose {
        print!("{}", t.render());
    }
    Ok(sc.check(&t))
}
