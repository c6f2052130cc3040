//! Side-by-side benchmark: Wharf's registry against Debian's `docker-registry` (the reference
//! Go implementation, distribution 2.8), both on 127.0.0.1 with file-system storage in a temp
//! dir, driven by the same Rust HTTP/1.1 client.
//!
//! Workloads: push and pull of one large layer (default 512 MiB), and push and pull of many
//! small images (default 1,000; config + one 16 KiB layer + manifest each) with 8 images in
//! flight. Both servers run at once and every phase alternates between them, so outside load
//! hits both alike; the large-layer push and pull run three times each, reported as medians. Reports throughput and each server's peak RSS (`VmHWM`). Wharf's registry runs as a
//! child process (this binary re-executed with `--serve`) so its RSS is its own. Every phase
//! has a deadline; both servers are killed by PID at the end, even on failure.
//!
//! ```text
//! cargo bench -p wharf-registry --bench registry            # defaults
//! BENCH_BIG_MIB=64 BENCH_SMALL=200 cargo bench -p wharf-registry --bench registry
//! ```
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::io::{BufRead as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};

type Body = BoxBody<Bytes, Infallible>;
type Http = Client<HttpConnector, Body>;

const ADMIN: &str = "bench-admin-token";
const PHASE_DEADLINE: Duration = Duration::from_secs(600);
const BLOCK: usize = 4 * 1024 * 1024;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Kills the child (by its PID, through `Child::kill`) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn hwm_kib(&self) -> u64 {
        status_kib(self.0.id(), "VmHWM:")
    }

    /// CPU time (user + system) the process has used, in seconds.
    fn cpu_secs(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0.id())).unwrap_or_default();
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        let ticks = field(11) + field(12);
        ticks as f64 / 100.0
    }
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Child mode: serve Wharf's registry on 127.0.0.1, print the port, stop when stdin closes.
fn serve_child(dir: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let dir = std::path::PathBuf::from(dir);
        let store = Arc::new(wharf_store::sqlite::SqliteStore::open(&dir.join("store")).unwrap());
        let authorizer = Arc::new(wharf_registry::LocalAuthorizer::new(store.clone(), ADMIN));
        let mut config = wharf_registry::RegistryConfig::new(dir.join("registry"));
        config.scheme = "http".into();
        let registry = Arc::new(wharf_registry::Registry::open(config, store, authorizer).await.unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        std::io::stdout().flush().unwrap();
        let stdin_closed = async {
            let _ = tokio::task::spawn_blocking(|| {
                let mut s = String::new();
                while std::io::stdin().read_line(&mut s).map(|n| n > 0).unwrap_or(false) {}
            })
            .await;
        };
        wharf_registry::serve(listener, registry, stdin_closed).await;
    });
}

fn start_wharf(dir: &std::path::Path) -> (Proc, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--serve")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap();
    (Proc(child), format!("http://127.0.0.1:{port}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_docker_registry(dir: &std::path::Path) -> (Proc, String) {
    let port = free_port();
    let root = dir.join("storage");
    std::fs::create_dir_all(&root).unwrap();
    let config = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
        root.display()
    );
    let path = dir.join("config.yml");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("/usr/bin/docker-registry")
        .arg("serve")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Proc(child), format!("http://127.0.0.1:{port}"))
}

struct Target {
    name: &'static str,
    base: String,
    auth: Option<String>,
    client: Http,
}

impl Target {
    fn req(&self, method: &str, url: &str) -> http::request::Builder {
        let url = if url.starts_with("http") { url.to_string() } else { format!("{}{url}", self.base) };
        let b = http::Request::builder().method(method).uri(url);
        match &self.auth {
            Some(a) => b.header("Authorization", a),
            None => b,
        }
    }

    async fn send(&self, req: http::Request<Body>) -> (http::StatusCode, http::HeaderMap, u64) {
        let resp = self.client.request(req).await.unwrap();
        let (parts, mut body) = resp.into_parts();
        let mut n = 0u64;
        while let Some(f) = body.frame().await {
            if let Ok(d) = f.unwrap().into_data() {
                n += d.len() as u64;
            }
        }
        (parts.status, parts.headers, n)
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let req = self.req("GET", "/v2/").body(empty()).unwrap();
            if let Ok(r) = self.client.request(req).await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "{} did not become ready", self.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// POST then PUT with the body; returns after the 201.
    async fn push_blob(&self, repo: &str, digest: &str, len: u64, body: Body) {
        let r = self.req("POST", &format!("/v2/{repo}/blobs/uploads/")).body(empty()).unwrap();
        let (status, headers, _) = self.send(r).await;
        assert_eq!(status, 202, "{} POST upload", self.name);
        let loc = headers["location"].to_str().unwrap();
        let sep = if loc.contains('?') { '&' } else { '?' };
        let r = self
            .req("PUT", &format!("{loc}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", len.to_string())
            .body(body)
            .unwrap();
        let (status, _, _) = self.send(r).await;
        assert_eq!(status, 201, "{} PUT blob", self.name);
    }

    async fn get(&self, path: &str) -> u64 {
        let r =
            self.req("GET", path).header("Accept", "application/vnd.oci.image.manifest.v1+json").body(empty()).unwrap();
        let (status, _, n) = self.send(r).await;
        assert_eq!(status, 200, "{} GET {path}", self.name);
        n
    }
}

fn empty() -> Body {
    Full::new(Bytes::new()).boxed()
}

fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

#[derive(Default)]
struct Results {
    big_push: Vec<f64>,
    big_pull: Vec<f64>,
    /// Server CPU seconds per GiB: large push, large pull.
    cpu_push: f64,
    cpu_pull: f64,
    /// Server CPU milliseconds per small image: push, pull.
    cpu_small_push: f64,
    cpu_small_pull: f64,
    small_push: f64,
    small_pull: f64,
    hwm_kib: u64,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The large layer: a repeated 4 MiB random block, streamed (never whole in memory).
struct BigLayer {
    block: Bytes,
    blocks: usize,
    len: u64,
    digest: String,
}

impl BigLayer {
    fn new(mib: usize) -> Self {
        use rand::RngCore as _;
        let mut b = vec![0u8; BLOCK];
        rand::thread_rng().fill_bytes(&mut b);
        let block = Bytes::from(b);
        let blocks = (mib * 1024 * 1024 / BLOCK).max(1);
        let mut h = Sha256::new();
        for _ in 0..blocks {
            h.update(&block);
        }
        Self { block, blocks, len: (blocks * BLOCK) as u64, digest: format!("sha256:{}", hex::encode(h.finalize())) }
    }
    fn body(&self) -> Body {
        let b = self.block.clone();
        let s = futures::stream::iter(
            (0..self.blocks).map(move |_| Ok::<_, Infallible>(hyper::body::Frame::data(b.clone()))),
        );
        StreamBody::new(s).boxed()
    }
}

/// Runs every phase on each target in turn (interleaved, so load from elsewhere on the
/// machine hits both alike); large-layer phases three times each, reported as the median.
async fn run(targets: &[(&Target, &Proc)], big_mib: usize, small: usize, conc: usize) -> Vec<Results> {
    for (t, _) in targets {
        t.wait_ready().await;
    }
    let mut out: Vec<Results> = targets.iter().map(|_| Results::default()).collect();
    let big = BigLayer::new(big_mib);
    for round in 0..3 {
        for (k, (t, _)) in targets.iter().enumerate() {
            let repo = format!("bench/big{round}");
            let cpu = targets[k].1.cpu_secs();
            let start = Instant::now();
            tokio::time::timeout(PHASE_DEADLINE, t.push_blob(&repo, &big.digest, big.len, big.body())).await.unwrap();
            out[k].big_push.push(big.len as f64 / 1048576.0 / start.elapsed().as_secs_f64());
            out[k].cpu_push += (targets[k].1.cpu_secs() - cpu) / (3.0 * big.len as f64 / GIB);
        }
        for (k, (t, _)) in targets.iter().enumerate() {
            let cpu = targets[k].1.cpu_secs();
            let start = Instant::now();
            let path = format!("/v2/bench/big{round}/blobs/{}", big.digest);
            let n = tokio::time::timeout(PHASE_DEADLINE, t.get(&path)).await.unwrap();
            assert_eq!(n, big.len);
            out[k].big_pull.push(big.len as f64 / 1048576.0 / start.elapsed().as_secs_f64());
            out[k].cpu_pull += (targets[k].1.cpu_secs() - cpu) / (3.0 * big.len as f64 / GIB);
        }
    }
    for (k, (t, p)) in targets.iter().enumerate() {
        let cpu = p.cpu_secs();
        let start = Instant::now();
        tokio::time::timeout(PHASE_DEADLINE, for_each_image(small, conc, |i| push_image(t, i))).await.unwrap();
        out[k].small_push = small as f64 / start.elapsed().as_secs_f64();
        out[k].cpu_small_push = (p.cpu_secs() - cpu) * 1000.0 / small as f64;
    }
    for (k, (t, p)) in targets.iter().enumerate() {
        let cpu = p.cpu_secs();
        let start = Instant::now();
        tokio::time::timeout(PHASE_DEADLINE, for_each_image(small, conc, |i| pull_image(t, i))).await.unwrap();
        out[k].small_pull = small as f64 / start.elapsed().as_secs_f64();
        out[k].cpu_small_pull = (p.cpu_secs() - cpu) * 1000.0 / small as f64;
    }
    for (k, (_, p)) in targets.iter().enumerate() {
        out[k].hwm_kib = p.hwm_kib();
    }
    out
}

async fn for_each_image<'a, F, Fut>(n: usize, conc: usize, f: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + 'a,
{
    use futures::StreamExt as _;
    futures::stream::iter(0..n).map(f).buffer_unordered(conc).collect::<Vec<()>>().await;
}

fn small_image(i: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["N={i}"]}}}}"#).into_bytes();
    let mut layer = vec![0u8; 16 * 1024];
    for (j, b) in layer.iter_mut().enumerate() {
        *b = ((i * 31 + j * 7) % 251) as u8;
    }
    layer[..8].copy_from_slice(&(i as u64).to_le_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(&config), "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest_of(&layer), "size": layer.len() }],
    });
    (config, layer, serde_json::to_vec(&manifest).unwrap())
}

async fn push_image(t: &Target, i: usize) {
    let (config, layer, manifest) = small_image(i);
    let repo = format!("bench/small{}", i % 50);
    for blob in [config, layer] {
        let d = digest_of(&blob);
        let len = blob.len() as u64;
        t.push_blob(&repo, &d, len, Full::new(Bytes::from(blob)).boxed()).await;
    }
    let r = t
        .req("PUT", &format!("/v2/{repo}/manifests/t{i}"))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(Full::new(Bytes::from(manifest)).boxed())
        .unwrap();
    let (status, _, _) = t.send(r).await;
    assert_eq!(status, 201, "{} PUT manifest", t.name);
}

async fn pull_image(t: &Target, i: usize) {
    let (config, layer, _) = small_image(i);
    let repo = format!("bench/small{}", i % 50);
    t.get(&format!("/v2/{repo}/manifests/t{i}")).await;
    assert_eq!(t.get(&format!("/v2/{repo}/blobs/{}", digest_of(&config))).await, config.len() as u64);
    assert_eq!(t.get(&format!("/v2/{repo}/blobs/{}", digest_of(&layer))).await, layer.len() as u64);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        serve_child(&args[i + 1]);
        return;
    }
    let big_mib = env_num("BENCH_BIG_MIB", 512);
    let small = env_num("BENCH_SMALL", 1000);
    let conc = env_num("BENCH_CONCURRENCY", 8);
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = || Client::builder(TokioExecutor::new()).pool_max_idle_per_host(64).build_http::<Body>();
        let ref_dir = tmp.path().join("reference");
        let wharf_dir = tmp.path().join("wharf");
        std::fs::create_dir_all(&ref_dir).unwrap();
        std::fs::create_dir_all(&wharf_dir).unwrap();
        let (ref_proc, ref_base) = start_docker_registry(&ref_dir);
        let (wharf_proc, wharf_base) = start_wharf(&wharf_dir);
        let reference = Target { name: "docker-registry 2.8.2", base: ref_base, auth: None, client: client() };
        let auth = {
            use base64::Engine as _;
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("AWS:{ADMIN}")))
        };
        let wharf = Target { name: "wharf-registry", base: wharf_base, auth: Some(auth), client: client() };
        let results = run(&[(&reference, &ref_proc), (&wharf, &wharf_proc)], big_mib, small, conc).await;
        drop((ref_proc, wharf_proc));
        let rows: Vec<(&str, Results)> = [reference.name, wharf.name].into_iter().zip(results).collect();
        println!(
            "\n{big_mib} MiB layer, {small} small images (config + 16 KiB layer + manifest), {conc} in flight, HTTP/1.1 on 127.0.0.1\n"
        );
        println!("| registry | layer push MiB/s | layer pull MiB/s | small push images/s | small pull images/s | peak RSS MiB |");
        println!("|---|---:|---:|---:|---:|---:|");
        for (name, r) in &rows {
            println!(
                "| {name} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} |",
                median(&r.big_push),
                median(&r.big_pull),
                r.small_push,
                r.small_pull,
                r.hwm_kib as f64 / 1024.0
            );
        }
        let (a, b) = (&rows[0].1, &rows[1].1);
        println!(
            "| ratio wharf/reference | {:.2}× | {:.2}× | {:.2}× | {:.2}× | {:.2}× |",
            median(&b.big_push) / median(&a.big_push),
            median(&b.big_pull) / median(&a.big_pull),
            b.small_push / a.small_push,
            b.small_pull / a.small_pull,
            b.hwm_kib as f64 / a.hwm_kib.max(1) as f64
        );
        println!("\nServer CPU time (user + system, from /proc/<pid>/stat); less is better:\n");
        println!("| registry | layer push s/GiB | layer pull s/GiB | small push ms/image | small pull ms/image |");
        println!("|---|---:|---:|---:|---:|");
        for (name, r) in &rows {
            println!(
                "| {name} | {:.2} | {:.2} | {:.2} | {:.2} |",
                r.cpu_push, r.cpu_pull, r.cpu_small_push, r.cpu_small_pull
            );
        }
        println!();
        for (name, r) in &rows {
            println!("{name}: layer push runs {:.0?} MiB/s, layer pull runs {:.0?} MiB/s", r.big_push, r.big_pull);
        }
    });
}
