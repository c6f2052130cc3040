//! The ECR API on `wharf up` with the real aws CLI (only the variables of `DIR/aws.env` set)
//! and skopeo pushing and pulling with the passwords `aws ecr get-login-password` prints.

mod common;

use common::{eventually, Wharf};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn write_blob(dir: &Path, data: &[u8]) -> String {
    let d = sha(data);
    std::fs::write(dir.join("blobs/sha256").join(d.trim_start_matches("sha256:")), data).expect("blob");
    d
}

/// A one-layer OCI image layout tagged `v1` whose file holds `content`; returns its digest.
fn oci_layout(dir: &Path, content: &[u8]) -> String {
    std::fs::create_dir_all(dir.join("blobs/sha256")).expect("layout dir");
    let mut header = [0u8; 512];
    header[..9].copy_from_slice(b"hello.txt");
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
    header[136..147].copy_from_slice(b"00000000000");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut layer = header.to_vec();
    layer.extend_from_slice(content);
    layer.resize(layer.len().div_ceil(512) * 512 + 1024, 0);
    let diff_id = sha(&layer);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&layer).expect("gzip");
    let layer = gz.finish().expect("gzip");
    let layer_digest = write_blob(dir, &layer);
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": [diff_id]}});
    let config = serde_json::to_vec(&config).expect("config");
    let config_digest = write_blob(dir, &config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
    });
    let manifest = serde_json::to_vec(&manifest).expect("manifest");
    let manifest_digest = write_blob(dir, &manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).expect("index")).expect("index");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
    manifest_digest
}

/// Runs the aws CLI with `DIR/aws.env`, optionally as another access key.
fn aws_as(w: &Wharf, key: Option<(&str, &str)>, args: &[&str]) -> Output {
    let env = std::fs::read_to_string(w.dir.join("aws.env")).expect("aws.env written on start");
    let mut cmd = Command::new("aws");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", w.dir.as_os_str())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for line in env.lines() {
        let Some((k, v)) = line.trim().trim_start_matches("export ").split_once('=') else { continue };
        cmd.env(k, v.trim_matches(|c| c == '"' || c == '\''));
    }
    if let Some((id, secret)) = key {
        cmd.env("AWS_ACCESS_KEY_ID", id).env("AWS_SECRET_ACCESS_KEY", secret);
    }
    cmd.args(args).output().expect("run aws")
}

fn aws(w: &Wharf, args: &[&str]) -> Output {
    aws_as(w, None, args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs the aws CLI and parses its JSON output, failing the test on a non-zero exit.
fn aws_json(w: &Wharf, key: Option<(&str, &str)>, args: &[&str]) -> serde_json::Value {
    let mut full = args.to_vec();
    full.extend(["--output", "json"]);
    let o = aws_as(w, key, &full);
    assert!(o.status.success(), "aws {args:?} failed: {}", stderr(&o));
    if o.stdout.iter().all(u8::is_ascii_whitespace) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("aws {args:?} printed no JSON ({e}): {}", stdout(&o)))
}

/// skopeo with its own auth file and Wharf's CA, cleaned up with the temp dir.
struct Skopeo {
    tmp: tempfile::TempDir,
    certs: String,
    host: String,
}

impl Skopeo {
    fn new(w: &Wharf) -> Self {
        let tmp = tempfile::tempdir().expect("tmp");
        let certs = tmp.path().join("certs");
        std::fs::create_dir_all(&certs).expect("certs dir");
        std::fs::copy(w.ca_file(), certs.join("ca.crt")).expect("ca");
        Self { certs: certs.to_string_lossy().into_owned(), host: w.endpoint.trim_start_matches("https://").to_string(), tmp }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("skopeo");
        cmd.args(args).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn skopeo");
        if let Some(input) = stdin {
            let _ = child.stdin.take().expect("stdin").write_all(input.as_bytes());
        }
        child.wait_with_output().expect("skopeo output")
    }

    /// `aws ecr get-login-password | skopeo login --password-stdin -u AWS HOST` into `authfile`.
    fn login(&self, w: &Wharf, key: Option<(&str, &str)>, authfile: &str) -> String {
        let pw = aws_as(w, key, &["ecr", "get-login-password"]);
        assert!(pw.status.success(), "get-login-password failed: {}", stderr(&pw));
        let password = stdout(&pw).trim().to_string();
        let auth = self.path(authfile).to_string_lossy().into_owned();
        let o = self.run(&["login", "--cert-dir", &self.certs, "--authfile", &auth, "--username", "AWS", "--password-stdin", &self.host], Some(&password));
        assert!(o.status.success(), "skopeo login failed: {}{}", stdout(&o), stderr(&o));
        auth
    }

    fn push(&self, authfile: &str, layout: &Path, dest: &str) -> Output {
        let auth = self.path(authfile).to_string_lossy().into_owned();
        self.run(&["copy", "--authfile", &auth, "--dest-cert-dir", &self.certs, &format!("oci:{}:v1", layout.display()), &format!("docker://{dest}")], None)
    }

    fn pull(&self, authfile: &str, src: &str, layout: &Path) -> Output {
        let auth = self.path(authfile).to_string_lossy().into_owned();
        self.run(&["copy", "--authfile", &auth, "--src-cert-dir", &self.certs, &format!("docker://{src}"), &format!("oci:{}:pulled", layout.display())], None)
    }
}

fn tags_in(list: &serde_json::Value) -> Vec<String> {
    let mut t: Vec<String> = list["imageIds"].as_array().expect("imageIds").iter().filter_map(|i| i["imageTag"].as_str().map(String::from)).collect();
    t.sort();
    t
}

/// Valid JSON, but a `tagged` rule needs a tag prefix or pattern list.
const BAD_POLICY: &str = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#;

#[test]
fn ecr_create_login_push_list_pull_delete_and_lifecycle_with_the_aws_cli_and_skopeo() {
    let w = Wharf::start();
    let sk = Skopeo::new(&w);
    let created = aws_json(&w, None, &["ecr", "create-repository", "--repository-name", "team/app", "--tags", "Key=team,Value=blue"]);
    let uri = created["repository"]["repositoryUri"].as_str().expect("repositoryUri").to_string();
    assert_eq!(uri, format!("{}/team/app", sk.host));
    let account = created["repository"]["registryId"].as_str().expect("registryId").to_string();
    assert_eq!(created["repository"]["repositoryArn"], format!("arn:aws:ecr:us-east-1:{account}:repository/team/app"));
    let again = aws(&w, &["ecr", "create-repository", "--repository-name", "team/app"]);
    assert!(stderr(&again).contains("RepositoryAlreadyExistsException"), "{}", stderr(&again));
    let missing = aws(&w, &["ecr", "describe-repositories", "--repository-names", "nope"]);
    assert!(stderr(&missing).contains("RepositoryNotFoundException"), "{}", stderr(&missing));

    // The authorization token decodes to AWS:<password> with no ':' in the password, and its
    // proxy endpoint is the listener.
    let tok = aws_json(&w, None, &["ecr", "get-authorization-token"]);
    assert_eq!(tok["authorizationData"][0]["proxyEndpoint"], w.endpoint.as_str());
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(tok["authorizationData"][0]["authorizationToken"].as_str().expect("token")).expect("base64");
    let decoded = String::from_utf8(decoded).expect("utf8");
    let (user, password) = decoded.split_once(':').expect("user:password");
    assert_eq!(user, "AWS");
    assert!(!password.contains(':'));

    let auth = sk.login(&w, None, "admin.json");
    let layout_a = sk.path("a");
    let digest_a = oci_layout(&layout_a, b"image a\n");
    let push = sk.push(&auth, &layout_a, &format!("{uri}:v1"));
    assert!(push.status.success(), "push failed: {}", stderr(&push));

    let list = aws_json(&w, None, &["ecr", "list-images", "--repository-name", "team/app"]);
    assert_eq!(tags_in(&list), vec!["v1"]);
    assert_eq!(list["imageIds"][0]["imageDigest"], digest_a.as_str());
    let untagged = aws_json(&w, None, &["ecr", "list-images", "--repository-name", "team/app", "--filter", "tagStatus=UNTAGGED"]);
    assert_eq!(untagged["imageIds"].as_array().map(Vec::len), Some(0));
    let described = aws_json(&w, None, &["ecr", "describe-images", "--repository-name", "team/app", "--image-ids", "imageTag=v1"]);
    let detail = &described["imageDetails"][0];
    assert_eq!(detail["imageDigest"], digest_a.as_str());
    assert_eq!(detail["imageManifestMediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert!(detail["imageSizeInBytes"].as_u64().unwrap_or(0) > 0, "{detail}");
    assert!(detail["imagePushedAt"].is_number() || detail["imagePushedAt"].is_string(), "{detail}");
    let got = aws_json(&w, None, &["ecr", "batch-get-image", "--repository-name", "team/app", "--image-ids", "imageTag=v1"]);
    assert_eq!(sha(got["images"][0]["imageManifest"].as_str().expect("manifest").as_bytes()), digest_a);

    let pulled = sk.path("pulled");
    let pull = sk.pull(&auth, &format!("{uri}:v1"), &pulled);
    assert!(pull.status.success(), "pull failed: {}", stderr(&pull));
    assert!(pulled.join("index.json").exists());

    let not_empty = aws(&w, &["ecr", "delete-repository", "--repository-name", "team/app"]);
    assert!(stderr(&not_empty).contains("RepositoryNotEmptyException"), "{}", stderr(&not_empty));
    let deleted = aws_json(&w, None, &["ecr", "batch-delete-image", "--repository-name", "team/app", "--image-ids", "imageTag=v1", "imageTag=nope"]);
    assert_eq!(deleted["imageIds"][0]["imageDigest"], digest_a.as_str());
    assert_eq!(deleted["failures"][0]["failureCode"], "ImageNotFound");
    let list = aws_json(&w, None, &["ecr", "list-images", "--repository-name", "team/app"]);
    assert_eq!(list["imageIds"].as_array().map(Vec::len), Some(0), "{list}");

    // Lifecycle: keep only the newest image, applied when the policy is put and on each push.
    let layout_b = sk.path("b");
    oci_layout(&layout_b, b"image b\n");
    let layout_c = sk.path("c");
    let digest_c = oci_layout(&layout_c, b"image c\n");
    assert!(sk.push(&auth, &layout_a, &format!("{uri}:v1")).status.success());
    assert!(sk.push(&auth, &layout_b, &format!("{uri}:v2")).status.success());
    let policy = r#"{"rules":[{"rulePriority":1,"description":"keep one","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#;
    let put = aws_json(&w, None, &["ecr", "put-lifecycle-policy", "--repository-name", "team/app", "--lifecycle-policy-text", policy]);
    assert_eq!(put["repositoryName"], "team/app");
    assert_eq!(tags_in(&aws_json(&w, None, &["ecr", "list-images", "--repository-name", "team/app"])), vec!["v2"]);
    assert!(sk.push(&auth, &layout_c, &format!("{uri}:v3")).status.success());
    eventually(30, "the lifecycle policy to expire v2 after v3 was pushed", || {
        tags_in(&aws_json(&w, None, &["ecr", "list-images", "--repository-name", "team/app"])) == vec!["v3"]
    });
    let d = aws_json(&w, None, &["ecr", "describe-images", "--repository-name", "team/app"]);
    assert_eq!(d["imageDetails"][0]["imageDigest"], digest_c.as_str());
    let lp = aws_json(&w, None, &["ecr", "get-lifecycle-policy", "--repository-name", "team/app"]);
    assert_eq!(lp["lifecyclePolicyText"].as_str().map(|t| serde_json::from_str::<serde_json::Value>(t).ok()), Some(serde_json::from_str(policy).ok()));
    let bad_policy = aws(&w, &["ecr", "put-lifecycle-policy", "--repository-name", "team/app", "--lifecycle-policy-text", BAD_POLICY]);
    assert!(stderr(&bad_policy).contains("InvalidParameterException"), "{}", stderr(&bad_policy));

    let tags = aws_json(&w, None, &["ecr", "list-tags-for-resource", "--resource-arn", &format!("arn:aws:ecr:us-east-1:{account}:repository/team/app")]);
    assert_eq!(tags["tags"], serde_json::json!([{"Key": "team", "Value": "blue"}]));
    aws_json(&w, None, &["ecr", "delete-repository", "--repository-name", "team/app", "--force"]);
    let gone = aws(&w, &["ecr", "describe-images", "--repository-name", "team/app"]);
    assert!(stderr(&gone).contains("RepositoryNotFoundException"), "{}", stderr(&gone));
}

#[test]
fn an_iam_user_without_ecr_permissions_is_denied_api_calls_and_pulls_until_read_only_access_is_attached() {
    let w = Wharf::start();
    let sk = Skopeo::new(&w);
    let created = aws_json(&w, None, &["ecr", "create-repository", "--repository-name", "app", "--image-tag-mutability", "IMMUTABLE"]);
    let uri = created["repository"]["repositoryUri"].as_str().expect("repositoryUri").to_string();
    let admin_auth = sk.login(&w, None, "admin.json");
    let layout = sk.path("img");
    oci_layout(&layout, b"shared image\n");
    assert!(sk.push(&admin_auth, &layout, &format!("{uri}:v1")).status.success());
    // Immutable tags stay put.
    let other = sk.path("other");
    oci_layout(&other, b"another image\n");
    assert!(!sk.push(&admin_auth, &other, &format!("{uri}:v1")).status.success(), "an immutable tag was overwritten");

    aws_json(&w, None, &["iam", "create-user", "--user-name", "bob"]);
    let key = aws_json(&w, None, &["iam", "create-access-key", "--user-name", "bob"]);
    let id = key["AccessKey"]["AccessKeyId"].as_str().expect("key id").to_string();
    let secret = key["AccessKey"]["SecretAccessKey"].as_str().expect("secret").to_string();
    let bob = Some((id.as_str(), secret.as_str()));
    // Bob may only get a token: nothing else in ECR.
    let token_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}"#;
    aws_json(&w, None, &["iam", "put-user-policy", "--user-name", "bob", "--policy-name", "token", "--policy-document", token_only]);

    let denied = aws_as(&w, bob, &["ecr", "describe-images", "--repository-name", "app"]);
    assert!(!denied.status.success());
    assert!(stderr(&denied).contains("AccessDeniedException"), "{}", stderr(&denied));
    assert!(stderr(&denied).contains("ecr:DescribeImages"), "{}", stderr(&denied));
    let bob_auth = sk.login(&w, bob, "bob.json");
    let pulled = sk.path("pulled");
    let pull = sk.pull(&bob_auth, &format!("{uri}:v1"), &pulled);
    assert!(!pull.status.success(), "a pull without ECR permissions succeeded");

    aws_json(&w, None, &["iam", "attach-user-policy", "--user-name", "bob", "--policy-arn", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"]);
    let allowed = aws_json(&w, bob, &["ecr", "describe-images", "--repository-name", "app"]);
    assert_eq!(allowed["imageDetails"].as_array().map(Vec::len), Some(1));
    // The token Bob already has is judged by his current policies.
    let pull = sk.pull(&bob_auth, &format!("{uri}:v1"), &pulled);
    assert!(pull.status.success(), "read-only pull failed: {}", stderr(&pull));
    // Read-only: pushing stays denied.
    let push = sk.push(&bob_auth, &other, &format!("{uri}:v2"));
    assert!(!push.status.success(), "a read-only user pushed");
    // A repository policy can grant the push.
    let arn = format!("arn:aws:iam::{}:user/bob", created["repository"]["registryId"].as_str().expect("registryId"));
    let repo_policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "bob-push", "Effect": "Allow", "Principal": {"AWS": arn},
        "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:BatchCheckLayerAvailability"]}]});
    aws_json(&w, None, &["ecr", "set-repository-policy", "--repository-name", "app", "--policy-text", &repo_policy.to_string()]);
    let push = sk.push(&bob_auth, &other, &format!("{uri}:v2"));
    assert!(push.status.success(), "push granted by the repository policy failed: {}", stderr(&push));
}

#[test]
fn repositories_images_policies_and_login_passwords_survive_a_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut w = Wharf::start_in(tmp.path());
    let sk = Skopeo::new(&w);
    aws_json(&w, None, &["ecr", "create-repository", "--repository-name", "keep", "--image-tag-mutability", "IMMUTABLE"]);
    let policy = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}}]}"#;
    aws_json(&w, None, &["ecr", "put-lifecycle-policy", "--repository-name", "keep", "--lifecycle-policy-text", policy]);
    let auth = sk.login(&w, None, "admin.json");
    let layout = sk.path("img");
    let digest = oci_layout(&layout, b"durable\n");
    assert!(sk.push(&auth, &layout, &format!("{}/keep:v1", sk.host)).status.success());
    w.stop();

    let w = Wharf::start_in(tmp.path());
    let sk2 = Skopeo::new(&w);
    let repo = aws_json(&w, None, &["ecr", "describe-repositories", "--repository-names", "keep"]);
    assert_eq!(repo["repositories"][0]["imageTagMutability"], "IMMUTABLE");
    assert_eq!(repo["repositories"][0]["repositoryUri"], format!("{}/keep", sk2.host));
    let images = aws_json(&w, None, &["ecr", "describe-images", "--repository-name", "keep"]);
    assert_eq!(images["imageDetails"][0]["imageDigest"], digest.as_str());
    aws_json(&w, None, &["ecr", "get-lifecycle-policy", "--repository-name", "keep"]);
    // The password issued before the restart still logs in and pulls (the auth file names the
    // old port, so log in again with the same password).
    let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(sk.path("admin.json")).expect("auth file")).expect("auth json");
    let entry = stored["auths"].as_object().and_then(|m| m.values().next()).expect("an auth entry");
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(entry["auth"].as_str().expect("auth")).expect("base64");
    let password = String::from_utf8(decoded).expect("utf8").trim_start_matches("AWS:").to_string();
    let auth2 = sk2.path("again.json").to_string_lossy().into_owned();
    let login = sk2.run(&["login", "--cert-dir", &sk2.certs, "--authfile", &auth2, "--username", "AWS", "--password-stdin", &sk2.host], Some(&password));
    assert!(login.status.success(), "login with the old password failed: {}", stderr(&login));
    let pull = sk2.pull("again.json", &format!("{}/keep:v1", sk2.host), &sk2.path("pulled"));
    assert!(pull.status.success(), "pull after restart failed: {}", stderr(&pull));
}
