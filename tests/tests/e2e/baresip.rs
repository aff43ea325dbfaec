//! An independent user agent (baresip, Debian package) registers to the PBX and calls a
//! SIPp callee through it; its 1 kHz sine source flows through the relay.

use centralino_e2e::pcap::Capture;
use centralino_e2e::{free_media_port, free_udp_port, register, Pbx};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

struct Baresip(std::process::Child);

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn netstring(s: &str) -> String {
    format!("{}:{},", s.len(), s)
}

#[test]
fn baresip_registers_and_calls_sipp_through_the_pbx() {
    let pbx = Pbx::start();
    let p202 = free_udp_port();
    let m202 = free_media_port();
    register(&pbx, "202", p202);
    let callee = centralino_e2e::Sipp::new("uas_answer_bye.xml", pbx.sip)
        .args(&[
            "-p",
            &p202.to_string(),
            "-mp",
            &m202.to_string(),
            "-m",
            "1",
            "-d",
            "2000",
        ])
        .spawn();

    let dir = tempfile::tempdir().unwrap();
    let bs_media = free_media_port();
    let ctrl_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.path().join("config"),
        format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{sip}\nnet_interface 127.0.0.1\n\
audio_player aubridge,sink\naudio_source ausine,1000\nausrc_srate 48000\nausrc_channels 2\nauplay_srate 48000\naudio_alert aubridge,alert\n\
rtp_ports {m}-{m2}\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\nmodule ausine.so\n\
module aubridge.so\nmodule ctrl_tcp.so\nmodule_app account.so\nmodule_app menu.so\nctrl_tcp_listen 127.0.0.1:{ctrl_port}\n",
            sip = free_udp_port(),
            m = bs_media,
            m2 = bs_media + 3,
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("accounts"),
        format!(
            "<sip:203@{};transport=udp>;auth_pass=demo203;regint=600\n",
            pbx.sip
        ),
    )
    .unwrap();
    let _ua = Baresip(
        Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            // Not the file PCMs the sound-card test points this process's ALSA at.
            .env_remove("ALSA_CONFIG_PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                std::fs::File::create(dir.path().join("baresip.log")).unwrap(),
            ))
            .stderr(Stdio::null())
            .spawn()
            .expect("baresip is installed"),
    );
    pbx.wait_for("baresip registered", Duration::from_secs(15), |p| {
        p.locations().len() == 2
    });
    let cap = Capture::start(
        dir.path(),
        &format!("udp and portrange {}-{}", pbx.rtp.0, pbx.rtp.1),
    );
    let mut ctrl = None;
    for _ in 0..50 {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", ctrl_port)) {
            ctrl = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut ctrl = ctrl.expect("baresip control socket");
    let cmd = format!(
        r#"{{"command":"dial","params":"sip:202@{}","token":"1"}}"#,
        pbx.sip
    );
    ctrl.write_all(netstring(&cmd).as_bytes()).unwrap();

    let (ok, out) = callee.wait(Duration::from_secs(30));
    let log = std::fs::read_to_string(dir.path().join("baresip.log")).unwrap_or_default();
    assert!(
        ok,
        "SIPp callee completed the call from baresip: {out}\nbaresip:\n{log}\npbx:\n{}",
        pbx.log()
    );
    let packets = cap.finish();
    let relay = |p: u16| (pbx.rtp.0..=pbx.rtp.1).contains(&p);
    let to_sipp = packets
        .iter()
        .filter(|d| relay(d.src.port()) && d.dst.port() == m202)
        .count();
    assert!(
        to_sipp >= 20,
        "baresip's audio reached SIPp through the relay ({to_sipp} packets)"
    );

    let cdrs = pbx.closed_cdrs(1);
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0]["status"], "OK");
    assert_eq!(cdrs[0]["caller"], "203");
    assert_eq!(cdrs[0]["answered_by"], "202");
    assert!(cdrs[0]["src_peer_name"] == "203");
}
