//! Malformed input never crashes the server and never stops it answering.

use centralino_e2e::Pbx;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

const OPTIONS: &str = "OPTIONS sip:201@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bK-BRANCH;rport\r\n\
From: <sip:probe@127.0.0.1>;tag=p1\r\n\
To: <sip:201@127.0.0.1>\r\n\
Call-ID: probe-BRANCH\r\n\
CSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

fn probe(sock: &UdpSocket, pbx: &Pbx, n: u32) -> String {
    let port = sock.local_addr().unwrap().port().to_string();
    let msg = OPTIONS
        .replace("PORT", &port)
        .replace("BRANCH", &n.to_string());
    sock.send_to(msg.as_bytes(), pbx.sip).unwrap();
    let mut buf = [0u8; 4096];
    let (len, _) = sock.recv_from(&mut buf).expect("the server still answers");
    String::from_utf8_lossy(&buf[..len]).to_string()
}

#[test]
fn garbage_truncated_and_huge_messages_do_not_crash_the_server() {
    let pbx = Pbx::start();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    assert!(probe(&sock, &pbx, 0).starts_with("SIP/2.0 200"));

    let valid = OPTIONS.replace("PORT", "5999").replace("BRANCH", "x");
    let mut inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\r\n\r\n".to_vec(),
        (0..=255u8).collect(),
        b"INVITE".to_vec(),
        b"SIP/2.0 200\r\n\r\n".to_vec(),
        b"INVITE sip:202@x SIP/2.0\r\nVia: SIP/2.0/UDP\r\n\r\n".to_vec(),
        valid
            .replace("CSeq: 1 OPTIONS", "CSeq: banana")
            .into_bytes(),
        valid.replace("Via:", "Via").into_bytes(),
        valid
            .replace("Content-Length: 0", "Content-Length: 99999")
            .into_bytes(),
        valid
            .replace("Content-Length: 0", "Content-Length: -1")
            .into_bytes(),
        valid
            .replace("From: <sip:probe@127.0.0.1>", "From: <sip:probe@127.0.0.1")
            .into_bytes(),
        valid
            .replace("sip:201@127.0.0.1 SIP/2.0", "sip:201@[::1 SIP/2.0")
            .into_bytes(),
        format!(
            "{}X-Huge: {}\r\n\r\n",
            &valid[..valid.len() - 2],
            "a".repeat(60_000)
        )
        .into_bytes(),
        "\u{1F600}".repeat(100).into_bytes(),
    ];
    for cut in (1..valid.len()).step_by(7) {
        inputs.push(valid.as_bytes()[..cut].to_vec());
    }
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (i, input) in inputs.iter().enumerate() {
        let _ = junk.send_to(input, pbx.sip);
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // Over TCP: garbage, then an endless header.
    let mut tcp = TcpStream::connect(pbx.sip).unwrap();
    let _ = tcp.write_all(b"\x00\x01garbage\r\n\r\n");
    let mut tcp2 = TcpStream::connect(pbx.sip).unwrap();
    let _ =
        tcp2.write_all(format!("OPTIONS sip:x SIP/2.0\r\nX: {}", "b".repeat(100_000)).as_bytes());

    let answer = probe(&sock, &pbx, 1);
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    let m = pbx.metrics();
    assert!(m["sip_malformed"].as_u64().unwrap() >= 10, "{m}");
}
