//! The kubelet API of this node: [`wharf_kubelet_api::NodeRuntime`] over the agent's pods —
//! CRI log files per container instance (`previous` is the instance before the latest), exec
//! through `wharf-container`'s exec support (pipes or a terminal with resize), attach to a
//! container's main process (its output followed from its CRI log, its stdin through the shim's
//! FIFO when the container has `stdin: true`), and port-forward by connecting to `127.0.0.1:<port>`
//! from inside the pod's network namespace.

use std::collections::HashMap;
use std::io::{BufRead, Seek};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::api::core::v1::{Container, Pod};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};
use wharf_container::crilog::{self, Stream};
use wharf_container::shim::{ContainerState, ShimClient};
use wharf_kubelet_api::{BoxRead, BoxWrite, Duplex, LogFile, NodeRuntime, PodRef, Process, RuntimeError, StreamOptions, TermSize};

use crate::state::{self, CtrRecord};
use crate::Inner;

/// The pods bound to this node as the agent last saw them, by namespace and name.
#[derive(Default)]
pub(crate) struct PodIndex {
    pods: RwLock<HashMap<(String, String), Pod>>,
}

fn key_of(p: &Pod) -> (String, String) {
    (p.metadata.namespace.clone().unwrap_or_else(|| "default".into()), p.metadata.name.clone().unwrap_or_default())
}

impl PodIndex {
    /// Replaces the index with a fresh listing.
    pub fn reset(&self, pods: &[Pod]) {
        if let Ok(mut m) = self.pods.write() {
            *m = pods.iter().map(|p| (key_of(p), p.clone())).collect();
        }
    }
    /// Adds or updates a pod.
    pub fn upsert(&self, p: &Pod) {
        if let Ok(mut m) = self.pods.write() {
            m.insert(key_of(p), p.clone());
        }
    }
    /// Forgets a pod (only the instance with the same UID).
    pub fn remove(&self, p: &Pod) {
        if let Ok(mut m) = self.pods.write() {
            let k = key_of(p);
            if m.get(&k).is_some_and(|old| old.metadata.uid == p.metadata.uid) {
                m.remove(&k);
            }
        }
    }
    fn get(&self, namespace: &str, name: &str) -> Option<Pod> {
        self.pods.read().ok()?.get(&(namespace.to_string(), name.to_string())).cloned()
    }
}

/// Where the CRI log of instance `attempt` of `container` lives.
pub(crate) fn log_path(log_dir: &Path, namespace: &str, pod: &str, uid: &str, container: &str, attempt: u32) -> PathBuf {
    log_dir.join(format!("{namespace}_{pod}_{uid}")).join(container).join(format!("{attempt}.log"))
}

/// The agent's [`NodeRuntime`].
pub(crate) struct AgentRuntime {
    pub inner: Arc<Inner>,
}

/// A pod and one of its containers as the request names them.
struct Target {
    pod: Pod,
    uid: String,
    container: Container,
    /// The latest instance, once one was started.
    rec: Option<CtrRecord>,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, RuntimeError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| RuntimeError::Internal(e.to_string()))
}

fn internal(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Internal(e.to_string())
}

impl AgentRuntime {
    fn pod(&self, r: &PodRef) -> Result<(Pod, String), RuntimeError> {
        let not_found = || RuntimeError::PodNotFound { namespace: r.namespace.clone(), name: r.name.clone() };
        let pod = self.inner.pods.get(&r.namespace, &r.name).ok_or_else(not_found)?;
        let uid = pod.metadata.uid.clone().ok_or_else(not_found)?;
        if r.uid.as_ref().is_some_and(|u| *u != uid) {
            return Err(not_found());
        }
        Ok((pod, uid))
    }

    async fn target(&self, r: &PodRef, container: &str) -> Result<Target, RuntimeError> {
        let (pod, uid) = self.pod(r)?;
        let spec = pod.spec.clone().unwrap_or_default();
        let found = spec.containers.iter().chain(spec.init_containers.iter().flatten()).find(|c| c.name == container).cloned();
        let Some(found) = found else {
            return Err(RuntimeError::ContainerNotFound { pod: r.name.clone(), container: container.to_string() });
        };
        let dir = self.inner.pods_root().join(&uid);
        let name = container.to_string();
        let rec = blocking(move || state::load(&dir).and_then(|st| st.containers.into_iter().find(|c| c.name == name && !c.id.is_empty()))).await?;
        Ok(Target { pod, uid, container: found, rec })
    }

    /// The shim of the target's latest instance when that instance runs.
    async fn running_shim(&self, t: &Target) -> Option<ShimClient> {
        let rec = t.rec.as_ref()?;
        if rec.exit.is_some() {
            return None;
        }
        let dir = self.inner.shim_root().join(&rec.id);
        let client = ShimClient::new(rec.id.clone(), dir);
        let c = client.clone();
        let st = blocking(move || c.status()).await.ok()?.ok()?;
        (st.state == ContainerState::Running).then_some(client)
    }

    async fn require_running(&self, t: &Target) -> Result<(ShimClient, CtrRecord), RuntimeError> {
        let not_running = || RuntimeError::NotRunning { pod: t.pod.metadata.name.clone().unwrap_or_default(), container: t.container.name.clone() };
        let client = self.running_shim(t).await.ok_or_else(not_running)?;
        let rec = t.rec.clone().ok_or_else(not_running)?;
        Ok((client, rec))
    }

    fn log_of(&self, t: &Target, attempt: u32) -> PathBuf {
        let ns = t.pod.metadata.namespace.as_deref().unwrap_or("default");
        log_path(&self.inner.cfg.log_dir, ns, t.pod.metadata.name.as_deref().unwrap_or_default(), &t.uid, &t.container.name, attempt)
    }
}

fn boxed_read(r: impl tokio::io::AsyncRead + Send + 'static) -> BoxRead {
    Box::pin(r)
}

fn boxed_write(w: impl tokio::io::AsyncWrite + Send + 'static) -> BoxWrite {
    Box::pin(w)
}

/// Drains an output nobody asked for, so the process never blocks on a full pipe.
fn drain(r: impl tokio::io::AsyncRead + Send + Unpin + 'static) {
    tokio::spawn(async move {
        let mut r = r;
        let _ = tokio::io::copy(&mut r, &mut tokio::io::sink()).await;
    });
}

fn set_winsize(f: &std::fs::File, size: TermSize) -> std::io::Result<()> {
    let ws = rustix::termios::Winsize { ws_row: size.height, ws_col: size.width, ws_xpixel: 0, ws_ypixel: 0 };
    rustix::termios::tcsetwinsize(f, ws).map_err(std::io::Error::from)
}

#[async_trait::async_trait]
impl NodeRuntime for AgentRuntime {
    async fn log_file(&self, pod: &PodRef, container: &str, previous: bool) -> Result<LogFile, RuntimeError> {
        let t = self.target(pod, container).await?;
        let Some(rec) = t.rec.as_ref() else {
            return Err(RuntimeError::BadRequest(format!("container \"{container}\" in pod \"{}\" is waiting to start: ContainerCreating", pod.name)));
        };
        let path = if previous {
            let prev = rec.attempt.checked_sub(1).map(|a| self.log_of(&t, a)).filter(|p| p.exists());
            prev.ok_or_else(|| RuntimeError::BadRequest(format!("previous terminated container \"{container}\" in pod \"{}\" not found", pod.name)))?
        } else {
            self.log_of(&t, rec.attempt)
        };
        Ok(LogFile { path })
    }

    async fn container_running(&self, pod: &PodRef, container: &str) -> bool {
        match self.target(pod, container).await {
            Ok(t) => self.running_shim(&t).await.is_some(),
            Err(_) => false,
        }
    }

    async fn exec(&self, pod: &PodRef, container: &str, command: Vec<String>, opts: StreamOptions) -> Result<Process, RuntimeError> {
        let t = self.target(pod, container).await?;
        let (_, rec) = self.require_running(&t).await?;
        let (runtime, shim) = (self.inner.runtime.clone(), self.inner.cfg.shim.clone());
        let bundle = rec.bundle.clone();
        let id = rec.id.clone();
        let process = blocking(move || -> Result<_, wharf_container::Error> {
            let spec = wharf_container::spec::read_bundle(&bundle)?;
            wharf_container::exec::process_for(spec.process().as_ref(), &command, &[])
        })
        .await?
        .map_err(internal)?;
        if opts.tty {
            let tty = blocking(move || wharf_container::exec::spawn_tty(&runtime, &shim, &id, &process)).await?.map_err(internal)?;
            let wharf_container::exec::TtyExec { mut child, master } = tty;
            let reader = master.try_clone().map_err(internal)?;
            let resizer = master.try_clone().map_err(internal)?;
            let (resize_tx, mut resize_rx) = mpsc::channel::<TermSize>(4);
            tokio::spawn(async move {
                while let Some(size) = resize_rx.recv().await {
                    if let Err(e) = set_winsize(&resizer, size) {
                        tracing::debug!(error = %e, "resizing exec terminal");
                    }
                }
            });
            let stdout = tokio::fs::File::from_std(reader);
            let stdin = opts.stdin.then(|| boxed_write(tokio::fs::File::from_std(master)));
            let exit = async move {
                let st = blocking(move || child.wait()).await?.map_err(internal)?;
                Ok(exit_code(st))
            };
            return Ok(Process {
                stdin,
                stdout: if opts.stdout { Some(boxed_read(stdout)) } else {
                    drain(stdout);
                    None
                },
                stderr: None,
                resize: Some(resize_tx),
                exit: exit.boxed(),
            });
        }
        let ex = blocking(move || wharf_container::exec::spawn(&runtime, &shim, &id, &process)).await?.map_err(internal)?;
        let mut child = ex.child;
        let stdin = child.stdin.take().map(tokio::process::ChildStdin::from_std).transpose().map_err(internal)?;
        let stdout = child.stdout.take().map(tokio::process::ChildStdout::from_std).transpose().map_err(internal)?;
        let stderr = child.stderr.take().map(tokio::process::ChildStderr::from_std).transpose().map_err(internal)?;
        let stdin = match stdin {
            Some(w) if opts.stdin => Some(boxed_write(w)),
            _ => None,
        };
        let stdout = match stdout {
            Some(r) if opts.stdout => Some(boxed_read(r)),
            Some(r) => {
                drain(r);
                None
            }
            None => None,
        };
        let stderr = match stderr {
            Some(r) if opts.stderr => Some(boxed_read(r)),
            Some(r) => {
                drain(r);
                None
            }
            None => None,
        };
        let exit = async move {
            let st = blocking(move || child.wait()).await?.map_err(internal)?;
            Ok(exit_code(st))
        };
        Ok(Process { stdin, stdout, stderr, resize: None, exit: exit.boxed() })
    }

    async fn attach(&self, pod: &PodRef, container: &str, opts: StreamOptions) -> Result<Process, RuntimeError> {
        let t = self.target(pod, container).await?;
        let (client, rec) = self.require_running(&t).await?;
        let tty = t.container.tty.unwrap_or(false);
        let stdin = if opts.stdin && t.container.stdin.unwrap_or(false) {
            let w = tokio::net::unix::pipe::OpenOptions::new().open_sender(client.stdin_path()).map_err(|e| RuntimeError::Internal(format!("opening the stdin of container {container}: {e}")))?;
            let once = t.container.stdin_once.unwrap_or(false).then(|| client.clone());
            Some(boxed_write(AttachedStdin { pipe: w, once }))
        } else {
            None
        };
        // The main process's output, from now on, as its shim logs it.
        let log = self.log_of(&t, rec.attempt);
        let (done_tx, done_rx) = watch::channel(false);
        let (out_w, out_r) = tokio::io::duplex(64 * 1024);
        let (err_w, err_r) = tokio::io::duplex(64 * 1024);
        let (lines_tx, lines_rx) = mpsc::channel::<(Stream, Vec<u8>)>(64);
        std::thread::Builder::new()
            .name("attach-log".into())
            .spawn(move || follow_log(&log, done_rx, lines_tx))
            .map_err(internal)?;
        // Set once the client stopped reading: the exit future then gives up waiting.
        let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let gone2 = gone.clone();
        tokio::spawn(async move {
            route_output(lines_rx, (opts.stdout || tty).then_some(out_w), (opts.stderr && !tty).then_some(err_w)).await;
            gone2.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let resize = tty.then(|| {
            let (tx, mut rx) = mpsc::channel::<TermSize>(4);
            let c = client.clone();
            tokio::spawn(async move {
                while let Some(s) = rx.recv().await {
                    let c = c.clone();
                    let _ = tokio::task::spawn_blocking(move || c.resize(s.height, s.width)).await;
                }
            });
            tx
        });
        // Waits for the container from now on (the output streams end only once it exited).
        let pod_dir = self.inner.pods_root().join(&t.uid);
        let waiter = tokio::spawn(async move {
            let result = loop {
                let c = client.clone();
                match blocking(move || c.wait(Some(Duration::from_secs(1)))).await {
                    Ok(Ok(st)) => break Ok(st.exit.map(|e| e.code).unwrap_or(0)),
                    Ok(Err(wharf_container::Error::Timeout(..))) if !gone.load(std::sync::atomic::Ordering::SeqCst) => continue,
                    Ok(Err(wharf_container::Error::Timeout(..))) => break Err(RuntimeError::Internal("the client detached".into())),
                    Ok(Err(e)) => {
                        // The agent may already have removed the exited instance's shim: its
                        // recorded exit is in the pod's state.
                        let (dir, id) = (pod_dir.clone(), rec.id.clone());
                        let recorded = blocking(move || state::load(&dir).and_then(|st| st.containers.into_iter().find(|r| r.id == id)).and_then(|r| r.exit)).await.ok().flatten();
                        match recorded {
                            Some(term) => break Ok(term.exit_code),
                            None => break Err(internal(e)),
                        }
                    }
                    Err(e) => break Err(e),
                }
            };
            let _ = done_tx.send(true);
            result
        });
        let exit = async move { waiter.await.map_err(internal)? };
        Ok(Process {
            stdin,
            stdout: (opts.stdout || tty).then(|| boxed_read(out_r)),
            stderr: (opts.stderr && !tty).then(|| boxed_read(err_r)),
            resize,
            exit: exit.boxed(),
        })
    }

    async fn port_forward(&self, pod: &PodRef, port: u16) -> Result<Box<dyn Duplex>, RuntimeError> {
        let (_, uid) = self.pod(pod)?;
        let dir = self.inner.sandbox_dir(&uid);
        let sandbox = blocking(move || wharf_container::Sandbox::adopt(&dir)).await?.ok().flatten();
        let Some(sandbox) = sandbox else {
            return Err(RuntimeError::BadRequest(format!("pod {}/{} has no running sandbox", pod.namespace, pod.name)));
        };
        let netns = sandbox.netns_path();
        let stream = blocking(move || {
            crate::netns::run_in(&netns, move || {
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| format!("failed to connect to localhost:{port} inside the pod's network namespace: {e}"))
            })
        })
        .await?
        .and_then(|r| r)
        .map_err(RuntimeError::Internal)?;
        stream.set_nonblocking(true).map_err(internal)?;
        let stream = tokio::net::TcpStream::from_std(stream).map_err(internal)?;
        Ok(Box::new(stream))
    }
}

/// The container's stdin as one attach session writes it; with `stdinOnce` the container's stdin
/// is closed when that session ends (Kubernetes' semantics: the first attach owns it).
struct AttachedStdin {
    pipe: tokio::net::unix::pipe::Sender,
    once: Option<ShimClient>,
}

impl tokio::io::AsyncWrite for AttachedStdin {
    fn poll_write(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>, buf: &[u8]) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.pipe).poll_write(cx, buf)
    }
    fn poll_flush(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.pipe).poll_flush(cx)
    }
    fn poll_shutdown(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.pipe).poll_shutdown(cx)
    }
}

impl Drop for AttachedStdin {
    fn drop(&mut self) {
        if let Some(c) = self.once.take() {
            // A blocking socket call: off the async threads.
            std::thread::spawn(move || {
                if let Err(e) = c.close_stdin() {
                    tracing::debug!(id = c.id(), error = %e, "closing stdin after the attach session (stdinOnce)");
                }
            });
        }
    }
}

fn exit_code(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Writes each followed log record to the stream it came from (a stream nobody reads is skipped).
async fn route_output(mut lines: mpsc::Receiver<(Stream, Vec<u8>)>, mut out: Option<tokio::io::DuplexStream>, mut err: Option<tokio::io::DuplexStream>) {
    while let Some((stream, data)) = lines.recv().await {
        let w = match stream {
            Stream::Stdout => out.as_mut(),
            Stream::Stderr => err.as_mut().or(out.as_mut()),
        };
        if let Some(w) = w {
            if w.write_all(&data).await.is_err() {
                return;
            }
        }
    }
    // Dropping the writers ends the client's streams.
}

/// Follows a CRI log file from its current end (and across rotations) until `done` turns true
/// and everything written so far has been sent, sending each record's message.
fn follow_log(path: &Path, done: watch::Receiver<bool>, tx: mpsc::Sender<(Stream, Vec<u8>)>) {
    let open = |at_end: bool| -> Option<(std::io::BufReader<std::fs::File>, u64)> {
        let mut f = std::fs::File::open(path).ok()?;
        let ino = f.metadata().ok()?.ino();
        if at_end {
            f.seek(std::io::SeekFrom::End(0)).ok()?;
        }
        Some((std::io::BufReader::new(f), ino))
    };
    let mut cur = open(true);
    let mut line = String::new();
    loop {
        let finished = *done.borrow();
        if let Some((r, ino)) = cur.as_mut() {
            loop {
                match r.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) if !line.ends_with('\n') => {
                        // A record still being written: wait for the rest of it.
                        break;
                    }
                    Ok(_) => {
                        if let Some(rec) = crilog::parse_record(line.trim_end_matches('\n')) {
                            let mut msg = rec.message.into_bytes();
                            if !rec.partial {
                                msg.push(b'\n');
                            }
                            if tx.blocking_send((rec.stream, msg)).is_err() {
                                return;
                            }
                        }
                        line.clear();
                    }
                    Err(_) => break,
                }
            }
            // Rotated: the path now names a new file; read it from its start.
            let rotated = std::fs::metadata(path).map(|m| m.ino() != *ino).unwrap_or(false);
            if rotated {
                line.clear();
                cur = open(false);
                continue;
            }
        } else {
            cur = open(false);
        }
        if finished {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_paths_follow_the_cri_layout_per_instance() {
        let p = log_path(Path::new("/logs"), "ns", "web", "u-1", "app", 2);
        assert_eq!(p, PathBuf::from("/logs/ns_web_u-1/app/2.log"));
    }

    #[test]
    fn following_a_log_sends_new_records_and_stops_once_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, "2026-01-01T00:00:00.000000000Z stdout F old\n").unwrap();
        let (done_tx, done_rx) = watch::channel(false);
        let (tx, mut rx) = mpsc::channel(16);
        let p2 = path.clone();
        let h = std::thread::spawn(move || follow_log(&p2, done_rx, tx));
        std::thread::sleep(Duration::from_millis(150));
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        use std::io::Write;
        f.write_all(b"2026-01-01T00:00:01.000000000Z stderr P par\n2026-01-01T00:00:01.000000000Z stderr F tial\n").unwrap();
        f.write_all(b"2026-01-01T00:00:02.000000000Z stdout F new\n").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        done_tx.send(true).unwrap();
        h.join().unwrap();
        let mut got = Vec::new();
        while let Ok(x) = rx.try_recv() {
            got.push(x);
        }
        assert_eq!(got, vec![(Stream::Stderr, b"par".to_vec()), (Stream::Stderr, b"tial\n".to_vec()), (Stream::Stdout, b"new\n".to_vec())]);
    }
}
