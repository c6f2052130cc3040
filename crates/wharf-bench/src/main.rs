//! `wharf-bench`: a load generator for the Wharf API server (or any Kubernetes API server on
//! loopback), in the shape of `shared/bench/k8s-load.py` but without its client-side limits.
//!
//! * `cm`: C concurrent clients POST N ConfigMaps (label `bench=load`, one data value of
//!   `--value-bytes`), then 1,000 sequential GETs of one object and 50 sequential LISTs of all.
//! * `watch`: W watchers on the namespace's ConfigMaps (from the LIST's resourceVersion), then
//!   N sequential creates; per event, the delay until every watcher saw it.
//! * `fill`: many small objects fast (for RSS with 100k objects).
//! * `compare`: the Python tool and this tool against the same server, one after the other.
//! * `aws`, `iam-eval`: the AWS front door (SigV4-signed STS/ECR calls, a 100-policy IAM user)
//!   and in-process policy evaluation; see `aws.rs`.
//! * `rss`, `fsync`: helpers, VmRSS of PIDs; fdatasync latency of a directory's filesystem.
//!
//! The server is either given (`--server/--token/--ca`) or started here (`--spawn WHARF_BIN`:
//! `wharf up` in a fresh temp dir on a free 127.0.0.1 port, stopped by PID at the end).
//! Every run prints one JSON object on stdout. Only loopback servers are accepted; every load
//! is bounded in count and every request in time.

mod aws;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Every single request (and each connection attempt) is bounded by this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Parser)]
#[command(name = "wharf-bench", about = "Load generator for a Kubernetes-compatible API server on loopback")]
struct Cli {
    #[command(flatten)]
    target: TargetArgs,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct TargetArgs {
    /// API server URL, loopback only (e.g. https://127.0.0.1:6443).
    #[arg(long, global = true)]
    server: Option<String>,
    /// Bearer token.
    #[arg(long, global = true, env = "WHARF_BENCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// CA bundle (PEM) the server's certificate is verified against.
    #[arg(long, global = true)]
    ca: Option<PathBuf>,
    /// Start `PATH up` in a fresh temp dir on a free 127.0.0.1 port, use it, stop it (by PID) at the end.
    #[arg(long, global = true, value_name = "WHARF_BINARY")]
    spawn: Option<PathBuf>,
    /// WHARF_LOG of a spawned server (its stderr goes to DATA_DIR/server.log). With
    /// `wharf_apiserver::http=debug,warn` the server-side `elapsed_us` of every request is summarized.
    #[arg(long, global = true, default_value = "warn")]
    server_log: String,
    /// Keep the spawned server's data dir.
    #[arg(long, global = true)]
    keep: bool,
    /// Extra flags for a spawned `wharf up` (repeatable), e.g. `--server-arg=--simulated-nodes=5000`.
    #[arg(long = "server-arg", global = true, allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Seconds to wait after a spawned server is ready before reading its idle RSS.
    #[arg(long, global = true, default_value_t = 3.0)]
    idle_wait: f64,
    /// More PIDs (comma-separated) whose CPU time and RSS to report, e.g. a server not spawned here.
    #[arg(long, global = true, value_delimiter = ',')]
    pids: Vec<u32>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Concurrent creates, then sequential GET-one and LIST-all.
    Cm(CmArgs),
    /// Watch fan-out: W watchers, N sequential creates, per-event delay until all watchers saw it.
    Watch(WatchArgs),
    /// Create many small objects fast, then report RSS (and LIST-all timings).
    Fill(FillArgs),
    /// Run shared/bench/k8s-load.py and this tool's `cm` against the same server.
    Compare(CompareArgs),
    /// Print VmRSS/VmHWM (KiB) of PIDs.
    Rss {
        /// PIDs.
        #[arg(long = "pid", required = true, value_delimiter = ',')]
        pid: Vec<u32>,
    },
    /// Measure write+fdatasync latency of a directory's filesystem.
    Fsync(FsyncArgs),
    /// Scheduling at scale: Deployments over simulated nodes, time until every pod is Running.
    Sched(SchedArgs),
    /// Real containers on one node agent: pods created N at a time, create→Running latency
    /// (spawn with `--server-arg=--nodes=1 --server-arg=--insecure-registry=HOST:PORT`, root).
    Agent(AgentArgs),
    /// The AWS front door: SigV4-signed GetCallerIdentity and DescribeRepositories from N clients,
    /// as the admin and as an IAM user with 100 policies (`--aws-env DIR/aws.env` or `--spawn`).
    Aws(aws::AwsArgs),
    /// In-process IAM policy evaluation: one request against 100 policies, ns per evaluation.
    IamEval(aws::IamEvalArgs),
}

#[derive(Args, Clone)]
struct AgentArgs {
    /// Image every pod runs (pulled once by a warm-up pod before measuring).
    #[arg(long)]
    image: String,
    /// Pods to create.
    #[arg(long, default_value_t = 100)]
    pods: usize,
    /// Pods in flight at a time (each worker creates a pod and waits until it is Running).
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600.0)]
    timeout_s: f64,
}

#[derive(Args, Clone)]
struct SchedArgs {
    /// Ready nodes to wait for before starting (a spawned server needs `--server-arg=--simulated-nodes=N`).
    #[arg(long, default_value_t = 5000)]
    nodes: usize,
    /// Deployments to create.
    #[arg(long, default_value_t = 50)]
    deployments: usize,
    /// Replicas per Deployment.
    #[arg(long, default_value_t = 1000)]
    replicas: usize,
    /// CPU request per pod.
    #[arg(long, default_value = "10m")]
    cpu: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600.0)]
    timeout_s: f64,
    /// Create the pods directly instead of through Deployments (the scheduler alone).
    #[arg(long)]
    bare_pods: bool,
}

#[derive(Args, Clone)]
struct LoadArgs {
    /// Concurrent clients (each with its own connection unless --http2).
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Multiplex the clients as HTTP/2 streams over --connections connections.
    #[arg(long)]
    http2: bool,
    /// HTTP/2 connections shared by the clients (default 1).
    #[arg(long)]
    connections: Option<usize>,
    /// Size of the ConfigMap's data value.
    #[arg(long, default_value_t = 64)]
    value_bytes: usize,
    /// Namespace (default: a fresh random one, created).
    #[arg(long)]
    namespace: Option<String>,
}

#[derive(Args, Clone)]
struct CmArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// ConfigMaps to create.
    #[arg(long, default_value_t = 2000)]
    count: usize,
    /// Sequential GETs of one object.
    #[arg(long, default_value_t = 1000)]
    gets: usize,
    /// Sequential LISTs of all objects (no limit).
    #[arg(long, default_value_t = 50)]
    lists: usize,
    /// With --spawn: after the creates, SIGKILL the server, restart it on the same data dir and
    /// count the acknowledged objects that survived.
    #[arg(long)]
    crash_check: bool,
}

#[derive(Args, Clone)]
struct WatchArgs {
    /// Watchers (each its own connection unless --http2).
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Objects created (one at a time) while watched.
    #[arg(long, default_value_t = 1000)]
    events: usize,
    /// Size of the ConfigMap's data value.
    #[arg(long, default_value_t = 64)]
    value_bytes: usize,
    /// Multiplex the watches as HTTP/2 streams over --connections connections.
    #[arg(long)]
    http2: bool,
    /// HTTP/2 connections shared by the watchers (default 1).
    #[arg(long)]
    connections: Option<usize>,
    /// Seconds to wait after the last create for the last deliveries.
    #[arg(long, default_value_t = 30.0)]
    settle_timeout: f64,
}

#[derive(Args, Clone)]
struct FillArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Objects to create.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// Sequential LISTs of everything afterwards (0 for none).
    #[arg(long, default_value_t = 3)]
    lists: usize,
    /// Seconds to wait after the creates before reading RSS again.
    #[arg(long, default_value_t = 3.0)]
    settle: f64,
}

#[derive(Args, Clone)]
struct CompareArgs {
    #[command(flatten)]
    cm: CmArgs,
    /// The Python tool.
    #[arg(long, default_value = "/work/shared/bench/k8s-load.py")]
    python_tool: PathBuf,
    /// Python interpreter.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Worker processes of the Python tool.
    #[arg(long, default_value_t = 4)]
    procs: usize,
    /// Run this tool first, then the Python tool.
    #[arg(long)]
    rust_first: bool,
}

#[derive(Args, Clone)]
struct FsyncArgs {
    /// Directory whose filesystem to measure.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Number of write+fdatasync rounds.
    #[arg(long, default_value_t = 200)]
    count: usize,
    /// Bytes appended before each fdatasync.
    #[arg(long, default_value_t = 4096)]
    bytes: usize,
}

// ------------------------------------------------------------------ measurement helpers

/// Percentile as k8s-load.py computes it (nearest rank).
fn pct(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let k = ((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1;
    sorted[k]
}

fn r3(x: f64) -> Value {
    if x.is_finite() {
        json!((x * 1000.0).round() / 1000.0)
    } else {
        Value::Null
    }
}

/// Latency summary in milliseconds of durations given in seconds.
fn lat_summary(xs: &[f64]) -> Value {
    let mut ms: Vec<f64> = xs.iter().map(|x| x * 1000.0).collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    if ms.is_empty() {
        return json!({"n": 0});
    }
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    json!({
        "n": ms.len(),
        "p50_ms": r3(pct(&ms, 50.0)),
        "p90_ms": r3(pct(&ms, 90.0)),
        "p99_ms": r3(pct(&ms, 99.0)),
        "max_ms": r3(ms[ms.len() - 1]),
        "mean_ms": r3(mean),
    })
}

fn clk_tck() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// utime + stime of a process (all its threads), seconds.
fn proc_cpu_s(pid: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the comm field: state is field 3 of stat, utime 14 and stime 15 → indexes 11, 12 here.
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / clk_tck())
}

/// cutime + cstime: CPU of waited-for children (e.g. the Python tool and its worker processes), seconds.
fn children_cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let f: Vec<&str> = s[s.rfind(')')? + 2..].split_whitespace().collect();
    Some((f.get(13)?.parse::<f64>().ok()? + f.get(14)?.parse::<f64>().ok()?) / clk_tck())
}

/// CPU seconds of each thread of a process, summed by thread name (`comm`).
fn thread_cpu_s(pid: u32) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return out };
    for e in dir.flatten() {
        let Ok(s) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let (Some(a), Some(b)) = (s.find('('), s.rfind(')')) else { continue };
        let name = s[a + 1..b].to_string();
        if let Some(cpu) = proc_cpu_s(&format!("{pid}/task/{}", e.file_name().to_string_lossy())) {
            *out.entry(name).or_insert(0.0) += cpu;
        }
    }
    out
}

/// (VmRSS, VmHWM, RssAnon, RssFile) in KiB.
fn proc_rss_kib(pid: u32) -> Option<(u64, u64, u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> { s.lines().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse().ok() };
    Some((field("VmRSS:")?, field("VmHWM:")?, field("RssAnon:").unwrap_or(0), field("RssFile:").unwrap_or(0)))
}

fn rss_json(pids: &[u32]) -> Value {
    let mut m = Map::new();
    for p in pids {
        m.insert(
            p.to_string(),
            match proc_rss_kib(*p) {
                Some((rss, hwm, anon, file)) => json!({"rss_kib": rss, "rss_mib": r3(rss as f64 / 1024.0), "hwm_kib": hwm, "anon_kib": anon, "file_kib": file}),
                None => Value::Null,
            },
        );
    }
    Value::Object(m)
}

/// (busy, total) jiffies of the whole machine.
fn machine_jiffies() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let line = s.lines().next()?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

fn loadavg() -> Value {
    std::fs::read_to_string("/proc/loadavg").map(|s| json!(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))).unwrap_or(Value::Null)
}

fn nproc() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// CPU accounting of one phase: wall time, CPU of the server process(es), of this tool and of
/// the whole machine.
struct Meter {
    t0: Instant,
    pids: Vec<(u32, Option<f64>, BTreeMap<String, f64>)>,
    me: Option<f64>,
    children: Option<f64>,
    machine: Option<(u64, u64)>,
}

impl Meter {
    fn start(pids: &[u32]) -> Self {
        Self {
            t0: Instant::now(),
            pids: pids.iter().map(|p| (*p, proc_cpu_s(&p.to_string()), thread_cpu_s(*p))).collect(),
            me: proc_cpu_s("self"),
            children: children_cpu_s(),
            machine: machine_jiffies(),
        }
    }

    fn finish(&self, requests: usize) -> Value {
        let wall = self.t0.elapsed().as_secs_f64();
        let mut servers = Map::new();
        for (p, c0, threads0) in &self.pids {
            let mut threads = Map::new();
            for (name, cpu) in thread_cpu_s(*p) {
                // Threads that ended during the phase are missing here; new ones count from 0.
                let d = cpu - threads0.get(&name).copied().unwrap_or(0.0);
                if d > 0.0 {
                    threads.insert(name, r3(d));
                }
            }
            let v = match (c0, proc_cpu_s(&p.to_string())) {
                (Some(a), Some(b)) => json!({
                    "cpu_s": r3(b - a),
                    "cores": r3((b - a) / wall),
                    "cpu_us_per_request": if requests > 0 { r3((b - a) * 1e6 / requests as f64) } else { Value::Null },
                    "threads_cpu_s": threads,
                }),
                _ => Value::Null,
            };
            servers.insert(p.to_string(), v);
        }
        let me = match (self.me, proc_cpu_s("self")) {
            (Some(a), Some(b)) => json!({"cpu_s": r3(b - a), "cores": r3((b - a) / wall)}),
            _ => Value::Null,
        };
        let machine = match (self.machine, machine_jiffies()) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => json!({"busy_cores": r3((b1 - b0) as f64 / (t1 - t0) as f64 * nproc() as f64), "nproc": nproc()}),
            _ => Value::Null,
        };
        let children = match (self.children, children_cpu_s()) {
            (Some(a), Some(b)) if b > a => json!({"cpu_s": r3(b - a), "cores": r3((b - a) / wall)}),
            _ => Value::Null,
        };
        json!({"wall_s": r3(wall), "requests": requests, "server_cpu": servers, "client_cpu": me, "child_process_cpu": children, "machine": machine})
    }
}

/// A position in the spawned server's log, to summarize the server-side `elapsed_us` of the
/// requests logged after it.
struct LogTap {
    path: PathBuf,
    offset: u64,
}

impl LogTap {
    fn at(path: &Path) -> Self {
        Self { path: path.to_path_buf(), offset: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) }
    }

    /// Server-side latency per kind of request since the tap, or null when nothing was logged.
    fn summary(&self) -> Value {
        use std::io::{Read, Seek, SeekFrom};
        let mut buf = String::new();
        let Ok(mut f) = std::fs::File::open(&self.path) else { return Value::Null };
        if f.seek(SeekFrom::Start(self.offset)).is_err() || f.read_to_string(&mut buf).is_err() {
            return Value::Null;
        }
        let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for raw in buf.lines().filter(|l| l.contains("elapsed_us")) {
            let line = strip_ansi(raw);
            let field = |k: &str| -> Option<String> {
                let i = line.find(&format!(" {k}="))? + k.len() + 2;
                Some(line[i..].split_whitespace().next()?.to_string())
            };
            let (Some(method), Some(path), Some(us)) = (field("method"), field("path"), field("elapsed_us").and_then(|u| u.parse::<f64>().ok())) else { continue };
            let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            let class = match (method.as_str(), segs.as_slice()) {
                ("POST", [.., "configmaps"]) => "create",
                ("GET", [.., "configmaps"]) => "list_or_watch",
                ("GET", [.., "configmaps", _]) => "get",
                _ => "other",
            };
            by.entry(class.to_string()).or_default().push(us / 1e6);
        }
        if by.is_empty() {
            return Value::Null;
        }
        Value::Object(by.into_iter().map(|(k, v)| (k, lat_summary(&v))).collect())
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\u{1b}' {
            if it.peek() == Some(&'[') {
                it.next();
                for d in it.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn rand_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.write_u32(std::process::id());
    format!("{:08x}", h.finish() as u32)
}

// ------------------------------------------------------------------ spawned server

/// A `wharf up` started by this tool; stopped by PID when dropped.
struct Spawned {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    log_filter: String,
    child: Option<Child>,
    keep: bool,
    ready_s: f64,
    extra: Vec<String>,
}

impl Spawned {
    fn start(bin: &Path, log_filter: &str, keep: bool, extra: &[String]) -> Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("wharf-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut s = Self { bin: bin.to_path_buf(), dir, port, log_filter: log_filter.to_string(), child: None, keep, ready_s: 0.0, extra: extra.to_vec() };
        s.launch()?;
        Ok(s)
    }

    fn launch(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path())?;
        let t0 = Instant::now();
        let mut child = Command::new(&self.bin)
            .arg("up")
            .arg("--data-dir")
            .arg(&self.dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(&self.extra)
            .env("WHARF_LOG", &self.log_filter)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if line.contains("ready") {
                    let _ = tx.send(line.clone());
                }
            }
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if rx.recv_timeout(Duration::from_millis(100)).is_ok() {
                break;
            }
            if let Some(c) = self.child.as_mut() {
                if let Some(st) = c.try_wait()? {
                    self.child = None;
                    bail!("{} exited before ready ({st}); see {}", self.bin.display(), self.log_path().display());
                }
            }
            if Instant::now() > deadline {
                bail!("{} not ready after 120 s", self.bin.display());
            }
        }
        self.ready_s = t0.elapsed().as_secs_f64();
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn token(&self) -> Result<String> {
        let p = self.dir.join("clusters/default/admin.token");
        Ok(std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?.trim().to_string())
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("clusters/default/pki/ca.crt")
    }

    /// SIGTERM by PID, then SIGKILL if it has not exited within 10 s.
    fn stop(&mut self) {
        let Some(mut c) = self.child.take() else { return };
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    /// SIGKILL by PID (a crash: no shutdown path runs).
    fn crash(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn info(&self) -> Value {
        json!({"binary": self.bin.display().to_string(), "pid": self.pid(), "data_dir": self.dir.display().to_string(),
               "ready_s": r3(self.ready_s), "log_filter": self.log_filter, "kept": self.keep})
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.stop();
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

// ------------------------------------------------------------------ client

/// Where and how to connect.
struct Target {
    base: String,
    authority: String,
    addr: SocketAddr,
    server_name: ServerName<'static>,
    token: Option<String>,
    tls_h1: Arc<rustls::ClientConfig>,
    tls_h2: Arc<rustls::ClientConfig>,
}

fn parse_loopback(url: &str) -> Result<(String, SocketAddr, String)> {
    let rest = url.strip_prefix("https://").ok_or_else(|| anyhow!("only https:// servers are supported: {url}"))?;
    let authority = rest.trim_end_matches('/').to_string();
    anyhow::ensure!(!authority.contains('/'), "the server URL must have no path: {url}");
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h.trim_start_matches('[').trim_end_matches(']'), p.parse::<u16>().context("port")?),
        _ => (authority.as_str(), 443),
    };
    let ip: IpAddr = match host {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h.parse().with_context(|| format!("host must be a loopback address: {h}"))?,
    };
    if !ip.is_loopback() {
        bail!("refusing non-loopback server {url:?}");
    }
    Ok((format!("https://{authority}"), SocketAddr::new(ip, port), host.to_string()))
}

impl Target {
    fn new(url: &str, token: Option<String>, ca: &Path) -> Result<Self> {
        let (base, addr, host) = parse_loopback(url)?;
        let pem = std::fs::read(ca).with_context(|| format!("reading CA {}", ca.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots.add(c.context("parsing CA")?).context("adding CA")?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mk = |alpn: &[u8]| -> Result<Arc<rustls::ClientConfig>> {
            let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            cfg.alpn_protocols = vec![alpn.to_vec()];
            Ok(Arc::new(cfg))
        };
        let server_name = ServerName::try_from(host.clone()).map_err(|e| anyhow!("server name {host}: {e}"))?;
        Ok(Self {
            authority: base.trim_start_matches("https://").to_string(),
            base,
            addr,
            server_name,
            token,
            tls_h1: mk(b"http/1.1")?,
            tls_h2: mk(b"h2")?,
        })
    }
}

enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// One client: an HTTP/1.1 connection of its own, or a stream handle on a shared HTTP/2 connection.
struct Client {
    t: Arc<Target>,
    s: Sender,
}

impl Client {
    async fn connect(t: &Arc<Target>, h2: bool) -> Result<Self> {
        tokio::time::timeout(REQUEST_TIMEOUT, Self::connect_inner(t, h2)).await.map_err(|_| anyhow!("connect timed out"))?
    }

    async fn connect_inner(t: &Arc<Target>, h2: bool) -> Result<Self> {
        let tcp = tokio::net::TcpStream::connect(t.addr).await.with_context(|| format!("connecting to {}", t.addr))?;
        tcp.set_nodelay(true)?;
        let cfg = if h2 { t.tls_h2.clone() } else { t.tls_h1.clone() };
        let tls = tokio_rustls::TlsConnector::from(cfg).connect(t.server_name.clone(), tcp).await.context("TLS handshake")?;
        let io = TokioIo::new(tls);
        let s = if h2 {
            let (s, conn) = http2::handshake(TokioExecutor::new(), io).await.context("HTTP/2 handshake")?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Sender::H2(s)
        } else {
            let (s, conn) = http1::handshake(io).await.context("HTTP/1.1 handshake")?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Sender::H1(s)
        };
        Ok(Self { t: t.clone(), s })
    }

    /// Another stream handle on the same HTTP/2 connection.
    fn fork(&self) -> Option<Self> {
        match &self.s {
            Sender::H2(s) => Some(Self { t: self.t.clone(), s: Sender::H2(s.clone()) }),
            Sender::H1(_) => None,
        }
    }

    fn request(&self, method: Method, path: &str, body: Option<Bytes>) -> Result<Request<Full<Bytes>>> {
        let uri = match self.s {
            Sender::H1(_) => path.to_string(),
            Sender::H2(_) => format!("{}{path}", self.t.base),
        };
        let mut b = Request::builder().method(method).uri(uri).header(header::ACCEPT, "application/json");
        if matches!(self.s, Sender::H1(_)) {
            b = b.header(header::HOST, &self.t.authority);
        }
        if let Some(tok) = &self.t.token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {tok}"));
        }
        if body.is_some() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        Ok(b.body(Full::new(body.unwrap_or_default()))?)
    }

    async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<http::Response<Incoming>> {
        Ok(match &mut self.s {
            Sender::H1(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
            Sender::H2(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
        })
    }

    /// One request with the whole response body.
    async fn call(&mut self, method: Method, path: &str, body: Option<Bytes>) -> Result<(StatusCode, Bytes)> {
        let req = self.request(method, path, body)?;
        tokio::time::timeout(REQUEST_TIMEOUT, async {
            let resp = self.send(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>((status, body))
        })
        .await
        .map_err(|_| anyhow!("request timed out after {REQUEST_TIMEOUT:?}"))?
    }
}

/// `clients` clients: own HTTP/1.1 connections, or handles spread over `connections` HTTP/2 connections.
async fn connect_clients(t: &Arc<Target>, clients: usize, h2: bool, connections: Option<usize>) -> Result<Vec<Client>> {
    let mut out = Vec::with_capacity(clients);
    if h2 {
        let k = connections.unwrap_or(1).clamp(1, clients.max(1));
        let mut conns = Vec::with_capacity(k);
        for _ in 0..k {
            conns.push(Client::connect(t, true).await?);
        }
        for i in 0..clients {
            out.push(conns[i % k].fork().ok_or_else(|| anyhow!("not an HTTP/2 connection"))?);
        }
    } else {
        for _ in 0..clients {
            out.push(Client::connect(t, false).await?);
        }
    }
    Ok(out)
}

fn short(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned()
}

async fn ensure_namespace(c: &mut Client, ns: &str) -> Result<()> {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    let (st, b) = c.call(Method::POST, "/api/v1/namespaces", Some(Bytes::from(body.to_string()))).await?;
    if !matches!(st.as_u16(), 200 | 201 | 409) {
        bail!("create namespace {ns}: {st} {}", short(&b));
    }
    Ok(())
}

fn cm_body(i: usize, value_bytes: usize) -> Bytes {
    let payload = "x".repeat(value_bytes);
    Bytes::from(
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": format!("cm-{i:06}"), "labels": {"bench": "load"}},
               "data": {"key": payload}})
        .to_string(),
    )
}

struct PostResult {
    wall: f64,
    lats: Vec<f64>,
    errors: Vec<String>,
    meter: Value,
}

/// POSTs every body once, with `clients` concurrent clients taking the next body in turn.
async fn parallel_post(ctx: &Ctx, path: &str, bodies: Arc<Vec<Bytes>>, load: &LoadArgs) -> Result<PostResult> {
    let clients = connect_clients(&ctx.target, load.clients.max(1), load.http2, load.connections).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let meter = Meter::start(&ctx.pids);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for mut c in clients {
        let (next, bodies, path) = (next.clone(), bodies.clone(), path.to_string());
        tasks.push(tokio::spawn(async move {
            let mut lats = Vec::new();
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= bodies.len() {
                    break;
                }
                let t = Instant::now();
                match c.call(Method::POST, &path, Some(bodies[i].clone())).await {
                    Ok((st, _)) if st.as_u16() == 201 || st.as_u16() == 200 => lats.push(t.elapsed().as_secs_f64()),
                    Ok((st, b)) => errors.push(format!("{st} {}", short(&b))),
                    Err(e) => {
                        errors.push(format!("{e:#}"));
                        // A broken HTTP/1.1 connection stays broken: stop this client.
                        if matches!(c.s, Sender::H1(ref s) if s.is_closed()) {
                            break;
                        }
                    }
                }
            }
            (lats, errors)
        }));
    }
    let mut lats = Vec::with_capacity(bodies.len());
    let mut errors = Vec::new();
    for t in tasks {
        let (l, e) = t.await?;
        lats.extend(l);
        errors.extend(e);
    }
    let wall = t0.elapsed().as_secs_f64();
    Ok(PostResult { wall, lats, errors, meter: meter.finish(bodies.len()) })
}

fn create_json(r: &PostResult, count: usize, load: &LoadArgs) -> Value {
    json!({
        "count": count, "clients": load.clients, "http2": load.http2,
        "connections": if load.http2 { load.connections.unwrap_or(1) } else { load.clients },
        "ok": r.lats.len(), "errors": r.errors.len(), "first_errors": r.errors.iter().take(3).collect::<Vec<_>>(),
        "wall_s": r3(r.wall),
        "throughput_per_s": if r.wall > 0.0 { json!((r.lats.len() as f64 / r.wall * 10.0).round() / 10.0) } else { Value::Null },
        "latency": lat_summary(&r.lats),
        "cpu": r.meter,
    })
}

/// `n` sequential GETs of `path`; latencies and the size of the last body.
async fn timed_gets(c: &mut Client, path: &str, n: usize) -> Result<(Vec<f64>, Bytes)> {
    let mut lats = Vec::with_capacity(n);
    let mut last = Bytes::new();
    for _ in 0..n {
        let t = Instant::now();
        let (st, b) = c.call(Method::GET, path, None).await?;
        lats.push(t.elapsed().as_secs_f64());
        if st != StatusCode::OK {
            bail!("GET {path}: {st} {}", short(&b));
        }
        last = b;
    }
    Ok((lats, last))
}

/// What every command gets: the target, the spawned server if any, the PIDs to account.
struct Ctx {
    target: Arc<Target>,
    spawned: Option<Spawned>,
    pids: Vec<u32>,
}

impl Ctx {
    fn tap(&self) -> Option<LogTap> {
        self.spawned.as_ref().map(|s| LogTap::at(&s.log_path()))
    }
}

fn tap_summary(t: &Option<LogTap>) -> Value {
    t.as_ref().map(LogTap::summary).unwrap_or(Value::Null)
}

async fn gets_and_lists(ctx: &Ctx, c: &mut Client, path: &str, get_name: &str, gets: usize, lists: usize, res: &mut Map<String, Value>) -> Result<()> {
    if gets > 0 {
        timed_gets(c, &format!("{path}/cm-000000"), 20).await?;
        let tap = ctx.tap();
        let m = Meter::start(&ctx.pids);
        let (g, body) = timed_gets(c, &format!("{path}/{get_name}"), gets).await?;
        let mut v = lat_summary(&g);
        v["bytes"] = json!(body.len());
        v["cpu"] = m.finish(gets);
        v["server_side"] = tap_summary(&tap);
        res.insert("get_one".into(), v);
    }
    if lists > 0 {
        timed_gets(c, path, 2).await?;
        let tap = ctx.tap();
        let m = Meter::start(&ctx.pids);
        let (l, body) = timed_gets(c, path, lists).await?;
        let mut v = lat_summary(&l);
        v["bytes"] = json!(body.len());
        v["cpu"] = m.finish(lists);
        v["server_side"] = tap_summary(&tap);
        res.insert("list_all".into(), v);
        let items = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("items").and_then(Value::as_array).map(Vec::len));
        res.insert("list_items".into(), json!(items));
    }
    Ok(())
}

async fn run_cm(ctx: &mut Ctx, a: &CmArgs) -> Result<Value> {
    let ns = a.load.namespace.clone().unwrap_or_else(|| format!("bench-{}", rand_hex()));
    let mut admin = Client::connect(&ctx.target, false).await?;
    ensure_namespace(&mut admin, &ns).await?;
    let path = format!("/api/v1/namespaces/{ns}/configmaps");
    let bodies: Arc<Vec<Bytes>> = Arc::new((0..a.count).map(|i| cm_body(i, a.load.value_bytes)).collect());
    let mut res = Map::new();
    res.insert("namespace".into(), json!(ns));
    res.insert("rss_before".into(), rss_json(&ctx.pids));
    let tap = ctx.tap();
    let r = parallel_post(ctx, &path, bodies, &a.load).await?;
    let mut create = create_json(&r, a.count, &a.load);
    create["server_side"] = tap_summary(&tap);
    res.insert("create".into(), create);
    res.insert("rss_after_create".into(), rss_json(&ctx.pids));
    gets_and_lists(ctx, &mut admin, &path, &format!("cm-{:06}", a.count / 2), a.gets, a.lists, &mut res).await?;
    res.insert("rss_after".into(), rss_json(&ctx.pids));
    if a.crash_check {
        let check = crash_check(ctx, &path, r.lats.len()).await.unwrap_or_else(|e| json!({"error": format!("{e:#}")}));
        res.insert("crash_check".into(), check);
    }
    Ok(Value::Object(res))
}

/// SIGKILL the spawned server, restart it on the same data dir, and count the acknowledged
/// objects that are there.
async fn crash_check(ctx: &mut Ctx, path: &str, acked: usize) -> Result<Value> {
    let Some(sp) = ctx.spawned.as_mut() else { bail!("--crash-check needs --spawn") };
    sp.crash();
    let relaunched = sp.launch();
    if let (Some(p), Some(slot)) = (sp.pid(), ctx.pids.first_mut()) {
        *slot = p;
    }
    relaunched.context("restarting the server on its data dir after SIGKILL")?;
    let mut c = Client::connect(&ctx.target, false).await?;
    let (st, body) = c.call(Method::GET, path, None).await?;
    if st != StatusCode::OK {
        bail!("LIST after restart: {st} {}", short(&body));
    }
    let v: Value = serde_json::from_slice(&body)?;
    let found = v["items"].as_array().map(Vec::len).unwrap_or(0);
    Ok(json!({"method": "SIGKILL of the server right after the run, restart on the same data dir, LIST",
              "acknowledged": acked, "found_after_restart": found, "missing": acked.saturating_sub(found),
              "new_pid": sp.pid(), "restart_ready_s": r3(sp.ready_s)}))
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Per-event delivery bookkeeping shared by all watchers.
struct Deliveries {
    base: Instant,
    count: Vec<AtomicU32>,
    first_ns: Vec<AtomicU64>,
    last_ns: Vec<AtomicU64>,
    delivered: AtomicU64,
    other_lines: AtomicU64,
    ended: AtomicU32,
}

impl Deliveries {
    fn line(&self, line: &[u8], at: u64) {
        let idx = if line.starts_with(b"{\"type\":\"ADDED\"") {
            find(line, b"\"name\":\"cm-").and_then(|p| {
                let d = line.get(p + 11..p + 17)?;
                std::str::from_utf8(d).ok()?.parse::<usize>().ok()
            })
        } else {
            None
        };
        match idx {
            Some(i) if i < self.count.len() => {
                self.count[i].fetch_add(1, Ordering::Relaxed);
                self.first_ns[i].fetch_min(at, Ordering::Relaxed);
                self.last_ns[i].fetch_max(at, Ordering::Relaxed);
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                self.other_lines.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn run_watch(ctx: &mut Ctx, a: &WatchArgs) -> Result<Value> {
    let ns = format!("watch-{}", rand_hex());
    let mut admin = Client::connect(&ctx.target, false).await?;
    ensure_namespace(&mut admin, &ns).await?;
    let path = format!("/api/v1/namespaces/{ns}/configmaps");
    let (st, body) = admin.call(Method::GET, &path, None).await?;
    if st != StatusCode::OK {
        bail!("LIST {path}: {st} {}", short(&body));
    }
    let rv = serde_json::from_slice::<Value>(&body)?
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("LIST without resourceVersion"))?
        .to_string();
    let n = a.events;
    let d = Arc::new(Deliveries {
        base: Instant::now(),
        count: (0..n).map(|_| AtomicU32::new(0)).collect(),
        first_ns: (0..n).map(|_| AtomicU64::new(u64::MAX)).collect(),
        last_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
        delivered: AtomicU64::new(0),
        other_lines: AtomicU64::new(0),
        ended: AtomicU32::new(0),
    });
    let watch_path = format!("{path}?watch=1&resourceVersion={rv}&timeoutSeconds=600");
    let t_open = Instant::now();
    let clients = connect_clients(&ctx.target, a.watchers, a.http2, a.connections).await?;
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<Result<()>>(a.watchers.max(1));
    let mut tasks = Vec::new();
    for mut c in clients {
        let (d, wp, ready_tx) = (d.clone(), watch_path.clone(), ready_tx.clone());
        tasks.push(tokio::spawn(async move {
            let resp = match c.request(Method::GET, &wp, None) {
                Ok(req) => tokio::time::timeout(REQUEST_TIMEOUT, c.send(req)).await.map_err(|_| anyhow!("watch timed out")).and_then(|r| r),
                Err(e) => Err(e),
            };
            let resp = match resp {
                Ok(r) if r.status() == StatusCode::OK => {
                    let _ = ready_tx.send(Ok(())).await;
                    r
                }
                Ok(r) => {
                    let _ = ready_tx.send(Err(anyhow!("watch: {}", r.status()))).await;
                    return;
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e)).await;
                    return;
                }
            };
            drop(ready_tx);
            let mut body = resp.into_body();
            let mut buf: Vec<u8> = Vec::new();
            while let Some(Ok(frame)) = body.frame().await {
                let at = d.base.elapsed().as_nanos() as u64;
                let Ok(data) = frame.into_data() else { continue };
                buf.extend_from_slice(&data);
                let mut start = 0;
                while let Some(p) = buf[start..].iter().position(|b| *b == b'\n') {
                    d.line(&buf[start..start + p], at);
                    start += p + 1;
                }
                buf.drain(..start);
            }
            d.ended.fetch_add(1, Ordering::Relaxed);
        }));
    }
    drop(ready_tx);
    for _ in 0..a.watchers {
        match tokio::time::timeout(REQUEST_TIMEOUT, ready_rx.recv()).await {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(e))) => bail!("opening watches: {e:#}"),
            _ => bail!("opening watches: timed out"),
        }
    }
    let open_s = t_open.elapsed().as_secs_f64();
    let rss_watching = rss_json(&ctx.pids);
    let tap = ctx.tap();
    let meter = Meter::start(&ctx.pids);
    let mut sent = vec![0u64; n];
    let mut acked = vec![0u64; n];
    let mut create_lats = Vec::with_capacity(n);
    for i in 0..n {
        sent[i] = d.base.elapsed().as_nanos() as u64;
        let (st, b) = admin.call(Method::POST, &path, Some(cm_body(i, a.value_bytes))).await?;
        acked[i] = d.base.elapsed().as_nanos() as u64;
        if st.as_u16() != 201 {
            bail!("create {i}: {st} {}", short(&b));
        }
        create_lats.push((acked[i] - sent[i]) as f64 / 1e9);
    }
    let creates_done = meter.t0.elapsed().as_secs_f64();
    let want = a.watchers as u32;
    let deadline = Instant::now() + Duration::from_secs_f64(a.settle_timeout);
    while Instant::now() < deadline && d.count.iter().any(|c| c.load(Ordering::Relaxed) < want) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cpu = meter.finish(n);
    let (mut all, mut first, mut after_ack) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        if d.count[i].load(Ordering::Relaxed) >= want {
            let last = d.last_ns[i].load(Ordering::Relaxed);
            all.push(last.saturating_sub(sent[i]) as f64 / 1e9);
            first.push(d.first_ns[i].load(Ordering::Relaxed).saturating_sub(sent[i]) as f64 / 1e9);
            after_ack.push((last as i64 - acked[i] as i64) as f64 / 1e9);
        }
    }
    let mut after_ack_sorted = after_ack.clone();
    after_ack_sorted.sort_by(|a, b| a.total_cmp(b));
    for t in &tasks {
        t.abort();
    }
    let delivered = d.delivered.load(Ordering::Relaxed);
    Ok(json!({
        "namespace": ns, "watchers": a.watchers, "http2": a.http2, "events": n, "watch_from_resource_version": rv,
        "open_watches_s": r3(open_s),
        "creates": {"sequential": true, "wall_s": r3(creates_done), "per_s": r3(n as f64 / creates_done), "latency": lat_summary(&create_lats)},
        "delivered": delivered, "expected": n as u64 * a.watchers as u64,
        "events_seen_by_all_watchers": all.len(),
        "other_lines": d.other_lines.load(Ordering::Relaxed), "watches_ended_early": d.ended.load(Ordering::Relaxed),
        "delay_until_all_watchers_from_post": lat_summary(&all),
        "delay_until_first_watcher_from_post": lat_summary(&first),
        "delay_until_all_watchers_after_ack_ms": {
            "p50": r3(pct(&after_ack_sorted, 50.0) * 1000.0), "p99": r3(pct(&after_ack_sorted, 99.0) * 1000.0),
            "max": r3(after_ack_sorted.last().copied().unwrap_or(f64::NAN) * 1000.0),
        },
        "cpu": cpu,
        "server_side": tap_summary(&tap),
        "rss_with_watches_open": rss_watching,
        "rss_after": rss_json(&ctx.pids),
    }))
}

async fn run_fill(ctx: &mut Ctx, a: &FillArgs) -> Result<Value> {
    let ns = a.load.namespace.clone().unwrap_or_else(|| format!("fill-{}", rand_hex()));
    let mut admin = Client::connect(&ctx.target, false).await?;
    ensure_namespace(&mut admin, &ns).await?;
    let path = format!("/api/v1/namespaces/{ns}/configmaps");
    let rss_before = rss_json(&ctx.pids);
    let bodies: Arc<Vec<Bytes>> = Arc::new((0..a.count).map(|i| cm_body(i, a.load.value_bytes)).collect());
    let tap = ctx.tap();
    let r = parallel_post(ctx, &path, bodies, &a.load).await?;
    let mut create = create_json(&r, a.count, &a.load);
    create["server_side"] = tap_summary(&tap);
    let rss_after_create = rss_json(&ctx.pids);
    tokio::time::sleep(Duration::from_secs_f64(a.settle)).await;
    let rss_settled = rss_json(&ctx.pids);
    let mut res = Map::new();
    res.insert("namespace".into(), json!(ns));
    res.insert("value_bytes".into(), json!(a.load.value_bytes));
    res.insert("rss_before".into(), rss_before);
    res.insert("create".into(), create);
    res.insert("rss_after_create".into(), rss_after_create);
    res.insert("rss_settled".into(), rss_settled);
    gets_and_lists(ctx, &mut admin, &path, &format!("cm-{:06}", a.count / 2), 0, a.lists, &mut res).await?;
    res.insert("rss_after_lists".into(), rss_json(&ctx.pids));
    Ok(Value::Object(res))
}

async fn run_compare(ctx: &mut Ctx, a: &CompareArgs) -> Result<Value> {
    let server_pid = ctx.pids.first().copied();
    let ca = match (&ctx.spawned, &a.cm.load.namespace) {
        (Some(s), _) => s.ca(),
        (None, _) => bail!("compare needs --spawn (one fresh server for both tools)"),
    };
    let token = ctx.target.token.clone().unwrap_or_default();
    let python = |ctx: &Ctx| -> Result<Value> {
        let mut cmd = Command::new(&a.python);
        cmd.arg(&a.python_tool)
            .args(["--server", &ctx.target.base, "--token", &token, "--ca"])
            .arg(&ca)
            .args(["--clients", &a.cm.load.clients.to_string(), "--procs", &a.procs.to_string()]);
        if let Some(p) = server_pid {
            cmd.args(["--pids", &p.to_string()]);
        }
        cmd.args(["cm", "--count", &a.cm.count.to_string(), "--value-bytes", &a.cm.load.value_bytes.to_string()])
            .args(["--gets", &a.cm.gets.to_string(), "--lists", &a.cm.lists.to_string()]);
        let shown: Vec<String> = std::iter::once(a.python.clone())
            .chain(cmd.get_args().map(|s| s.to_string_lossy().into_owned()))
            .map(|s| if s == token { "TOKEN".into() } else { s })
            .collect();
        let tap = ctx.tap();
        let m = Meter::start(&ctx.pids);
        let out = cmd.stdin(Stdio::null()).output().context("running the Python tool")?;
        let cpu = m.finish(a.cm.count + a.cm.gets + a.cm.lists + 23);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr_tail: String = stderr.chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect();
        let result: Value = match serde_json::from_slice(&out.stdout) {
            Ok(v) if out.status.success() => v,
            _ => json!({"error": format!("the Python tool failed: {}", out.status), "stderr_tail": stderr_tail}),
        };
        Ok(json!({"command": shown.join(" "), "result": result, "whole_run_cpu": cpu, "server_side": tap_summary(&tap)}))
    };
    let mut res = Map::new();
    res.insert("order".into(), json!(if a.rust_first { "rust, python" } else { "python, rust" }));
    if a.rust_first {
        res.insert("rust".into(), run_cm(ctx, &a.cm).await?);
        res.insert("python".into(), python(ctx)?);
    } else {
        res.insert("python".into(), python(ctx)?);
        res.insert("rust".into(), run_cm(ctx, &a.cm).await?);
    }
    Ok(Value::Object(res))
}

/// Per pod: when the watch first showed it, bound, and Running (ns since the run's base).
#[derive(Default, Clone, Copy)]
struct PodTimes {
    seen: u64,
    bound: u64,
    running: u64,
}

async fn run_sched(ctx: &mut Ctx, a: &SchedArgs) -> Result<Value> {
    let mut admin = Client::connect(&ctx.target, false).await?;
    let t_nodes = Instant::now();
    loop {
        let (st, body) = admin.call(Method::GET, "/api/v1/nodes", None).await?;
        if st == StatusCode::OK {
            let v: Value = serde_json::from_slice(&body)?;
            let ready = v["items"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter(|n| n.pointer("/status/conditions").and_then(Value::as_array).is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")))
                        .count()
                })
                .unwrap_or(0);
            if ready >= a.nodes {
                break;
            }
        }
        if t_nodes.elapsed().as_secs_f64() > a.timeout_s {
            bail!("{} nodes not Ready after {} s", a.nodes, a.timeout_s);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let nodes_ready_s = t_nodes.elapsed().as_secs_f64();
    let ns = format!("sched-{}", rand_hex());
    ensure_namespace(&mut admin, &ns).await?;
    let (st, body) = admin.call(Method::GET, "/api/v1/pods?limit=1", None).await?;
    if st != StatusCode::OK {
        bail!("LIST pods: {st} {}", short(&body));
    }
    let rv = serde_json::from_slice::<Value>(&body)?.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("0").to_string();
    let total = a.deployments * a.replicas;
    let base = Instant::now();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<std::collections::HashMap<String, PodTimes>>();
    let mut watcher = Client::connect(&ctx.target, false).await?;
    let req = watcher.request(Method::GET, &format!("/api/v1/namespaces/{ns}/pods?watch=1&resourceVersion={rv}&timeoutSeconds=3600"), None)?;
    let resp = watcher.send(req).await?;
    if resp.status() != StatusCode::OK {
        bail!("watch pods: {}", resp.status());
    }
    tokio::spawn(async move {
        let mut times: std::collections::HashMap<String, PodTimes> = std::collections::HashMap::with_capacity(total);
        let mut running = 0usize;
        let mut body = resp.into_body();
        let mut buf: Vec<u8> = Vec::new();
        'read: while let Some(Ok(frame)) = body.frame().await {
            let at = base.elapsed().as_nanos() as u64;
            let Ok(data) = frame.into_data() else { continue };
            buf.extend_from_slice(&data);
            let mut start = 0;
            while let Some(p) = buf[start..].iter().position(|b| *b == b'\n') {
                let line = &buf[start..start + p];
                start += p + 1;
                let Ok(ev) = serde_json::from_slice::<Value>(line) else { continue };
                let o = &ev["object"];
                let Some(name) = o.pointer("/metadata/name").and_then(Value::as_str) else { continue };
                let t = times.entry(name.to_string()).or_insert(PodTimes { seen: at, ..Default::default() });
                if t.bound == 0 && o.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty()) {
                    t.bound = at;
                }
                if t.running == 0 && o.pointer("/status/phase").and_then(Value::as_str) == Some("Running") {
                    t.running = at;
                    running += 1;
                    if running >= total {
                        break 'read;
                    }
                }
            }
            buf.drain(..start);
        }
        let _ = done_tx.send(times);
    });
    let meter = Meter::start(&ctx.pids);
    let t0 = base.elapsed().as_nanos() as u64;
    let bare = a.bare_pods;
    let units = if bare { total } else { a.deployments };
    let mut clients = connect_clients(&ctx.target, units.clamp(1, 16), false, None).await?;
    let per = units.div_ceil(clients.len());
    let mut creates = Vec::new();
    for (ci, mut c) in clients.drain(..).enumerate() {
        let (ns, cpu, replicas) = (ns.clone(), a.cpu.clone(), a.replicas);
        let range = (ci * per)..((ci + 1) * per).min(units);
        creates.push(tokio::spawn(async move {
            for d in range {
                let container = json!([{"name": "c", "image": "registry.example/app:1", "resources": {"requests": {"cpu": cpu, "memory": "16Mi"}}}]);
                let (path, body, want) = if bare {
                    (format!("/api/v1/namespaces/{ns}/pods"),
                     json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("p{d}"), "labels": {"app": "bare"}}, "spec": {"containers": container}}),
                     StatusCode::CREATED)
                } else {
                    (format!("/apis/apps/v1/namespaces/{ns}/deployments"),
                     json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("d{d}")},
                        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": format!("d{d}")}},
                                 "template": {"metadata": {"labels": {"app": format!("d{d}")}}, "spec": {"containers": container}}}}),
                     StatusCode::CREATED)
                };
                let (st, b) = c.call(Method::POST, &path, Some(Bytes::from(serde_json::to_vec(&body)?))).await?;
                if st != want {
                    bail!("create: {st} {}", short(&b));
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for c in creates {
        c.await??;
    }
    let created_s = (base.elapsed().as_nanos() as u64 - t0) as f64 / 1e9;
    eprintln!("sched: created in {created_s:.1} s; waiting for {total} pods Running");
    let times = match tokio::time::timeout(Duration::from_secs_f64(a.timeout_s), done_rx).await {
        Ok(Ok(t)) => t,
        _ => bail!("not every pod Running within {} s", a.timeout_s),
    };
    let cpu = meter.finish(total);
    // VmHWM: the peak resident set over the server's whole life.
    let mut peak_rss_kib = 0u64;
    for p in &ctx.pids {
        if let Some((_, hwm, _, _)) = proc_rss_kib(*p) {
            peak_rss_kib = peak_rss_kib.max(hwm);
        }
    }
    let all_running_s = times.values().map(|t| t.running).max().unwrap_or(t0).saturating_sub(t0) as f64 / 1e9;
    let mut bound: Vec<u64> = times.values().map(|t| t.bound).filter(|b| *b > 0).collect();
    bound.sort_unstable();
    let bind_window = match (bound.first(), bound.last()) {
        (Some(f), Some(l)) if l > f => (l - f) as f64 / 1e9,
        _ => 0.0,
    };
    let mut lat: Vec<f64> = times.values().filter(|t| t.running > 0).map(|t| (t.running - t.seen) as f64 / 1e9).collect();
    lat.sort_by(f64::total_cmp);
    Ok(json!({
        "nodes": a.nodes, "deployments": a.deployments, "replicas": a.replicas, "pods": total, "bare_pods": a.bare_pods,
        "nodes_ready_s": r3(nodes_ready_s),
        "deployments_created_s": r3(created_s),
        "all_running_s": r3(all_running_s),
        "pods_bound_per_s": if bind_window > 0.0 { r3(bound.len() as f64 / bind_window) } else { Value::Null },
        "create_to_running_s": lat_summary(&lat),
        "peak_rss_mib": r3(peak_rss_kib as f64 / 1024.0),
        "cpu": cpu,
    }))
}

/// Polls a pod until its phase is Running; the time it took.
async fn until_running(c: &mut Client, ns: &str, name: &str, deadline: Instant) -> Result<f64> {
    let t = Instant::now();
    loop {
        let (st, body) = c.call(Method::GET, &format!("/api/v1/namespaces/{ns}/pods/{name}"), None).await?;
        if st == StatusCode::OK && serde_json::from_slice::<Value>(&body)?.pointer("/status/phase").and_then(Value::as_str) == Some("Running") {
            return Ok(t.elapsed().as_secs_f64());
        }
        if Instant::now() > deadline {
            bail!("pod {ns}/{name} not Running in time");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Memory of the processes a spawned server's node agents started (shims, pause processes and
/// the containers under them: every process whose command line names the data directory, plus
/// their descendants), per pod. Anonymous memory is the honest per-pod cost: the shims share
/// the binary's file pages.
fn helper_memory(dir: &Path, pods: usize) -> Value {
    let needle = dir.to_string_lossy().into_owned();
    let mut parent: BTreeMap<u32, u32> = BTreeMap::new();
    let mut roots = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let ppid = stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|p| p.parse().ok()).unwrap_or(0);
        parent.insert(pid, ppid);
        let cmd = String::from_utf8_lossy(&cmd);
        // The server itself (`wharf up --data-dir DIR`) is measured separately.
        if cmd.contains(&needle) && !cmd.split('\0').any(|a| a == "up") {
            roots.push(pid);
        }
    }
    let under = |mut p: u32| {
        for _ in 0..64 {
            if roots.contains(&p) {
                return true;
            }
            match parent.get(&p) {
                Some(pp) if *pp > 1 => p = *pp,
                _ => return false,
            }
        }
        false
    };
    let (mut n, mut rss, mut anon) = (0u64, 0u64, 0u64);
    for pid in parent.keys() {
        if under(*pid) {
            if let Some((r, _, a, _)) = proc_rss_kib(*pid) {
                n += 1;
                rss += r;
                anon += a;
            }
        }
    }
    json!({"processes": n, "rss_mib": r3(rss as f64 / 1024.0), "anon_mib": r3(anon as f64 / 1024.0),
           "anon_kib_per_pod": r3(anon as f64 / pods.max(1) as f64)})
}

fn bench_pod(name: &str, image: &str) -> Bytes {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": image, "command": ["sleep", "3600"]}]}});
    Bytes::from(pod.to_string())
}

async fn run_agent(ctx: &mut Ctx, a: &AgentArgs) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs_f64(a.timeout_s);
    let mut admin = Client::connect(&ctx.target, false).await?;
    loop {
        let (st, body) = admin.call(Method::GET, "/api/v1/nodes", None).await?;
        let ready = st == StatusCode::OK
            && serde_json::from_slice::<Value>(&body)?["items"].as_array().is_some_and(|items| {
                items.iter().any(|n| n.pointer("/status/conditions").and_then(Value::as_array).is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")))
            });
        if ready {
            break;
        }
        if Instant::now() > deadline {
            bail!("no Ready node (spawn with --server-arg=--nodes=1)");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ns = format!("agent-{}", rand_hex());
    ensure_namespace(&mut admin, &ns).await?;
    // Warm the image (pull + unpack) so the measurement is of the agent, not the registry.
    let (st, b) = admin.call(Method::POST, &format!("/api/v1/namespaces/{ns}/pods"), Some(bench_pod("warm", &a.image))).await?;
    if st != StatusCode::CREATED {
        bail!("create warm-up pod: {st} {}", short(&b));
    }
    let warm_s = until_running(&mut admin, &ns, "warm", deadline).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = rss_json(&ctx.pids);
    let meter = Meter::start(&ctx.pids);
    let t0 = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for mut c in connect_clients(&ctx.target, a.concurrency.max(1), false, None).await? {
        let (ns, image, next, total) = (ns.clone(), a.image.clone(), next.clone(), a.pods);
        workers.push(tokio::spawn(async move {
            let mut lats = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= total {
                    return Ok::<_, anyhow::Error>(lats);
                }
                let name = format!("p{i}");
                let t = Instant::now();
                let (st, b) = c.call(Method::POST, &format!("/api/v1/namespaces/{ns}/pods"), Some(bench_pod(&name, &image))).await?;
                if st != StatusCode::CREATED {
                    bail!("create {name}: {st} {}", short(&b));
                }
                until_running(&mut c, &ns, &name, deadline).await?;
                lats.push(t.elapsed().as_secs_f64());
            }
        }));
    }
    let mut lat = Vec::new();
    for w in workers {
        lat.extend(w.await??);
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = meter.finish(a.pods);
    let loaded = rss_json(&ctx.pids);
    let helpers = ctx.spawned.as_ref().map(|s| helper_memory(&s.dir, a.pods + 1)).unwrap_or(Value::Null);
    lat.sort_by(f64::total_cmp);
    let (st, b) = admin.call(Method::DELETE, &format!("/api/v1/namespaces/{ns}"), None).await?;
    if !st.is_success() {
        eprintln!("agent: deleting namespace {ns}: {st} {}", short(&b));
    }
    Ok(json!({
        "pods": a.pods, "concurrency": a.concurrency, "image": a.image,
        "warm_up_pull_and_run_s": r3(warm_s),
        "create_to_running_s": lat_summary(&lat),
        "wall_s": r3(wall), "pods_per_s": r3(a.pods as f64 / wall),
        "rss_idle_after_warm_up": idle, "rss_with_pods_running": loaded,
        "per_pod_processes": helpers,
        "cpu": cpu,
    }))
}

fn run_fsync(a: &FsyncArgs) -> Result<Value> {
    let path = a.dir.join(format!(".wharf-bench-fsync-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(&path).with_context(|| format!("creating {}", path.display()))?;
    let block = vec![b'x'; a.bytes];
    let mut lats = Vec::with_capacity(a.count);
    let t0 = Instant::now();
    for _ in 0..a.count {
        let t = Instant::now();
        f.write_all(&block)?;
        f.sync_data()?;
        lats.push(t.elapsed().as_secs_f64());
    }
    let wall = t0.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(json!({"dir": a.dir.display().to_string(), "bytes_per_write": a.bytes, "rounds": a.count,
              "write_fdatasync": lat_summary(&lats), "per_s": r3(a.count as f64 / wall)}))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let t = &cli.target;
    let mut out = Map::new();
    out.insert("tool".into(), json!("wharf-bench"));
    out.insert("machine".into(), json!({"nproc": nproc(), "loadavg_start": loadavg()}));
    match &cli.cmd {
        Cmd::Rss { pid } => {
            out.insert("rss".into(), rss_json(pid));
            println!("{}", serde_json::to_string_pretty(&Value::Object(out))?);
            return Ok(());
        }
        Cmd::Fsync(a) => {
            out.insert("fsync".into(), run_fsync(a)?);
            println!("{}", serde_json::to_string_pretty(&Value::Object(out))?);
            return Ok(());
        }
        Cmd::IamEval(a) => {
            out.insert("iam_eval".into(), aws::run_iam_eval(a)?);
            println!("{}", serde_json::to_string_pretty(&Value::Object(out))?);
            return Ok(());
        }
        _ => {}
    }
    let spawned = match &t.spawn {
        Some(bin) => Some(Spawned::start(bin, &t.server_log, t.keep, &t.server_args)?),
        None => None,
    };
    // `aws`: the endpoint, key and CA of aws.env (given, or the spawned server's).
    let aws_env = match &cli.cmd {
        Cmd::Aws(a) => match (&a.aws_env, &spawned) {
            (Some(p), _) => Some(aws::read_aws_env(p)?),
            (None, Some(s)) => Some(aws::read_aws_env(&s.dir.join("aws.env"))?),
            (None, None) => bail!("give --aws-env DIR/aws.env or --spawn"),
        },
        _ => None,
    };
    let target = match (&spawned, &aws_env) {
        (_, Some(e)) => {
            let ca = e.ca.clone().or_else(|| t.ca.clone()).ok_or_else(|| anyhow!("aws.env has no AWS_CA_BUNDLE; give --ca"))?;
            Target::new(&e.endpoint, None, &ca)?
        }
        (Some(s), None) => Target::new(&s.url(), Some(s.token()?), &s.ca())?,
        (None, None) => {
            let url = t.server.as_deref().ok_or_else(|| anyhow!("give --server (with --token and --ca) or --spawn"))?;
            let ca = t.ca.as_deref().ok_or_else(|| anyhow!("--ca is required with --server"))?;
            Target::new(url, t.token.clone(), ca)?
        }
    };
    let mut pids: Vec<u32> = spawned.as_ref().and_then(Spawned::pid).into_iter().collect();
    pids.extend(&t.pids);
    out.insert("server".into(), json!(target.base));
    out.insert("spawned".into(), spawned.as_ref().map(Spawned::info).unwrap_or(Value::Null));
    out.insert("pids".into(), json!(pids));
    if spawned.is_some() {
        std::thread::sleep(Duration::from_secs_f64(t.idle_wait));
    }
    out.insert("rss_idle".into(), rss_json(&pids));
    let mut ctx = Ctx { target: Arc::new(target), spawned, pids };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = rt.block_on(async {
        match &cli.cmd {
            Cmd::Cm(a) => run_cm(&mut ctx, a).await,
            Cmd::Watch(a) => run_watch(&mut ctx, a).await,
            Cmd::Fill(a) => run_fill(&mut ctx, a).await,
            Cmd::Compare(a) => run_compare(&mut ctx, a).await,
            Cmd::Sched(a) => run_sched(&mut ctx, a).await,
            Cmd::Agent(a) => run_agent(&mut ctx, a).await,
            Cmd::Aws(a) => match &aws_env {
                Some(e) => aws::run_aws(&ctx.target, e, &ctx.pids, a).await,
                None => Err(anyhow!("unreachable")),
            },
            Cmd::Rss { .. } | Cmd::Fsync(_) | Cmd::IamEval(_) => Err(anyhow!("unreachable")),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    let cmd_name = match &cli.cmd {
        Cmd::Cm(_) => "cm",
        Cmd::Watch(_) => "watch",
        Cmd::Fill(_) => "fill",
        Cmd::Compare(_) => "compare",
        Cmd::Sched(_) => "sched",
        Cmd::Agent(_) => "agent",
        Cmd::Aws(_) => "aws",
        _ => "",
    };
    out.insert("cmd".into(), json!(cmd_name));
    let result = result?;
    out.insert(cmd_name.into(), result);
    out.insert("machine_end".into(), json!({"loadavg_end": loadavg()}));
    if let Some(s) = ctx.spawned.as_mut() {
        s.stop();
    }
    drop(ctx);
    println!("{}", serde_json::to_string_pretty(&Value::Object(out))?);
    std::io::stdout().flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(pct(&xs, 50.0), 50.0);
        assert_eq!(pct(&xs, 99.0), 99.0);
        assert_eq!(pct(&xs, 100.0), 100.0);
        assert_eq!(pct(&[7.0], 99.0), 7.0);
    }

    #[test]
    fn only_loopback_servers_are_accepted() {
        assert!(parse_loopback("https://127.0.0.1:6443").is_ok());
        assert!(parse_loopback("https://localhost:6443/").is_ok());
        assert!(parse_loopback("https://[::1]:6443").is_ok());
        assert!(parse_loopback("https://10.0.0.1:6443").is_err());
        assert!(parse_loopback("https://example.com:6443").is_err());
        assert!(parse_loopback("http://127.0.0.1:8080").is_err());
    }

    #[test]
    fn watch_lines_are_attributed_to_their_object() {
        let d = Deliveries {
            base: Instant::now(),
            count: (0..3).map(|_| AtomicU32::new(0)).collect(),
            first_ns: (0..3).map(|_| AtomicU64::new(u64::MAX)).collect(),
            last_ns: (0..3).map(|_| AtomicU64::new(0)).collect(),
            delivered: AtomicU64::new(0),
            other_lines: AtomicU64::new(0),
            ended: AtomicU32::new(0),
        };
        d.line(br#"{"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"cm-000002","namespace":"w"}}}"#, 5);
        d.line(br#"{"type":"BOOKMARK","object":{}}"#, 6);
        assert_eq!(d.count[2].load(Ordering::Relaxed), 1);
        assert_eq!(d.last_ns[2].load(Ordering::Relaxed), 5);
        assert_eq!(d.other_lines.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn ansi_codes_are_stripped_from_log_lines() {
        assert_eq!(strip_ansi("\u{1b}[3melapsed_us\u{1b}[0m\u{1b}[2m=\u{1b}[0m12"), "elapsed_us=12");
    }
}
