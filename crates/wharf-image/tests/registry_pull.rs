//! End-to-end: images built here from Debian's busybox-static, pushed with skopeo into
//! Debian's docker-registry on 127.0.0.1, pulled with wharf-image, mounted with overlayfs.
//! Runs as root (mounts, mknod, chown, trusted.* xattrs).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::*;
use wharf_image::{
    ClientConfig, Error, GcPolicy, ImageFailure, ImageStore, Keyring, Platform, PullBackoff, PullPolicy, RegistryClient,
};

fn store(root: &Path) -> ImageStore {
    store_with(root, ClientConfig::default())
}

fn store_with(root: &Path, config: ClientConfig) -> ImageStore {
    let client = RegistryClient::new(config).unwrap();
    let amd64 = Platform { architecture: "amd64".into(), os: "linux".into(), variant: None };
    ImageStore::open(root, client, amd64).unwrap()
}

fn busybox_layout(dir: &Path) -> (Layout, Built) {
    let mut layout = Layout::new(dir);
    let built = layout.image("amd64", &busybox_layers(), busybox_config());
    layout.tag("v1", MANIFEST, &built.manifest_digest, built.manifest_size);
    (layout, built)
}

fn chroot(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new("chroot").arg(root).args(args).output().unwrap()
}

#[tokio::test]
async fn pulled_image_should_mount_with_whiteouts_opaque_dirs_and_run_busybox() {
    let tmp = tempfile::tempdir().unwrap();
    let _unmount = UnmountGuard(tmp.path().to_path_buf());
    let (layout, built) = busybox_layout(&tmp.path().join("layout"));
    let reg = Registry::start(None);
    reg.push(&layout.dir, "v1", "test/busybox:v1", false);

    let store = store(&tmp.path().join("store"));
    let image = store.pull(&format!("{}/test/busybox:v1", reg.host()), &Keyring::new()).await.unwrap();
    assert_eq!(image.reference, format!("{}/test/busybox:v1", reg.host()));
    assert_eq!(image.manifest_digest.to_string(), built.manifest_digest);
    assert_eq!(image.id.to_string(), built.config_digest);
    assert_eq!(image.repo_digest, format!("{}/test/busybox@{}", reg.host(), built.manifest_digest));
    assert_eq!(image.layers.len(), 3);
    let cfg = image.runtime_config();
    assert_eq!(cfg.entrypoint.unwrap(), ["/bin/sh"]);
    assert_eq!(cfg.working_dir.as_deref(), Some("/data"));
    assert_eq!(cfg.env.unwrap(), ["PATH=/bin", "GREETING=hi"]);

    // Layer directories as overlay expects them.
    let base = store.layer_path(&image.layers[0].digest);
    let second = store.layer_path(&image.layers[1].digest);
    let wh = std::fs::symlink_metadata(second.join("etc/removed.txt")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0, "whiteout is a 0:0 char device");
    let opq = rustix::fs::lgetxattr(second.join("olddir"), "trusted.overlay.opaque", &mut [0u8; 8]).unwrap();
    assert_eq!(opq, 1);
    assert_eq!(std::fs::metadata(base.join("bin/ls")).unwrap().ino(), std::fs::metadata(base.join("bin/busybox")).unwrap().ino());
    let owned = std::fs::metadata(base.join("etc/owned")).unwrap();
    assert_eq!((owned.uid(), owned.gid(), owned.mode() & 0o7777), (1234, 5678, 0o640));
    assert_eq!(std::fs::metadata(base.join("bin/suid")).unwrap().mode() & 0o7777, 0o4755);
    let null = std::fs::metadata(base.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert_eq!(std::fs::metadata(base.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
    let mut xbuf = [0u8; 8];
    let n = rustix::fs::lgetxattr(base.join("etc/tagged"), "user.wharf", &mut xbuf).unwrap();
    assert_eq!(&xbuf[..n], b"yes");

    // The merged root filesystem.
    let cdir = tmp.path().join("containers/c1");
    let mounted = store.prepare_rootfs(&image, &cdir, false).unwrap();
    let root = mounted.path().to_path_buf();
    assert!(store.prepare_rootfs(&image, &cdir, false).is_err(), "never stacks a second overlay on a mounted rootfs");
    assert!(!root.join("etc/removed.txt").exists(), "the whiteout hides the lower file");
    assert!(!root.join("olddir/a.txt").exists() && !root.join("olddir/b.txt").exists(), "opaque dir hides lower contents");
    assert_eq!(std::fs::read_to_string(root.join("olddir/new.txt")).unwrap(), "new");
    assert_eq!(std::fs::read_to_string(root.join("data/keep.txt")).unwrap(), "keep");
    assert_eq!(std::fs::read_to_string(root.join("data/added.txt")).unwrap(), "added");
    assert_eq!(std::fs::read_to_string(root.join("etc/hostname")).unwrap(), "wharf\n");
    assert_eq!(std::fs::read_link(root.join("bin/sh")).unwrap(), Path::new("busybox"));
    let out = chroot(&root, &["/bin/busybox", "true"]);
    assert!(out.status.success(), "{out:?}");
    let out = chroot(&root, &["/bin/sh", "-c", "echo written > /tmp/x && busybox cat /etc/hostname && busybox ls /olddir"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "wharf\nnew.txt\n");
    assert_eq!(std::fs::read_to_string(cdir.join("upper/tmp/x")).unwrap(), "written\n", "writes land in the upper dir");
    assert!(std::fs::read_to_string(base.join("tmp/x")).is_err(), "the layer is untouched");

    // Read-only root filesystem: same layers, no upper.
    let ro_dir = tmp.path().join("containers/ro");
    let ro = store.prepare_rootfs(&image, &ro_dir, true).unwrap();
    let out = chroot(ro.path(), &["/bin/sh", "-c", "busybox touch /tmp/y"]);
    assert!(!out.status.success(), "read-only rootfs refuses writes");
    assert!(chroot(ro.path(), &["/bin/busybox", "true"]).status.success());
    assert!(!ro_dir.join("upper").exists());
    ro.remove().unwrap();
    assert!(!ro_dir.join("rootfs").exists());

    // Persist and re-adopt (an agent restart), then unmount.
    let persisted = mounted.persist();
    assert!(wharf_image::rootfs::is_mount_point(&persisted).unwrap());
    let adopted = wharf_image::Mounted::adopt(&cdir).unwrap().expect("still mounted");
    adopted.unmount().unwrap();
    assert!(!wharf_image::rootfs::is_mount_point(&persisted).unwrap());
    assert!(wharf_image::Mounted::adopt(&cdir).unwrap().is_none());
}

#[tokio::test]
async fn dropping_a_mounted_rootfs_should_unmount_it() {
    let tmp = tempfile::tempdir().unwrap();
    let _unmount = UnmountGuard(tmp.path().to_path_buf());
    let (layout, _) = busybox_layout(&tmp.path().join("layout"));
    let reg = Registry::start(None);
    reg.push(&layout.dir, "v1", "drop/busybox:v1", false);
    let store = store(&tmp.path().join("store"));
    let image = store.pull(&format!("{}/drop/busybox:v1", reg.host()), &Keyring::new()).await.unwrap();
    let cdir = tmp.path().join("c");
    let target = {
        let m = store.prepare_rootfs(&image, &cdir, false).unwrap();
        assert!(wharf_image::rootfs::is_mount_point(m.path()).unwrap());
        m.path().to_path_buf()
    };
    assert!(!wharf_image::rootfs::is_mount_point(&target).unwrap());
}

#[tokio::test]
async fn basic_auth_registry_should_need_the_pull_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, built) = busybox_layout(&tmp.path().join("layout"));
    let reg = Registry::start(Some(("alice", "wonder:land")));
    reg.push(&layout.dir, "v1", "private/busybox:v1", false);
    let image = format!("{}/private/busybox:v1", reg.host());
    let store = store(&tmp.path().join("store"));

    let err = store.pull(&image, &Keyring::new()).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");

    let mut wrong = Keyring::new();
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    wrong.add_docker_config_json(format!(r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#, reg.host(), b64("alice:nope")).as_bytes()).unwrap();
    assert!(matches!(store.pull(&image, &wrong).await.unwrap_err(), Error::Unauthorized { .. }));

    // The right secret as a kubernetes.io/dockerconfigjson value (listed after a wrong one
    // for a path prefix, which is tried first and must fall through).
    let secret = format!(
        r#"{{"auths":{{"{h}":{{"auth":"{}"}},"{h}/private":{{"username":"alice","password":"bad"}}}}}}"#,
        b64("alice:wonder:land"),
        h = reg.host()
    );
    let mut keyring = Keyring::new();
    keyring.add_docker_config_json(secret.as_bytes()).unwrap();
    let pulled = store.pull(&image, &keyring).await.unwrap();
    assert_eq!(pulled.manifest_digest.to_string(), built.manifest_digest);
}

#[tokio::test]
async fn index_pull_should_pick_the_amd64_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let busybox = std::fs::read("/bin/busybox").unwrap();
    let amd = layout.image(
        "amd64",
        &[(tar_layer(&[E::File("bin/busybox", &busybox, 0o755), E::File("arch", b"amd64", 0o644)]), true)],
        busybox_config(),
    );
    let arm = layout.image("arm64", &[(tar_layer(&[E::File("arch", b"arm64", 0o644)]), true)], busybox_config());
    let (idx, idx_size) = layout.index(&[("arm64", &arm), ("amd64", &amd)]);
    layout.tag("multi", INDEX, &idx, idx_size);
    let reg = Registry::start(None);
    reg.push(&layout.dir, "multi", "multi/app:1.0", true);

    let store = store(&tmp.path().join("store"));
    let image = store.pull(&format!("{}/multi/app:1.0", reg.host()), &Keyring::new()).await.unwrap();
    assert_eq!(image.manifest_digest.to_string(), amd.manifest_digest);
    assert_eq!(image.config.architecture, "amd64");
    assert_eq!(image.repo_digest, format!("{}/multi/app@{idx}", reg.host()), "imageID names the index digest");
    let layer = store.layer_path(&image.layers[0].digest);
    assert_eq!(std::fs::read_to_string(layer.join("arch")).unwrap(), "amd64");

    // Pinned by digest works too, and only the chosen platform's layer was fetched.
    let by_digest = store.pull(&format!("{}/multi/app@{idx}", reg.host()), &Keyring::new()).await.unwrap();
    assert_eq!(by_digest.id, image.id);
    assert_eq!(store.stats().layers_fetched, 1);
}

#[tokio::test]
async fn tampered_blob_in_registry_should_fail_digest_verification_and_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, built) = busybox_layout(&tmp.path().join("layout"));
    let reg = Registry::start(None);
    reg.push(&layout.dir, "v1", "evil/busybox:v1", false);
    // Flip one byte of the top layer in the registry's storage (same size).
    let path = reg.blob_file(&built.layer_digests[2]);
    let mut data = std::fs::read(&path).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    std::fs::write(&path, data).unwrap();

    let store = store(&tmp.path().join("store"));
    let err = store.pull(&format!("{}/evil/busybox:v1", reg.host()), &Keyring::new()).await.unwrap_err();
    match &err {
        Error::DigestMismatch { expected, .. } => assert_eq!(expected.to_string(), built.layer_digests[2]),
        other => panic!("expected a digest mismatch, got {other}"),
    }
    assert!(!store.layer_path(&built.layer_digests[2].parse().unwrap()).exists());
    assert!(store.get(&format!("{}/evil/busybox:v1", reg.host())).unwrap().is_none());
    assert_eq!(std::fs::read_dir(store.root().join("tmp")).unwrap().count(), 0, "no temp files left");

    // The failure surfaces as the kubelet's ErrImagePull, then ImagePullBackOff.
    let backoff = std::sync::Mutex::new(PullBackoff::default());
    let image = format!("{}/evil/busybox:v1", reg.host());
    let f = store.ensure_image(&image, PullPolicy::IfNotPresent, &Keyring::new(), &backoff, "uid_img").await.unwrap_err();
    assert_eq!(f.reason(), "ErrImagePull");
    assert!(f.message().starts_with(&format!("failed to pull and unpack image \"{image}\": digest mismatch")), "{}", f.message());
    let f = store.ensure_image(&image, PullPolicy::IfNotPresent, &Keyring::new(), &backoff, "uid_img").await.unwrap_err();
    assert_eq!((f.reason(), f.message()), ("ImagePullBackOff", format!("Back-off pulling image \"{image}\"")));
}

#[tokio::test]
async fn concurrent_pulls_should_fetch_and_unpack_each_layer_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, _) = busybox_layout(&tmp.path().join("layout"));
    let reg = Registry::start(None);
    reg.push(&layout.dir, "v1", "dedup/one:v1", false);
    reg.push(&layout.dir, "v1", "dedup/two:v1", false);
    let store = Arc::new(store(&tmp.path().join("store")));
    let one = format!("{}/dedup/one:v1", reg.host());
    let two = format!("{}/dedup/two:v1", reg.host());
    let k = Keyring::new();
    let (a, b, c) = tokio::join!(store.pull(&one, &k), store.pull(&one, &k), store.pull(&two, &k));
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(a, b);
    assert_eq!(a.id, c.id);
    let stats = store.stats();
    assert_eq!((stats.layers_fetched, stats.layers_unpacked), (3, 3), "{stats:?}");
    assert_eq!(std::fs::read_dir(store.root().join("layers/sha256")).unwrap().count(), 3);

    // IfNotPresent finds it without the registry; Never too; Never for an absent image fails.
    drop(reg);
    let backoff = std::sync::Mutex::new(PullBackoff::default());
    let got = store.ensure_image(&one, PullPolicy::IfNotPresent, &k, &backoff, "p_one").await.unwrap();
    assert_eq!(got.id, a.id);
    store.ensure_image(&one, PullPolicy::Never, &k, &backoff, "p_one").await.unwrap();
    let never = store.ensure_image("absent:v1", PullPolicy::Never, &k, &backoff, "p_abs").await.unwrap_err();
    assert_eq!(never.reason(), "ErrImageNeverPull");
    let invalid = store.ensure_image("Bad Name", PullPolicy::Always, &k, &backoff, "p_bad").await.unwrap_err();
    assert!(matches!(invalid, ImageFailure::InvalidImageName { .. }));
    // Always goes to the (now gone) registry.
    let always = store.ensure_image(&one, PullPolicy::Always, &k, &backoff, "p_one").await.unwrap_err();
    assert_eq!(always.reason(), "ErrImagePull");
}

#[tokio::test]
async fn garbage_collection_should_remove_unused_images_and_their_layers_only() {
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let layers = busybox_layers();
    let full = layout.image("amd64", &layers, busybox_config());
    layout.tag("full", MANIFEST, &full.manifest_digest, full.manifest_size);
    // A second image sharing the base layer.
    let small = layout.image("amd64", &[layers[0].clone(), (tar_layer(&[E::File("only", b"1", 0o644)]), true)], busybox_config());
    layout.tag("small", MANIFEST, &small.manifest_digest, small.manifest_size);
    let reg = Registry::start(None);
    reg.push(&layout.dir, "full", "gc/full:1", false);
    reg.push(&layout.dir, "small", "gc/small:1", false);
    let store = store(&tmp.path().join("store"));
    let k = Keyring::new();
    let full_img = store.pull(&format!("{}/gc/full:1", reg.host()), &k).await.unwrap();
    let small_img = store.pull(&format!("{}/gc/small:1", reg.host()), &k).await.unwrap();
    assert_eq!(std::fs::read_dir(store.root().join("layers/sha256")).unwrap().count(), 4);

    // Below the high threshold nothing is removed.
    let never = GcPolicy { high_threshold_percent: 101, low_threshold_percent: 100 };
    let r = store.garbage_collect(never, &HashSet::new()).await.unwrap();
    assert!(r.removed_images.is_empty() && r.removed_layers == 0);

    // Forced (thresholds 0): the unused image goes, the used one and the shared base stay.
    let in_use: HashSet<_> = [small_img.id.clone()].into_iter().collect();
    let always = GcPolicy { high_threshold_percent: 0, low_threshold_percent: 0 };
    let r = store.garbage_collect(always, &in_use).await.unwrap();
    assert_eq!(r.removed_images, std::slice::from_ref(&full_img.reference));
    assert_eq!(r.removed_layers, 2, "the full image's own two layers");
    assert!(store.get(&full_img.reference).unwrap().is_none());
    assert!(store.get(&small_img.reference).unwrap().is_some());
    assert!(store.layer_path(&full_img.layers[0].digest).is_dir(), "shared base layer stays");
    assert!(!store.layer_path(&full_img.layers[1].digest).exists());
    assert!(!store.layer_path(&full_img.layers[2].digest).exists());
    let blobs: Vec<_> = std::fs::read_dir(store.root().join("blobs/sha256")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(blobs.len(), 2, "the small image's manifest and config remain: {blobs:?}");
}

#[tokio::test]
async fn https_registry_should_be_trusted_only_with_its_ca_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, built) = busybox_layout(&tmp.path().join("layout"));
    let (ca, cert, key) = tls_pair();
    let reg = Registry::start_with(None, Some((&cert, &key)));
    reg.push(&layout.dir, "v1", "tls/busybox:v1", false);
    let image = format!("{}/tls/busybox:v1", reg.host());

    let untrusted = store(&tmp.path().join("untrusted"));
    let err = untrusted.pull(&image, &Keyring::new()).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "an unknown CA is a TLS failure, not an HTTP fallback: {err}");

    let config = ClientConfig { extra_ca_pem: vec![ca.into_bytes()], system_roots: false, ..ClientConfig::default() };
    let trusted = store_with(&tmp.path().join("trusted"), config);
    let pulled = trusted.pull(&image, &Keyring::new()).await.unwrap();
    assert_eq!(pulled.manifest_digest.to_string(), built.manifest_digest);
}

#[tokio::test]
async fn docker_schema2_image_should_pull_and_mount() {
    let tmp = tempfile::tempdir().unwrap();
    let _unmount = UnmountGuard(tmp.path().to_path_buf());
    let (layout, _) = busybox_layout(&tmp.path().join("layout"));
    let reg = Registry::start(None);
    // skopeo converts to Docker media types (and gzips the uncompressed layer).
    reg.push_with(&layout.dir, "v1", "docker/busybox:v1", false, &["--format", "v2s2"]);
    let store = store(&tmp.path().join("store"));
    let image = store.pull(&format!("{}/docker/busybox:v1", reg.host()), &Keyring::new()).await.unwrap();
    assert!(image.layers.iter().all(|l| l.media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip"));
    let blob = std::fs::read(store.root().join("blobs/sha256").join(image.manifest_digest.hex())).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&blob).unwrap();
    assert_eq!(manifest["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
    let m = store.prepare_rootfs(&image, &tmp.path().join("c"), false).unwrap();
    assert!(!m.path().join("etc/removed.txt").exists());
    assert!(chroot(m.path(), &["/bin/busybox", "true"]).status.success());
    m.remove().unwrap();
}

#[tokio::test]
async fn image_with_more_layers_than_a_mount_option_page_holds_should_mount() {
    let tmp = tempfile::tempdir().unwrap();
    let _unmount = UnmountGuard(tmp.path().to_path_buf());
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let busybox = std::fs::read("/bin/busybox").unwrap();
    let mut layers = vec![(tar_layer(&[E::File("bin/busybox", &busybox, 0o755)]), true)];
    for i in 0..48 {
        let name = format!("layers/{i:02}");
        layers.push((tar_layer(&[E::File(&name, name.as_bytes(), 0o644)]), true));
    }
    let built = layout.image("amd64", &layers, busybox_config());
    layout.tag("many", MANIFEST, &built.manifest_digest, built.manifest_size);
    let reg = Registry::start(None);
    reg.push(&layout.dir, "many", "many/layers:1", false);
    let store = store(&tmp.path().join("store"));
    let image = store.pull(&format!("{}/many/layers:1", reg.host()), &Keyring::new()).await.unwrap();
    let option_bytes: usize = image.layers.iter().map(|l| store.layer_path(&l.digest).as_os_str().len() + 1).sum();
    assert!(option_bytes > 4096, "the lowerdir list ({option_bytes} bytes) exceeds one mount(2) option page");
    let m = store.prepare_rootfs(&image, &tmp.path().join("c"), false).unwrap();
    for i in 0..48 {
        assert_eq!(std::fs::read_to_string(m.path().join(format!("layers/{i:02}"))).unwrap(), format!("layers/{i:02}"));
    }
    assert!(chroot(m.path(), &["/bin/busybox", "true"]).status.success());
    m.remove().unwrap();
}

#[tokio::test]
async fn reopening_the_store_should_drop_interrupted_work_and_keep_finished_images() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, _) = busybox_layout(&tmp.path().join("layout"));
    let reg = Registry::start(None);
    reg.push(&layout.dir, "v1", "crash/busybox:v1", false);
    let root = tmp.path().join("store");
    let image = format!("{}/crash/busybox:v1", reg.host());
    let pulled = store(&root).pull(&image, &Keyring::new()).await.unwrap();
    // What a crash mid-pull leaves: a half-unpacked layer, a partial blob, an unrenamed record.
    std::fs::create_dir_all(root.join("tmp/layer-1-0/bin")).unwrap();
    std::fs::write(root.join("tmp/blob-1-1"), b"partial").unwrap();
    std::fs::write(root.join("images/.x.json.tmp-1-0"), b"{").unwrap();

    let reopened = store(&root);
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    assert!(!root.join("images/.x.json.tmp-1-0").exists());
    assert_eq!(reopened.list().unwrap(), vec![pulled.clone()]);
    let backoff = std::sync::Mutex::new(PullBackoff::default());
    drop(reg);
    let got = reopened.ensure_image(&image, PullPolicy::IfNotPresent, &Keyring::new(), &backoff, "k").await.unwrap();
    assert_eq!(got, pulled);
}

#[tokio::test]
async fn zstd_layers_should_unpack_like_gzip_ones() {
    use ruzstd::encoding::{compress_to_vec, CompressionLevel};
    let tmp = tempfile::tempdir().unwrap();
    let _unmount = UnmountGuard(tmp.path().to_path_buf());
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let raw: Vec<_> = busybox_layers()
        .into_iter()
        .map(|(tar, _)| {
            let z = compress_to_vec(&tar[..], CompressionLevel::Fastest);
            (tar, z, "application/vnd.oci.image.layer.v1.tar+zstd")
        })
        .collect();
    let built = layout.image_raw("amd64", &raw, busybox_config());
    layout.tag("zstd", MANIFEST, &built.manifest_digest, built.manifest_size);
    let reg = Registry::start(None);
    reg.push(&layout.dir, "zstd", "zstd/busybox:1", false);
    let store = store(&tmp.path().join("store"));
    let image = store.pull(&format!("{}/zstd/busybox:1", reg.host()), &Keyring::new()).await.unwrap();
    assert_eq!(image.manifest_digest.to_string(), built.manifest_digest);
    let m = store.prepare_rootfs(&image, &tmp.path().join("c"), false).unwrap();
    assert!(!m.path().join("etc/removed.txt").exists());
    assert!(!m.path().join("olddir/a.txt").exists());
    assert!(chroot(m.path(), &["/bin/busybox", "true"]).status.success());
    m.remove().unwrap();
}
