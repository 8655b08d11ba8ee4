//! The gateway's own binary, for the tests of what only a real process shows (signals, files,
//! logs): a free loopback port to start it on, and a wait until it listens there.

use std::net::TcpStream;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_gpd-gateway");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_until_up(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the gateway did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}
