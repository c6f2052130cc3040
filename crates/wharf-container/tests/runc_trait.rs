//! The `OciRuntime` trait driven directly (no shim) with runc: the lifecycle states it reports.
//! (libcontainer is not called here: it must not run in a multi-threaded process such as the test
//! harness; its lifecycle is covered through the shim in `runtime.rs`.)
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{eventually, Env};
use wharf_container::runtime::{ContainerIo, Status};
use wharf_container::spec::write_bundle;
use wharf_container::{cgroups, RuntimeKind};

#[test]
fn runc_reports_created_running_and_stopped_and_delete_removes_the_cgroup() {
    let env = Env::new(RuntimeKind::Runc);
    let rt = env.runtime.open().unwrap();
    let spec = env.spec("direct", "exec sleep 1000");
    let rootfs = env.rootfs("direct");
    let bundle = rootfs.parent().unwrap().to_path_buf();
    write_bundle(&bundle, &spec.to_oci(&rootfs).unwrap()).unwrap();
    let id = common::unique("direct");

    let pid = rt.create(&id, &bundle, ContainerIo::default()).unwrap();
    let st = rt.state(&id).unwrap();
    assert_eq!((st.status, st.pid), (Status::Created, Some(pid)));
    assert!(cgroups::exists(&spec.cgroup_path));

    rt.start(&id).unwrap();
    assert_eq!(rt.state(&id).unwrap().status, Status::Running);

    rt.kill(&id, libc::SIGKILL, false).unwrap();
    eventually("stopped", Duration::from_secs(10), || {
        (rt.state(&id).ok()?.status == Status::Stopped).then_some(())
    });
    rt.delete(&id, false).unwrap();
    assert!(rt.state(&id).is_err());
    assert!(!cgroups::exists(&spec.cgroup_path));
    // Deleting twice is not an error.
    rt.delete(&id, true).unwrap();
}
