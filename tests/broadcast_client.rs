//! `StationClient` against stub broadcast stations on loopback: what each kind of station answer
//! becomes, the headers sent, the time bound and the cap on the answer's size.

mod harness;

use std::time::{Duration, Instant};

use gpd_gateway::broadcast::{AttemptOutcome, StationClient};
use gpd_gateway::domain::broadcast::StationUrl;
use gpd_gateway::domain::destination::DestinationPolicy;
use gpd_gateway::domain::receipt::ReceiptVersion;
use gpd_gateway::xml::{PAFORNODE_NS, SOAP_ENV_NS};
use harness::stub_station::{Behaviour, StubStation};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(5);

/// A request body of `version`; the client sends it as is.
fn request(version: ReceiptVersion) -> Vec<u8> {
    let element = match version {
        ReceiptVersion::V1 => "paSendRTReq",
        ReceiptVersion::V2 => "paSendRTV2Request",
    };
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}"><soapenv:Body><paf:{element} xmlns:paf="{PAFORNODE_NS}"><idPA>77777777777</idPA><idBrokerPA>77777777777</idBrokerPA><idStation>77777777777_01</idStation><receipt><receiptId>r-1 è</receiptId></receipt></paf:{element}></soapenv:Body></soapenv:Envelope>"#
    )
    .into_bytes()
}

/// A client allowed to reach the stub stations: loopback, over plain http.
fn loopback_client() -> StationClient {
    StationClient::new(policy(&["127.0.0.0/8"]))
}

fn policy(networks: &[&str]) -> DestinationPolicy {
    DestinationPolicy {
        allowed_networks: networks.iter().map(|n| n.parse().unwrap()).collect(),
    }
}

/// A host name (not `localhost`, which the URL check already refuses) that resolves to a
/// loopback address on this machine: its own name, as /etc/hosts has it.
fn name_of_this_machine() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let resolved: Vec<std::net::SocketAddr> =
        std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), 0))
            .map(|a| a.collect())
            .unwrap_or_default();
    assert!(
        resolved.iter().any(|a| a.ip().is_loopback()),
        "{name} resolves to {resolved:?}, not loopback"
    );
    name
}

fn station_url(url: &str) -> StationUrl {
    StationUrl::parse(url).expect("a station URL")
}

async fn deliver(client: &StationClient, url: &str, version: ReceiptVersion) -> AttemptOutcome {
    client
        .deliver(&station_url(url), version, request(version), TIMEOUT)
        .await
}

#[tokio::test]
async fn ok_is_delivered_with_the_versions_action() {
    let station = StubStation::start(Behaviour::Ok).await;
    let client = loopback_client();
    for version in [ReceiptVersion::V2, ReceiptVersion::V1] {
        assert_eq!(
            deliver(&client, &station.url(), version).await,
            AttemptOutcome::Delivered
        );
    }
    let received = station.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].soap_action.as_deref(), Some("paSendRTV2"));
    assert_eq!(received[1].soap_action.as_deref(), Some("paSendRT"));
    assert_eq!(
        received[0].body.as_bytes(),
        request(ReceiptVersion::V2).as_slice()
    );
    assert_eq!(
        received[1].body.as_bytes(),
        request(ReceiptVersion::V1).as_slice()
    );
    station.stop().await;
}

#[tokio::test]
async fn ko_is_rejected_with_the_fault() {
    let station = StubStation::start(Behaviour::Ko).await;
    let client = loopback_client();
    for version in [ReceiptVersion::V1, ReceiptVersion::V2] {
        assert_eq!(
            deliver(&client, &station.url(), version).await,
            AttemptOutcome::Rejected {
                fault_code: "PAA_SYSTEM_ERROR".to_owned(),
                description: "station unavailable".to_owned()
            }
        );
    }
    station.stop().await;
}

#[tokio::test]
async fn a_500_or_garbage_fails() {
    let station = StubStation::start(Behaviour::Status500).await;
    let client = loopback_client();
    assert_eq!(
        deliver(&client, &station.url(), ReceiptVersion::V2).await,
        AttemptOutcome::Failed("HTTP 500".to_owned())
    );
    station.set_behaviour(Behaviour::Garbage);
    match deliver(&client, &station.url(), ReceiptVersion::V2).await {
        AttemptOutcome::Failed(reason) => {
            assert!(reason.starts_with("invalid answer: "), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // Back up: the same client delivers.
    station.set_behaviour(Behaviour::Ok);
    assert_eq!(
        deliver(&client, &station.url(), ReceiptVersion::V2).await,
        AttemptOutcome::Delivered
    );
    assert_eq!(station.wait_for(3, TIMEOUT).await.len(), 3);
    station.stop().await;
}

#[tokio::test]
async fn slow_and_silent_stations_time_out() {
    let station = StubStation::start(Behaviour::Slow(Duration::from_millis(100))).await;
    let client = loopback_client();
    let url = station.url();
    let v2 = ReceiptVersion::V2;
    assert_eq!(
        client
            .deliver(&station_url(&url), v2, request(v2), Duration::from_secs(2))
            .await,
        AttemptOutcome::Delivered
    );
    station.set_behaviour(Behaviour::Slow(Duration::from_secs(5)));
    let start = Instant::now();
    assert_eq!(
        client
            .deliver(
                &station_url(&url),
                v2,
                request(v2),
                Duration::from_millis(300)
            )
            .await,
        AttemptOutcome::Failed("timed out after 300 ms".to_owned())
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    station.set_behaviour(Behaviour::Silent);
    assert_eq!(
        client
            .deliver(
                &station_url(&url),
                v2,
                request(v2),
                Duration::from_millis(200)
            )
            .await,
        AttemptOutcome::Failed("timed out after 200 ms".to_owned())
    );
    // The silent station did read the request.
    let received = station.wait_for(3, TIMEOUT).await;
    assert_eq!(received[2].body.as_bytes(), request(v2).as_slice());
    station.stop().await;
}

#[tokio::test]
async fn a_refused_connection_fails() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{address}/station");
    match deliver(&loopback_client(), &url, ReceiptVersion::V1).await {
        AttemptOutcome::Failed(reason) => {
            assert!(reason.to_lowercase().contains("refused"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn https_to_a_plain_station_fails_its_handshake() {
    let station = StubStation::start(Behaviour::Ok).await;
    let url = station.url().replace("http://", "https://");
    match deliver(&loopback_client(), &url, ReceiptVersion::V2).await {
        AttemptOutcome::Failed(reason) => assert!(!reason.is_empty()),
        other => panic!("{other:?}"),
    }
    station.stop().await;
}

/// A station answering 200 with `head` and then `size` bytes of body.
async fn oversized(head: &'static str, size: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/station", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buffer = [0; 4096];
        let _ = stream.read(&mut buffer).await;
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&vec![b' '; size]).await;
    });
    url
}

#[tokio::test]
async fn the_answer_is_capped() {
    let client = loopback_client();
    let declared = oversized(
        "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n",
        2_000_000,
    )
    .await;
    let streamed = oversized("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 2_000_000).await;
    for url in [declared, streamed] {
        assert_eq!(
            deliver(&client, &url, ReceiptVersion::V2).await,
            AttemptOutcome::Failed("answer larger than 1048576 bytes".to_owned()),
            "{url}"
        );
    }
}

#[tokio::test]
async fn receipts_go_only_where_the_policy_lets_them() {
    let station = StubStation::start(Behaviour::Ok).await;
    let by_name = station.url().replace("127.0.0.1", &name_of_this_machine());
    let refused = |outcome: AttemptOutcome| match outcome {
        AttemptOutcome::Refused(reason) => reason,
        other => panic!("{other:?}"),
    };
    // By default: no loopback, whether the URL holds the address or a name resolving to it.
    let strict = StationClient::new(DestinationPolicy::default());
    let reason = refused(deliver(&strict, &station.url(), ReceiptVersion::V2).await);
    assert!(
        reason.contains("127.0.0.1 is a loopback address"),
        "{reason}"
    );
    let https_by_name = by_name.replace("http://", "https://");
    let reason = refused(deliver(&strict, &https_by_name, ReceiptVersion::V2).await);
    assert!(
        reason.contains("resolves to 127.0.0.1 is a loopback address"),
        "{reason}"
    );
    // Plain http only into an allowed network, checked on the address the name resolves to.
    let elsewhere = StationClient::new(policy(&["10.0.0.0/8"]));
    let reason = refused(deliver(&elsewhere, &by_name, ReceiptVersion::V2).await);
    assert!(reason.contains("loopback"), "{reason}");
    assert!(station.received().is_empty(), "nothing was sent");
    // Allowed: delivered through the same resolver.
    assert_eq!(
        deliver(&loopback_client(), &by_name, ReceiptVersion::V2).await,
        AttemptOutcome::Delivered
    );
    station.stop().await;
}
