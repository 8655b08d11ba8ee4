//! The WSDL's `soap:address` comes from the configuration, never from the request's Host
//! header: a hostile Host cannot put markup into the document.

mod harness;

use gpd_gateway::clock::Clock;
use gpd_gateway::config::Config;
use harness::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET /partner?wsdl` with this Host header, sent as raw bytes: (status line, body).
async fn wsdl_with_host(server: &TestServer, host: &str) -> (String, String) {
    let address = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request =
        format!("GET /partner?wsdl HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

fn address(wsdl: &str) -> &str {
    let start = wsdl.find("<soap:address location=\"").expect("an address") + 24;
    &wsdl[start..start + wsdl[start..].find('"').unwrap()]
}

const HOSTILE: &str = "evil.example\"/><injected xmlns=\"urn:x\">x</injected><a b=\"";

#[tokio::test(flavor = "multi_thread")]
async fn hostile_host_header_changes_nothing() {
    let server = TestServer::start().await;
    let (status, wsdl) = wsdl_with_host(&server, HOSTILE).await;
    assert!(status.contains("200"), "{status}");
    assert!(!wsdl.contains("injected"), "{wsdl}");
    assert!(!wsdl.contains("evil"), "{wsdl}");
    // Without public_url: the address the gateway listens on.
    assert_eq!(address(&wsdl), format!("{}/partner", server.base));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_public_url_is_the_address() {
    let with_url = |url: &str| {
        gpd_gateway::config::EXAMPLE_TOML.replacen(
            "[server]\n",
            &format!("[server]\npublic_url = '{url}'\n"),
            1,
        )
    };
    let text = with_url("https://pagopa.example.it/gateway/");
    let config = Config::parse(&text, "t").unwrap();
    let server = TestServer::start_with(config, Clock::system()).await;
    let (_, wsdl) = wsdl_with_host(&server, HOSTILE).await;
    assert_eq!(address(&wsdl), "https://pagopa.example.it/gateway/partner");
    assert!(!wsdl.contains("evil"), "{wsdl}");
    server.stop().await;

    // A URL that would need escaping, or is not absolute http(s), is refused at load.
    for bad in [
        "https://gw.example.it/\"><x",
        "gw.example.it",
        "javascript:alert(1)",
    ] {
        let e = Config::parse(&with_url(bad), "t").unwrap_err();
        assert_eq!(e.key, "server.public_url", "{bad}");
    }
}
