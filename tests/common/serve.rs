//! A running `ivr serve` for the integration tests: started on a free loopback port with its
//! own data folder, read through its call records, stopped by signal (or killed when a test
//! fails), and SIPp beside it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A short complaint line for process tests: district, submit, the ticket read back.
pub const QUICK_FLOW: &str = "languages en

defaults
    after 3 attempts hangup

flow start
    collect district digits 3
        say enter-district
    set category = \"roads\"
    set description = \"\"
    submit create_complaint with category district description into ticket
        on failure hangup
    say your-ticket-number-is
    say ticket as digits
    hangup
";

/// A free UDP port on loopback (bound then released; the tests use it at once).
pub fn free_port() -> u16 {
    loop {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let p = s.local_addr().expect("addr").port();
        // SIPp's media port and the one above it must both be free.
        if p.is_multiple_of(2) && p < 65_000 && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

/// A scratch folder, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!(
            "ivr-test-{name}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ u128::from(free_port())
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `ivr serve` in the background.
pub struct Served {
    child: Option<Child>,
    /// Where it listens (UDP and TCP).
    pub addr: SocketAddr,
    /// Its data folder.
    pub data: PathBuf,
    /// The first line it printed.
    pub banner: String,
    scratch: Scratch,
    stderr: Option<std::thread::JoinHandle<String>>,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

impl Served {
    /// Serves `flow` (relative to the repository) with the repository's `ivr.yaml` plus
    /// `extra` YAML, on a free loopback port.
    pub fn start(name: &str, flow: &str, extra: &str) -> Served {
        Served::start_with_rtp(name, flow, extra, "")
    }

    /// [`Served::start`] with more lines for the `rtp:` section (`"  inband: on\n"`).
    pub fn start_with_rtp(name: &str, flow: &str, extra: &str, rtp_lines: &str) -> Served {
        Served::launch(name, flow, extra, rtp_lines, &[])
    }

    /// The most general start: `args` go to `ivr serve` as well.
    pub fn launch(name: &str, flow: &str, extra: &str, rtp_lines: &str, args: &[&str]) -> Served {
        Served::launch_data(name, flow, extra, rtp_lines, args, None)
    }

    /// [`Served::launch`] with a data folder of the test's own (to restart on the same data).
    pub fn launch_data(
        name: &str,
        flow: &str,
        extra: &str,
        rtp_lines: &str,
        args: &[&str],
        data: Option<&Path>,
    ) -> Served {
        let scratch = Scratch::new(name);
        let base = std::fs::read_to_string(repo().join("ivr.yaml")).expect("ivr.yaml");
        let rtp = free_port();
        let config = scratch.0.join("ivr.yaml");
        std::fs::write(
            &config,
            format!(
                "{base}\nrtp:\n  ports: [{rtp}, {}]\n{rtp_lines}{extra}\n",
                (u32::from(rtp) + 2000).min(65_000)
            ),
        )
        .expect("config");
        let data = data.map_or_else(|| scratch.0.join("data"), Path::to_path_buf);
        let mut child = Command::new(env!("CARGO_BIN_EXE_ivr"))
            .args(["serve", flow, "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--data")
            .arg(&data)
            .args(["--prompts", "prompts"])
            .args(args)
            .current_dir(repo())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ivr serve starts");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let addr = first
            .strip_prefix("ivr: listening on ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|a| a.parse().ok());
        let stderr = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
            s
        });
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "ivr serve did not start: {first:?}\n{}",
                stderr.join().unwrap_or_default()
            );
        };
        Served {
            child: Some(child),
            addr,
            data,
            banner: first,
            scratch,
            stderr: Some(stderr),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The server's resident memory now, KiB (`VmRSS`; 0 when it cannot be read).
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// The scratch folder (for SIPp's working directory and files).
    pub fn dir(&self) -> &Path {
        &self.scratch.0
    }

    /// The call records written so far.
    pub fn cdrs(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.data.join("cdr.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each CDR line is JSON"))
            .collect()
    }

    /// Waits (up to 20 s) until at least `n` call records exist.
    pub fn wait_cdrs(&self, n: usize) -> Vec<serde_json::Value> {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let c = self.cdrs();
            if c.len() >= n || Instant::now() > until {
                return c;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal (`"HUP"`, `"TERM"`…).
    pub fn signal(&self, name: &str) {
        if let Some(c) = self.child.as_ref() {
            let _ = Command::new("kill")
                .args([&format!("-{name}"), &c.id().to_string()])
                .status();
        }
    }

    /// SIGKILL: the process dies at once; returns what it logged until then.
    pub fn kill9(mut self) -> String {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        if let Some(c) = self.child.as_ref() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
    }

    /// SIGTERM, then waits for the exit; returns the exit code and the log.
    pub fn stop(mut self) -> (Option<i32>, String) {
        self.terminate();
        let mut child = self.child.take().expect("running");
        let until = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Ok(Some(s)) = child.try_wait() {
                break s.code();
            }
            if Instant::now() > until {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let log = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        (status, log)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An outside program on the PATH, or `None` (the test is skipped with a message) unless
/// `IVR_REQUIRE_EXTERNAL` is set, when its absence fails the test.
pub fn tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("IVR_REQUIRE_EXTERNAL").is_none(),
            "{name} is required (IVR_REQUIRE_EXTERNAL is set): apt-get install {package}"
        );
        eprintln!("skipped: {name} not found (apt-get install {package})");
    }
    found
}

/// The `sipp` binary (see [`tool`]).
pub fn sipp() -> Option<PathBuf> {
    tool("sipp", "sip-tester")
}

/// What a SIPp run did.
pub struct SippRun {
    pub success: bool,
    pub output: String,
}

/// Runs SIPp against `server` with `args` (scenario and call options) in `dir`, with free
/// signalling and media ports and a time limit.
pub fn run_sipp(sipp: &Path, server: SocketAddr, dir: &Path, args: &[&str]) -> SippRun {
    let port = free_port().to_string();
    let media = free_port().to_string();
    let out = Command::new(sipp)
        .arg(server.to_string())
        .args(["-i", "127.0.0.1", "-p", &port, "-mp", &media])
        .args([
            "-nostdin",
            "-timeout",
            "40s",
            "-timeout_error",
            "-trace_err",
        ])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("sipp runs");
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().ends_with("_errors.log") {
            output.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    SippRun {
        success: out.status.success(),
        output,
    }
}

/// A scenario file of ours (`tests/sipp/NAME`).
pub fn scenario(name: &str) -> String {
    repo().join("tests/sipp").join(name).display().to_string()
}
