//! The shim entry point as a standalone binary, for this crate's tests (the product routes
//! `wharf shim ...` to the same function).
//!
//! Extra mode for tests: `test-agent <shim.json>` plays a node agent that starts a shim and then
//! blocks until it is killed, so a test can `kill -9` it and re-adopt the container.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("test-agent") {
        let Some(path) = args.get(1) else { std::process::exit(2) };
        let cfg: wharf_container::ShimConfig = match std::fs::read(path).map(|t| serde_json::from_slice(&t)) {
            Ok(Ok(c)) => c,
            _ => std::process::exit(2),
        };
        match wharf_container::shim::spawn(&cfg) {
            Ok(client) => {
                println!("running {}", client.status().map(|s| s.pid).unwrap_or(-1));
                loop {
                    std::thread::park();
                }
            }
            Err(e) => {
                println!("error {e}");
                std::process::exit(1)
            }
        }
    }
    wharf_container::shim_main(args)
}
