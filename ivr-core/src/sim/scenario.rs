//! Scenario files (YAML) for `ivr test`: a scripted caller, canned backend answers and what
//! must be true at the end. docs/testing.md documents the format.

use super::{CallerStep, CannedBackend, SimOptions, Transcript};
use crate::flow::Value;
use crate::vocab::TransferOutcome;
use serde_yaml_ng::Value as Yaml;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

/// Why a scenario file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// It could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// It is not valid YAML.
    #[error("{path}: {source}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_yaml_ng::Error,
    },
    /// A key has a value it cannot have.
    #[error("{path}: {what}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

impl ScenarioError {
    /// Who is at fault: the scenario file.
    pub fn fault(&self) -> crate::vocab::Fault {
        crate::vocab::Fault::Local
    }
}

/// A parsed scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file it came from.
    pub path: PathBuf,
    /// Its name (the file stem, or `name:`).
    pub name: String,
    /// Scripts to run it against (resolved).
    pub flows: Vec<PathBuf>,
    /// Prompt folder (resolved), if given.
    pub prompts: Option<PathBuf>,
    /// Simulation settings.
    pub options: SimOptions,
    /// Caller's language before the script sets one.
    pub lang: Option<ivr_dsl::Lang>,
    /// Canned backend.
    pub backend: CannedBackend,
    /// The caller's steps.
    pub steps: Vec<CallerStep>,
    /// What must hold.
    pub expect: Expect,
}

/// Expectations.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// Outcome name (`hangup`, `transfer`, `caller_hangup`, …).
    pub outcome: Option<String>,
    /// Operation → fields that must have been submitted with these values.
    pub submitted: BTreeMap<String, BTreeMap<String, String>>,
    /// Variables and their final values.
    pub vars: BTreeMap<String, String>,
    /// Prompt ids that must be heard, in this order (others may come between).
    pub heard: Vec<String>,
    /// Prompt ids that must not be heard.
    pub not_heard: Vec<String>,
    /// Flows or steps (`flow main`, `step describe`) that must be entered.
    pub visited: Vec<String>,
}

/// Parses `7s`, `500ms`, `2min`, or a bare number of seconds.
pub fn duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok()?;
    Some(match unit.trim() {
        "" | "s" => n * 1000,
        "ms" => n,
        "min" => n * 60_000,
        _ => return None,
    })
}

fn text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn value_of(v: &Yaml) -> Value {
    match v {
        Yaml::Mapping(m) => m
            .get(Yaml::String("status".into()))
            .and_then(text)
            .map_or(Value::Null, Value::Str),
        other => text(other).map_or(Value::Null, Value::Str),
    }
}

impl Scenario {
    /// Reads a scenario file; paths in it are relative to the file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let raw = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let y: Yaml = serde_yaml_ng::from_str(&raw).map_err(|source| ScenarioError::Yaml {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |what: String| ScenarioError::Invalid {
            path: path.to_path_buf(),
            what,
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let get = |k: &str| y.get(k);
        let flows: Vec<PathBuf> = match get("flow") {
            Some(Yaml::String(s)) => vec![base.join(s)],
            Some(Yaml::Sequence(v)) => v.iter().filter_map(text).map(|s| base.join(s)).collect(),
            _ => {
                return Err(bad(
                    "`flow:` must name a script (or a list of scripts)".into()
                ));
            }
        };
        let mut options = SimOptions::default();
        if let Some(at) = get("at") {
            let s = text(at).ok_or_else(|| bad("`at:` must be an RFC 3339 time".into()))?;
            options.at = s
                .parse::<jiff::Timestamp>()
                .map_err(|e| bad(format!("`at: {s}`: {e}")))?;
        }
        if let Some(c) = get("caller").and_then(text) {
            options.caller = c;
        }
        if let Some(t) = get("transfer").and_then(text) {
            options.transfer = match t.as_str() {
                "success" => TransferOutcome::Success,
                "busy" => TransferOutcome::Busy,
                "noanswer" => TransferOutcome::NoAnswer,
                "failed" => TransferOutcome::Failed,
                other => {
                    return Err(bad(format!(
                        "`transfer: {other}`: use success, busy, noanswer or failed"
                    )));
                }
            };
        }
        let lang = match get("lang").and_then(text) {
            Some(l) => Some(
                ivr_dsl::Lang::from_code(&l)
                    .ok_or_else(|| bad(format!("`lang: {l}`: use ar or en")))?,
            ),
            None => None,
        };
        let mut backend = CannedBackend::new(
            get("first_ticket")
                .and_then(text)
                .and_then(|t| t.parse().ok())
                .unwrap_or(100_001),
        );
        if let Some(Yaml::Mapping(ops)) = get("backend") {
            for (op, answers) in ops {
                let op = text(op).unwrap_or_default();
                if let Yaml::Mapping(a) = answers {
                    let m = backend.lookups.entry(op).or_default();
                    for (k, v) in a {
                        m.insert(text(k).unwrap_or_default(), value_of(v));
                    }
                }
            }
        }
        if let Some(Yaml::Sequence(f)) = get("fail") {
            backend.failing = f.iter().filter_map(text).collect();
        }
        let mut steps = Vec::new();
        if let Some(Yaml::Sequence(list)) = get("steps") {
            for (i, s) in list.iter().enumerate() {
                steps.push(
                    step(s).ok_or_else(|| bad(format!("step {}: not understood: {s:?}", i + 1)))?,
                );
            }
        }
        let mut expect = Expect::default();
        if let Some(e) = get("expect") {
            expect.outcome = e.get("outcome").and_then(text);
            if let Some(Yaml::Mapping(ops)) = e.get("submitted") {
                for (op, fields) in ops {
                    let mut m = BTreeMap::new();
                    if let Yaml::Mapping(f) = fields {
                        for (k, v) in f {
                            m.insert(text(k).unwrap_or_default(), text(v).unwrap_or_default());
                        }
                    }
                    expect.submitted.insert(text(op).unwrap_or_default(), m);
                }
            }
            if let Some(Yaml::Mapping(vars)) = e.get("vars") {
                for (k, v) in vars {
                    expect
                        .vars
                        .insert(text(k).unwrap_or_default(), text(v).unwrap_or_default());
                }
            }
            let list = |k: &str| -> Vec<String> {
                match e.get(k) {
                    Some(Yaml::Sequence(v)) => v.iter().filter_map(text).collect(),
                    _ => Vec::new(),
                }
            };
            expect.heard = list("heard");
            expect.not_heard = list("not_heard");
            expect.visited = list("visited");
        }
        let name = get("name").and_then(text).unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        Ok(Scenario {
            path: path.to_path_buf(),
            name,
            flows,
            prompts: get("prompts").and_then(text).map(|p| base.join(p)),
            options,
            lang,
            backend,
            steps,
            expect,
        })
    }

    /// The caller's steps as a queue.
    pub fn caller(&self) -> VecDeque<CallerStep> {
        self.steps.iter().cloned().collect()
    }

    /// Checks a transcript against the expectations; returns what failed.
    pub fn check(&self, t: &Transcript) -> Vec<String> {
        let mut fails = t.failures.clone();
        let e = &self.expect;
        if let Some(o) = &e.outcome {
            let got = t.outcome.as_ref().map_or("none", |o| o.as_str());
            if got != o {
                fails.push(format!("outcome: expected {o}, got {got}"));
            }
        }
        for (op, fields) in &e.submitted {
            let found = t.submitted.iter().any(|r| {
                r.op == *op
                    && fields
                        .iter()
                        .all(|(k, v)| r.fields.iter().any(|(fk, fv)| fk == k && fv.text() == *v))
            });
            if !found {
                let got: Vec<String> = t
                    .submitted
                    .iter()
                    .map(|r| {
                        format!(
                            "{} {:?}",
                            r.op,
                            r.fields
                                .iter()
                                .map(|(k, v)| format!("{k}={}", v.text()))
                                .collect::<Vec<_>>()
                        )
                    })
                    .collect();
                fails.push(format!(
                    "submitted: expected {op} with {fields:?}, got {got:?}"
                ));
            }
        }
        for (k, v) in &e.vars {
            let key = ivr_dsl::fold::name_key(k);
            let got = t
                .vars
                .iter()
                .find(|(n, _)| ivr_dsl::fold::name_key(n) == key)
                .map(|(_, v)| v.text());
            if got.as_deref() != Some(v.as_str()) {
                fails.push(format!(
                    "vars: expected {k} = {v}, got {}",
                    got.unwrap_or_else(|| "nothing".into())
                ));
            }
        }
        let mut at = 0;
        for want in &e.heard {
            match t.heard[at..].iter().position(|h| h == want) {
                Some(i) => at += i + 1,
                None => {
                    fails.push(format!(
                        "heard: expected {want} (in order), heard {:?}",
                        t.heard
                    ));
                    break;
                }
            }
        }
        for not in &e.not_heard {
            if t.heard.contains(not) {
                fails.push(format!("not_heard: {not} was heard"));
            }
        }
        for v in &e.visited {
            if !t.visited.contains(v) {
                fails.push(format!("visited: {v} was not entered"));
            }
        }
        fails
    }
}

fn step(s: &Yaml) -> Option<CallerStep> {
    match s {
        Yaml::String(k) => match k.as_str() {
            "noinput" => Some(CallerStep::Noinput),
            "hangup" => Some(CallerStep::Hangup),
            _ => None,
        },
        Yaml::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let v = text(v)?;
            Some(match text(k)?.as_str() {
                "hear" => CallerStep::Hear(v),
                "press" => CallerStep::Press(v),
                "barge" => CallerStep::Barge(v),
                "silence" => CallerStep::Silence(duration_ms(&v)?),
                "speak" => CallerStep::Speak(duration_ms(&v)?),
                _ => return None,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_ms("7s"), Some(7000));
        assert_eq!(duration_ms("500ms"), Some(500));
        assert_eq!(duration_ms("2min"), Some(120_000));
        assert_eq!(duration_ms("3"), Some(3000));
        assert_eq!(duration_ms("x"), None);
    }

    #[test]
    fn steps() {
        let y: Yaml = serde_yaml_ng::from_str(
            "[noinput, {press: '1'}, {silence: 7s}, {speak: 4s}, hangup, {hear: welcome}]",
        )
        .expect("yaml");
        let Yaml::Sequence(v) = y else {
            panic!("sequence")
        };
        let s: Vec<CallerStep> = v.iter().filter_map(step).collect();
        assert_eq!(
            s,
            vec![
                CallerStep::Noinput,
                CallerStep::Press("1".into()),
                CallerStep::Silence(7000),
                CallerStep::Speak(4000),
                CallerStep::Hangup,
                CallerStep::Hear("welcome".into())
            ]
        );
    }
}
