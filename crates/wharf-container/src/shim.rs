//! The per-container shim: a small single-threaded process (containerd-shim's role) that creates and
//! starts one container, reaps it, records its exit status (code, signal, OOM kill) to `status.json`,
//! copies its stdout/stderr into a CRI log file with rotation, and answers `status`, `kill`, `wait` and
//! `delete` on a unix socket. It runs in its own session, reparented to init, so it outlives the node
//! agent; a restarted agent finds shims again with [`discover`].
//!
//! The product ships one binary, so the shim is that binary re-executed: the agent gives a
//! [`ShimCommand`] (program + leading args, e.g. `wharf shim`) and the binary routes those args to
//! [`shim_main`]. [`spawn`] runs `<cmd> start <dir>`, which starts `<cmd> daemon <dir>` and exits as
//! soon as the daemon reports `ok <pid>` or an error, so no zombie is ever left with the agent.
//!
//! Files in a shim directory: `shim.json` (the [`ShimConfig`]), `shim.sock`, `status.json`, `shim.log`
//! (the shim's own diagnostics) and, for containers with `stdin`, the `stdin` FIFO.
//!
//! A TTY container's terminal is received by the shim on a console socket during create; its
//! output is logged as `stdout` (without carriage returns) and [`ShimClient::resize`] resizes it.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::crilog::{LineSplitter, LogWriter, Stream, MAX_RECORD};
use crate::error::{Error, IoContext, Result, SysContext};
use crate::runtime::{exit_code_of, ContainerIo, RuntimeConfig};

/// How to run the shim: the program and the arguments that route to [`shim_main`]
/// (the lead's `wharf shim`; in tests an example binary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimCommand {
    /// The executable.
    pub program: PathBuf,
    /// Leading arguments before the shim's own (`["shim"]` for `wharf shim`).
    pub args: Vec<String>,
}

impl ShimCommand {
    /// A command running `program args... <shim args>`.
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> Self {
        ShimCommand { program: program.into(), args: args.iter().map(|s| s.to_string()).collect() }
    }

    pub(crate) fn command(&self, sub: &str) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args).arg(sub);
        c
    }
}

/// Everything a shim needs to run one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimConfig {
    /// Container id (unique on the node; a restarted container gets a new id).
    pub id: String,
    /// OCI bundle (holds `config.json`; the rootfs path is inside it).
    pub bundle: PathBuf,
    /// The shim's own directory (socket, status); one per container.
    pub dir: PathBuf,
    /// The OCI runtime.
    pub runtime: RuntimeConfig,
    /// CRI log file of the container.
    pub log_path: PathBuf,
    /// Rotate the log when it would exceed this many bytes (0: never).
    pub log_max_size: u64,
    /// Number of log files kept, including the current one.
    pub log_max_files: u32,
    /// The container's cgroup path (`linux.cgroupsPath`), for OOM detection and cleanup.
    pub cgroup_path: String,
    /// How to re-execute the shim.
    pub shim: ShimCommand,
    /// Keep the container's stdin open (Kubernetes `stdin: true`): bytes written to the FIFO
    /// [`ShimClient::stdin_path`] reach it until [`ShimClient::close_stdin`]. Otherwise stdin is
    /// `/dev/null`.
    #[serde(default)]
    pub stdin: bool,
    /// The container runs on a terminal (its spec has `process.terminal`): output is read from
    /// the terminal (one stream, `stdout`), stdin goes to it, and [`ShimClient::resize`] works.
    #[serde(default)]
    pub tty: bool,
}

/// Lifecycle state of a shim's container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    /// Created and started; the process runs.
    Running,
    /// The process has exited and its output is fully logged.
    Exited,
}

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// Exit code, or 128+signal when killed by a signal (as the kubelet reports it).
    pub code: i32,
    /// The signal that killed the process, if any.
    pub signal: Option<i32>,
    /// The cgroup saw an OOM kill: Kubernetes' reason `OOMKilled`.
    pub oom_killed: bool,
    /// When the exit was observed (RFC 3339).
    pub finished_at: String,
}

impl ExitInfo {
    /// The terminated-state reason Kubernetes shows: `OOMKilled`, `Completed` or `Error`.
    pub fn reason(&self) -> &'static str {
        if self.oom_killed {
            "OOMKilled"
        } else if self.code == 0 {
            "Completed"
        } else {
            "Error"
        }
    }
}

/// What a shim reports about its container (also kept in `status.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimStatus {
    /// Container id.
    pub id: String,
    /// Pid of the shim process.
    pub shim_pid: i32,
    /// Pid of the container's init process.
    pub pid: i32,
    /// State.
    pub state: ContainerState,
    /// When the container was started (RFC 3339).
    pub started_at: String,
    /// How it ended, once it has.
    pub exit: Option<ExitInfo>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Request {
    Status,
    Kill { signal: i32, all: bool },
    Wait,
    Delete,
    CloseStdin,
    Resize { rows: u16, cols: u16 },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Reply {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<ShimStatus>,
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}

fn write_json_atomic(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_vec(value).map_err(|source| Error::Json { what: path.display().to_string(), source })?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).ctx("write", &tmp)?;
    std::fs::rename(&tmp, path).ctx("rename", path)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read(path).ctx("read", path)?;
    serde_json::from_slice(&text).map_err(|source| Error::Json { what: path.display().to_string(), source })
}

// ---------------------------------------------------------------------------------------------
// Agent side

/// Starts a shim for `cfg` (creating and starting the container) and returns a client once the
/// container runs. On failure nothing is left: no shim, no container, no cgroup.
pub fn spawn(cfg: &ShimConfig) -> Result<ShimClient> {
    let sock = cfg.dir.join("shim.sock");
    if sock.as_os_str().len() >= SOCKET_PATH_MAX {
        return Err(Error::Invalid {
            what: "shim directory",
            message: format!("{} is too long for a unix socket path (max {SOCKET_PATH_MAX})", sock.display()),
        });
    }
    if cfg.dir.join("shim.json").exists() {
        // Never touch another shim's directory (or the container it owns).
        return Err(Error::Shim { id: cfg.id.clone(), message: format!("{} is already in use", cfg.dir.display()) });
    }
    std::fs::create_dir_all(&cfg.dir).ctx("create shim dir", &cfg.dir)?;
    let result = write_json_atomic(&cfg.dir.join("shim.json"), cfg)
        .and_then(|()| run_start(&cfg.shim, "daemon", &cfg.dir))
        .and_then(|line| match line.strip_prefix("ok ") {
            Some(_) => Ok(ShimClient { id: cfg.id.clone(), dir: cfg.dir.clone() }),
            None => Err(Error::Shim { id: cfg.id.clone(), message: line.trim_start_matches("err ").to_string() }),
        });
    if result.is_err() {
        // The shim has cleaned up the container; nothing in the directory is worth keeping.
        let _ = std::fs::remove_dir_all(&cfg.dir);
    }
    result
}

/// `sun_path` is 108 bytes including the terminating NUL.
const SOCKET_PATH_MAX: usize = 108;

/// Runs `<cmd> start <daemon> <dir>` and returns the daemon's first line.
pub(crate) fn run_start(shim: &ShimCommand, daemon: &str, dir: &Path) -> Result<String> {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("shim.log")).ctx("open", dir.join("shim.log"))?;
    let out = shim
        .command("start")
        .arg(daemon)
        .arg(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::from(log))
        .output()
        .ctx("run shim", &shim.program)?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if line.is_empty() {
        let diag = std::fs::read_to_string(dir.join("shim.log")).unwrap_or_default();
        return Err(Error::Shim {
            id: dir.display().to_string(),
            message: format!("shim exited with {} without reporting: {}", out.status, diag.trim()),
        });
    }
    Ok(line)
}

/// A shim found in a state directory by [`discover`].
#[derive(Debug)]
pub struct Discovered {
    /// The shim's directory.
    pub dir: PathBuf,
    /// The config it was started with.
    pub config: Option<ShimConfig>,
    /// A client when the shim answers; `None` when it is gone (clean up with [`cleanup_dead`]).
    pub client: Option<ShimClient>,
    /// The last status it recorded.
    pub last_status: Option<ShimStatus>,
}

/// Finds every shim directory under `root` (each subdirectory with a `shim.json`).
pub fn discover(root: &Path) -> Result<Vec<Discovered>> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).ctx("read", root),
    };
    for entry in rd.flatten() {
        let dir = entry.path();
        if !dir.join("shim.json").exists() {
            continue;
        }
        let config: Option<ShimConfig> = read_json(&dir.join("shim.json")).ok();
        let last_status: Option<ShimStatus> = read_json(&dir.join("status.json")).ok();
        let id = config.as_ref().map(|c| c.id.clone()).unwrap_or_default();
        let client = ShimClient { id, dir: dir.clone() };
        let alive = client.status().is_ok();
        out.push(Discovered { dir, config, client: alive.then_some(client), last_status });
    }
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(out)
}

/// Removes what a dead shim may have left (runtime state, cgroup, directory).
pub fn cleanup_dead(found: &Discovered) -> Result<()> {
    if let Some(cfg) = &found.config {
        if let Ok(rt) = cfg.runtime.open() {
            let _ = rt.delete(&cfg.id, true);
        }
        crate::cgroups::remove(&cfg.cgroup_path)?;
    }
    std::fs::remove_dir_all(&found.dir).ctx("remove", &found.dir)
}

/// Talks to one shim over its socket.
#[derive(Debug, Clone)]
pub struct ShimClient {
    id: String,
    dir: PathBuf,
}

impl ShimClient {
    /// A client for the shim in `dir`.
    pub fn new(id: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        ShimClient { id: id.into(), dir: dir.into() }
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The shim's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn request(&self, req: &Request, timeout: Option<Duration>) -> Result<Reply> {
        let sock = self.dir.join("shim.sock");
        let mut s = UnixStream::connect(&sock).ctx("connect", &sock)?;
        s.set_read_timeout(timeout).ctx("set timeout", &sock)?;
        let mut line = serde_json::to_vec(req).map_err(|source| Error::Json { what: "shim request".into(), source })?;
        line.push(b'\n');
        s.write_all(&line).ctx("write", &sock)?;
        let mut reply = String::new();
        match BufReader::new(&s).read_line(&mut reply) {
            Ok(0) => {
                return Err(Error::Shim { id: self.id.clone(), message: "shim closed the connection".into() })
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(Error::Timeout(timeout.unwrap_or_default(), format!("shim {}", self.id)))
            }
            Err(e) => return Err(e).ctx("read", &sock),
        }
        let reply: Reply = serde_json::from_str(&reply).map_err(|source| Error::Json { what: "shim reply".into(), source })?;
        if !reply.ok {
            return Err(Error::Shim { id: self.id.clone(), message: reply.error.unwrap_or_default() });
        }
        Ok(reply)
    }

    fn status_of(&self, reply: Reply) -> Result<ShimStatus> {
        reply.status.ok_or_else(|| Error::Shim { id: self.id.clone(), message: "reply without status".into() })
    }

    /// The container's current status.
    pub fn status(&self) -> Result<ShimStatus> {
        let r = self.request(&Request::Status, Some(Duration::from_secs(10)))?;
        self.status_of(r)
    }

    /// Sends `signal` to the container's init (`all`: every process in it).
    pub fn kill(&self, signal: i32, all: bool) -> Result<()> {
        self.request(&Request::Kill { signal, all }, Some(Duration::from_secs(10))).map(|_| ())
    }

    /// Waits until the container has exited and its output is logged (`None`: forever).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<ShimStatus> {
        let r = self.request(&Request::Wait, timeout)?;
        self.status_of(r)
    }

    /// Graceful stop: SIGTERM, then SIGKILL to every process after `grace`.
    pub fn stop(&self, grace: Duration) -> Result<ShimStatus> {
        let st = self.status()?;
        if st.state == ContainerState::Exited {
            return Ok(st);
        }
        let _ = self.kill(libc::SIGTERM, false);
        match self.wait(Some(grace.max(Duration::from_millis(1)))) {
            Ok(st) => Ok(st),
            Err(Error::Timeout(..)) => {
                let _ = self.kill(libc::SIGKILL, true);
                self.wait(Some(Duration::from_secs(30)))
            }
            Err(e) => Err(e),
        }
    }

    /// The FIFO feeding the container's stdin (when started with `stdin: true`); open it for writing.
    pub fn stdin_path(&self) -> PathBuf {
        self.dir.join("stdin")
    }

    /// Sets the window size of a TTY container's terminal.
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        self.request(&Request::Resize { rows, cols }, Some(Duration::from_secs(10))).map(|_| ())
    }

    /// Closes the container's stdin once everything written so far is delivered (`stdinOnce`).
    pub fn close_stdin(&self) -> Result<()> {
        self.request(&Request::CloseStdin, Some(Duration::from_secs(10))).map(|_| ())
    }

    /// Deletes the container (killing it if it still runs), removes its cgroup and ends the shim.
    /// The shim directory is removed too; the log file is kept.
    pub fn delete(&self) -> Result<()> {
        self.request(&Request::Delete, Some(Duration::from_secs(30)))?;
        std::fs::remove_dir_all(&self.dir).ctx("remove", &self.dir)
    }
}

// ---------------------------------------------------------------------------------------------
// Shim side

/// Entry point of the re-executed shim binary; never returns. Arguments (after the caller's own
/// prefix): `start <daemon|pause> <dir>`, `daemon <dir>`, `pause <dir>` or `exec <request-file>`.
pub fn shim_main(args: Vec<String>) -> ! {
    let code = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["start", daemon, dir] => start_main(daemon, Path::new(dir)),
        ["daemon", dir] => daemon_main(Path::new(dir)),
        ["pause", dir] => crate::sandbox::pause_main(Path::new(dir)),
        ["exec", file] => crate::exec::exec_main(Path::new(file)),
        _ => {
            eprintln!("usage: shim start <daemon|pause> <dir> | daemon <dir> | pause <dir> | exec <file>");
            2
        }
    };
    std::process::exit(code)
}

/// `start`: launch the long-lived process, relay its first line, exit without waiting for it.
fn start_main(daemon: &str, dir: &Path) -> i32 {
    let shim: Result<ShimCommand> = read_json::<serde_json::Value>(&dir.join("shim.json")).and_then(|v| {
        serde_json::from_value(v["shim"].clone()).map_err(|source| Error::Json { what: "shim command".into(), source })
    });
    let shim = match shim {
        Ok(s) => s,
        Err(e) => {
            println!("err {e}");
            return 1;
        }
    };
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("shim.log"));
    let mut cmd = shim.command(daemon);
    cmd.arg(dir).stdin(Stdio::null()).stdout(Stdio::piped());
    if let Ok(l) = log {
        cmd.stderr(Stdio::from(l));
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            println!("err spawn shim daemon: {e}");
            return 1;
        }
    };
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let line = line.trim();
    if line.is_empty() {
        let _ = child.wait();
        println!("err shim daemon exited without reporting");
        return 1;
    }
    println!("{line}");
    if line.starts_with("ok ") {
        0
    } else {
        let _ = child.wait();
        1
    }
}

/// Detaches stdout (the readiness pipe) once the first line is written.
pub(crate) fn report(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
}

fn daemon_main(dir: &Path) -> i32 {
    let cfg: ShimConfig = match read_json(&dir.join("shim.json")) {
        Ok(c) => c,
        Err(e) => {
            report(&format!("err {e}"));
            return 1;
        }
    };
    match Daemon::setup(cfg) {
        Ok(mut d) => {
            d.run();
            0
        }
        Err(e) => {
            report(&format!("err {e}"));
            1
        }
    }
}

struct Output {
    file: std::fs::File,
    split: LineSplitter,
}

struct Client {
    stream: UnixStream,
    buf: Vec<u8>,
    waiting: bool,
}

struct Daemon {
    cfg: ShimConfig,
    runtime: Box<dyn crate::OciRuntime>,
    listener: UnixListener,
    sigchld: UnixStream,
    outputs: Vec<Output>,
    log: LogWriter,
    clients: Vec<Client>,
    status: ShimStatus,
    pending_exit: Option<(ExitInfo, Instant)>,
    deleted: bool,
    stdin: Option<StdinRelay>,
    console: Option<std::fs::File>,
}

/// Forwards bytes written to the `stdin` FIFO into the container's stdin pipe without ever
/// blocking the shim (both ends non-blocking, a bounded buffer in between).
struct StdinRelay {
    /// Opened read-write so the FIFO never reports hang-up between writers.
    fifo: std::fs::File,
    pipe: Option<std::fs::File>,
    buf: Vec<u8>,
    close_when_flushed: bool,
}

const STDIN_BUFFER: usize = 1 << 20;

impl StdinRelay {
    /// A relay into `target` (a TTY master), or into a new pipe whose read end is returned.
    fn setup(dir: &Path, target: Option<std::fs::File>) -> Result<(StdinRelay, Option<OwnedFd>)> {
        use nix::fcntl::OFlag;
        let path = dir.join("stdin");
        let _ = std::fs::remove_file(&path);
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).sys("mkfifo")?;
        let fifo = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .ctx("open", &path)?;
        let (w, r) = match target {
            Some(t) => (t, None),
            None => {
                let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).sys("pipe")?;
                (std::fs::File::from(w), Some(r))
            }
        };
        nix::fcntl::fcntl(w.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).sys("set nonblocking")?;
        Ok((StdinRelay { fifo, pipe: Some(w), buf: Vec::new(), close_when_flushed: false }, r))
    }

    fn read_fifo(&mut self) {
        let mut chunk = [0u8; 64 * 1024];
        while self.buf.len() < STDIN_BUFFER {
            match self.fifo.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    if self.pipe.is_some() {
                        self.buf.extend_from_slice(&chunk[..n]);
                    }
                }
                Err(_) => break,
            }
        }
        self.flush();
    }

    fn flush(&mut self) {
        if let Some(pipe) = &mut self.pipe {
            while !self.buf.is_empty() {
                match pipe.write(&self.buf) {
                    Ok(n) => {
                        self.buf.drain(..n);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        // The container closed its stdin or exited.
                        self.pipe = None;
                        self.buf.clear();
                        return;
                    }
                }
            }
        }
        if self.close_when_flushed {
            self.pipe = None;
        }
    }
}

/// How long output may stay open after the container's init exited before the exit is reported
/// anyway (a leaked daemonised child can hold the pipe).
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

impl Daemon {
    fn setup(cfg: ShimConfig) -> Result<Daemon> {
        nix::unistd::setsid().sys("setsid")?;
        // Hold no reference to wherever the agent happened to run from.
        std::env::set_current_dir("/").ctx("chdir", "/")?;
        nix::sys::prctl::set_child_subreaper(true).sys("set child subreaper")?;
        let (sig_r, sig_w) = UnixStream::pair().ctx("socketpair", &cfg.dir)?;
        sig_w.set_nonblocking(true).ctx("nonblocking", &cfg.dir)?;
        signal_hook::low_level::pipe::register(libc::SIGCHLD, sig_w).ctx("register SIGCHLD", &cfg.dir)?;
        // The agent's terminal or process group must not take the shim down.
        for s in [libc::SIGHUP, libc::SIGINT, libc::SIGPIPE] {
            let _ = signal_hook::flag::register(s, std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)));
        }

        let sock = cfg.dir.join("shim.sock");
        let _ = std::fs::remove_file(&sock);
        let listener = UnixListener::bind(&sock).ctx("bind", &sock)?;
        let log = LogWriter::open(&cfg.log_path, cfg.log_max_size, cfg.log_max_files).ctx("open log", &cfg.log_path)?;

        let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).sys("pipe")?;
        let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).sys("pipe")?;
        let runtime = cfg.runtime.open()?;
        let console_sock = cfg.dir.join("console.sock");
        let console_listener = if cfg.tty {
            let _ = std::fs::remove_file(&console_sock);
            Some(UnixListener::bind(&console_sock).ctx("bind", &console_sock)?)
        } else {
            None
        };
        let (mut stdin, stdin_r) = if cfg.stdin && !cfg.tty {
            let (relay, r) = StdinRelay::setup(&cfg.dir, None)?;
            (Some(relay), r)
        } else {
            (None, None)
        };
        let io = if cfg.tty {
            ContainerIo { console_socket: Some(console_sock.clone()), ..Default::default() }
        } else {
            ContainerIo { stdin: stdin_r, stdout: Some(out_w), stderr: Some(err_w), console_socket: None }
        };
        let pid = match runtime.create(&cfg.id, &cfg.bundle, io) {
            Ok(pid) => pid,
            Err(e) => {
                let _ = std::fs::remove_file(&console_sock);
                let _ = std::fs::remove_file(&sock);
                // The runtime cleaned up its own failure; an existing container is not ours to touch.
                if !matches!(e, Error::Exists(_)) {
                    let _ = crate::cgroups::remove(&cfg.cgroup_path);
                }
                return Err(e);
            }
        };
        // The runtime sent the terminal during create: it is waiting in the socket.
        let console = match &console_listener {
            Some(l) => match receive_console(l, &console_sock) {
                Ok(m) => Some(m),
                Err(e) => {
                    let _ = std::fs::remove_file(&console_sock);
                    let _ = runtime.delete(&cfg.id, true);
                    let _ = crate::cgroups::remove(&cfg.cgroup_path);
                    let _ = std::fs::remove_file(&sock);
                    return Err(e);
                }
            },
            None => None,
        };
        let _ = std::fs::remove_file(&console_sock);
        if let (Some(master), true) = (&console, cfg.stdin) {
            let target = master.try_clone().ctx("dup terminal", &cfg.dir)?;
            stdin = Some(StdinRelay::setup(&cfg.dir, Some(target))?.0);
        }
        if let Err(e) = runtime.start(&cfg.id) {
            let _ = runtime.delete(&cfg.id, true);
            let _ = crate::cgroups::remove(&cfg.cgroup_path);
            let _ = std::fs::remove_file(&sock);
            return Err(e);
        }
        let status = ShimStatus {
            id: cfg.id.clone(),
            shim_pid: std::process::id() as i32,
            pid,
            state: ContainerState::Running,
            started_at: now_rfc3339(),
            exit: None,
        };
        write_json_atomic(&cfg.dir.join("status.json"), &status)?;
        report(&format!("ok {pid}"));
        let outputs = match &console {
            Some(master) => vec![Output {
                file: master.try_clone().ctx("dup terminal", &cfg.dir)?,
                split: LineSplitter::new(Stream::Stdout, MAX_RECORD).strip_cr(),
            }],
            None => vec![
                Output { file: std::fs::File::from(out_r), split: LineSplitter::new(Stream::Stdout, MAX_RECORD) },
                Output { file: std::fs::File::from(err_r), split: LineSplitter::new(Stream::Stderr, MAX_RECORD) },
            ],
        };
        Ok(Daemon {
            outputs,
            console,
            cfg,
            runtime,
            listener,
            sigchld: sig_r,
            log,
            clients: Vec::new(),
            status,
            pending_exit: None,
            deleted: false,
            stdin,
        })
    }

    fn run(&mut self) {
        // The container may have exited before SIGCHLD could be noticed.
        self.reap();
        while !self.deleted {
            let timeout = if self.pending_exit.is_some() { PollTimeout::from(100u16) } else { PollTimeout::NONE };
            let ready: Vec<bool> = {
                let mut fds = vec![
                    PollFd::new(self.sigchld.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
                ];
                for o in &self.outputs {
                    fds.push(PollFd::new(o.file.as_fd(), PollFlags::POLLIN));
                }
                for c in &self.clients {
                    fds.push(PollFd::new(c.stream.as_fd(), PollFlags::POLLIN));
                }
                if let Some(si) = &self.stdin {
                    if si.pipe.is_some() && si.buf.len() < STDIN_BUFFER {
                        fds.push(PollFd::new(si.fifo.as_fd(), PollFlags::POLLIN));
                    }
                    if let Some(p) = si.pipe.as_ref().filter(|_| !si.buf.is_empty()) {
                        fds.push(PollFd::new(p.as_fd(), PollFlags::POLLOUT));
                    }
                }
                match nix::poll::poll(&mut fds, timeout) {
                    Ok(_) => fds.iter().map(|f| f.revents().map(|r| !r.is_empty()).unwrap_or(false)).collect(),
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        eprintln!("shim {}: poll: {e}", self.cfg.id);
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                }
            };
            if ready[0] {
                let mut buf = [0u8; 64];
                let _ = self.sigchld.read(&mut buf);
                self.reap();
            }
            let n_out = self.outputs.len();
            let mut closed = Vec::new();
            for i in 0..n_out {
                if ready[2 + i] && !self.drain_output(i) {
                    closed.push(i);
                }
            }
            let n_clients = self.clients.len();
            let client_ready: Vec<bool> = ready[2 + n_out..2 + n_out + n_clients].to_vec();
            if ready[2 + n_out + n_clients..].iter().any(|r| *r) {
                if let Some(si) = &mut self.stdin {
                    si.read_fifo();
                }
            }
            for i in closed.into_iter().rev() {
                let mut o = self.outputs.remove(i);
                let _ = o.split.finish(&mut self.log);
            }
            let mut gone = Vec::new();
            for (i, r) in client_ready.iter().enumerate() {
                if *r && !self.serve_client(i) {
                    gone.push(i);
                }
            }
            for i in gone.into_iter().rev() {
                self.clients.remove(i);
            }
            if ready[1] {
                if let Ok((stream, _)) = self.listener.accept() {
                    self.clients.push(Client { stream, buf: Vec::new(), waiting: false });
                }
            }
            self.maybe_finish_exit();
        }
    }

    /// Reads what is available; false on end of stream.
    fn drain_output(&mut self, i: usize) -> bool {
        let mut buf = vec![0u8; 64 * 1024];
        let o = &mut self.outputs[i];
        match o.file.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                if let Err(e) = o.split.feed(&buf[..n], &mut self.log) {
                    eprintln!("shim {}: write log: {e}", self.cfg.id);
                }
                true
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock) => true,
            // A terminal master reports EIO once the container side is closed.
            Err(_) => false,
        }
    }

    fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(st) => {
                    if st.pid().map(|p| p.as_raw()) == Some(self.status.pid) && self.status.exit.is_none() && self.pending_exit.is_none() {
                        if let Some((code, signal)) = exit_code_of(st) {
                            let oom_killed = crate::cgroups::oom_kill_count(&self.cfg.cgroup_path).unwrap_or(0) > 0;
                            let info = ExitInfo { code, signal, oom_killed, finished_at: now_rfc3339() };
                            self.pending_exit = Some((info, Instant::now()));
                        }
                    }
                }
            }
        }
    }

    /// Reports the exit once all output is logged (or the grace period is over).
    fn maybe_finish_exit(&mut self) {
        let Some((_, seen)) = &self.pending_exit else { return };
        if !self.outputs.is_empty() && seen.elapsed() < OUTPUT_GRACE {
            return;
        }
        let Some((info, _)) = self.pending_exit.take() else { return };
        for mut o in self.outputs.drain(..) {
            let _ = o.split.finish(&mut self.log);
        }
        self.status.exit = Some(info);
        self.status.state = ContainerState::Exited;
        if let Err(e) = write_json_atomic(&self.cfg.dir.join("status.json"), &self.status) {
            eprintln!("shim {}: {e}", self.cfg.id);
        }
        let reply = Reply { ok: true, error: None, status: Some(self.status.clone()) };
        for c in self.clients.iter_mut().filter(|c| c.waiting) {
            let _ = send(&mut c.stream, &reply);
            c.waiting = false;
        }
    }

    /// Handles readable data on client `i`; false when the client is gone.
    fn serve_client(&mut self, i: usize) -> bool {
        let mut buf = [0u8; 4096];
        let n = match self.clients[i].stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        self.clients[i].buf.extend_from_slice(&buf[..n]);
        while let Some(pos) = self.clients[i].buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.clients[i].buf.drain(..=pos).collect();
            let reply = match serde_json::from_slice::<Request>(&line) {
                Ok(req) => self.handle(i, req),
                Err(e) => Some(Reply { ok: false, error: Some(format!("bad request: {e}")), status: None }),
            };
            if let Some(reply) = reply {
                if send(&mut self.clients[i].stream, &reply).is_err() {
                    return false;
                }
            }
        }
        true
    }

    fn handle(&mut self, client: usize, req: Request) -> Option<Reply> {
        let ok = |status: Option<ShimStatus>| Some(Reply { ok: true, error: None, status });
        let fail = |e: String| Some(Reply { ok: false, error: Some(e), status: None });
        match req {
            Request::Status => ok(Some(self.status.clone())),
            Request::Wait => {
                if self.status.state == ContainerState::Exited {
                    ok(Some(self.status.clone()))
                } else {
                    self.clients[client].waiting = true;
                    None
                }
            }
            Request::Kill { signal, all } => {
                if self.status.state == ContainerState::Exited || self.pending_exit.is_some() {
                    return ok(Some(self.status.clone()));
                }
                match self.runtime.kill(&self.cfg.id, signal, all) {
                    Ok(()) => ok(Some(self.status.clone())),
                    Err(e) => {
                        // The init may have exited between the check and the kill.
                        self.reap();
                        if self.pending_exit.is_some() {
                            ok(Some(self.status.clone()))
                        } else {
                            fail(e.to_string())
                        }
                    }
                }
            }
            Request::Resize { rows, cols } => match &self.console {
                Some(m) => match crate::sys::set_winsize(m, rows, cols) {
                    Ok(()) => ok(Some(self.status.clone())),
                    Err(e) => fail(format!("resize: {e}")),
                },
                None => fail("container has no terminal".into()),
            },
            Request::CloseStdin => {
                if let Some(si) = &mut self.stdin {
                    si.close_when_flushed = true;
                    si.flush();
                }
                ok(Some(self.status.clone()))
            }
            Request::Delete => {
                let mut errors = Vec::new();
                if let Err(e) = self.runtime.delete(&self.cfg.id, true) {
                    errors.push(e.to_string());
                }
                self.reap();
                if let Err(e) = crate::cgroups::remove(&self.cfg.cgroup_path) {
                    errors.push(e.to_string());
                }
                if errors.is_empty() {
                    self.deleted = true;
                    let _ = std::fs::remove_file(self.cfg.dir.join("shim.sock"));
                    ok(Some(self.status.clone()))
                } else {
                    fail(errors.join("; "))
                }
            }
        }
    }
}

/// Accepts the runtime's connection on the console socket and takes the terminal master from it.
fn receive_console(listener: &UnixListener, path: &Path) -> Result<std::fs::File> {
    listener.set_nonblocking(true).ctx("nonblocking", path)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false).ctx("blocking", path)?;
                let fd = crate::sys::recv_fd(&conn).ctx("receive terminal", path)?;
                return Ok(std::fs::File::from(fd));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e).ctx("accept terminal", path),
        }
    }
}

fn send(stream: &mut UnixStream, reply: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)
}
