//! The pluggable bearer-token authenticator (`ControlPlane::set_token_reviewer`), over HTTPS:
//! tokens it accepts authenticate as its user (then RBAC decides), others are 401.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use wharf_apiserver::auth::{TokenReviewer, UserInfo};
use wharf_apiserver::{ControlPlane, ControlPlaneConfig};
use wharf_store::{sqlite::SqliteStore, KvStore, Prefixed};

struct Table;

impl TokenReviewer for Table {
    fn review<'a>(&'a self, token: &'a str) -> Pin<Box<dyn Future<Output = Option<UserInfo>> + Send + 'a>> {
        Box::pin(async move {
            match token {
                "reviewed-admin" => Some(UserInfo::new("root-by-review", &["system:masters"])),
                "reviewed-nobody" => Some(UserInfo::new("alice", &["devs"])),
                _ => None,
            }
        })
    }
}

async fn status_with_token(cp: &ControlPlane, token: &str) -> u16 {
    use base64::Engine;
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n",
        cp.endpoint(),
        base64::engine::general_purpose::STANDARD.encode(cp.ca_pem.as_bytes()),
    );
    let kc = kube::config::Kubeconfig::from_yaml(&kubeconfig).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await.expect("config");
    let client = kube::Client::try_from(cfg).expect("client");
    let req = http::Request::get("/api/v1/namespaces").body(Vec::new()).expect("request");
    match client.request_text(req).await {
        Ok(_) => 200,
        Err(kube::Error::Api(e)) => e.code,
        Err(e) => panic!("request failed: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_the_reviewer_accepts_authenticate_and_rbac_still_decides() {
    let dir = tempfile::tempdir().expect("tmp");
    let base: Arc<dyn KvStore> = Arc::new(SqliteStore::open(&dir.path().join("store")).expect("store"));
    let cp = ControlPlane::start(ControlPlaneConfig {
        name: "rev".into(),
        state_dir: dir.path().join("rev"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        store: Arc::new(Prefixed::new(base, "/clusters/rev")),
        service_cidr: ([10, 100, 0, 0], 16),
        compaction_interval: Duration::from_secs(300),
        mounts: Vec::new(),
    })
    .await
    .expect("start control plane");
    assert_eq!(status_with_token(&cp, "reviewed-admin").await, 401, "no reviewer yet");
    assert!(cp.set_token_reviewer(Arc::new(Table)));
    assert!(!cp.set_token_reviewer(Arc::new(Table)), "only the first reviewer is installed");
    assert_eq!(status_with_token(&cp, "reviewed-admin").await, 200);
    assert_eq!(status_with_token(&cp, "reviewed-nobody").await, 403, "authenticated, but RBAC grants alice nothing");
    assert_eq!(status_with_token(&cp, "unknown").await, 401);
    // Static tokens still win.
    let admin = cp.admin_token.clone();
    assert_eq!(status_with_token(&cp, &admin).await, 200);
    cp.shutdown().await;
}
