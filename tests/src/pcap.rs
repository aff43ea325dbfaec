//! A capture taken by tcpdump on `lo`, read back as UDP datagrams. The capture is the
//! independent witness that RTP really reached a peer.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One captured UDP datagram.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Source.
    pub src: SocketAddr,
    /// Destination.
    pub dst: SocketAddr,
    /// UDP payload.
    pub payload: Vec<u8>,
}

impl Datagram {
    /// RTP payload type, if this looks like RTP.
    pub fn rtp_payload_type(&self) -> Option<u8> {
        if self.payload.len() >= 12 && self.payload[0] >> 6 == 2 {
            Some(self.payload[1] & 0x7f)
        } else {
            None
        }
    }
}

/// A running tcpdump.
pub struct Capture {
    child: Child,
    /// The pcap file.
    pub file: PathBuf,
}

impl Capture {
    /// Captures UDP on `lo` matching `filter` (a pcap filter) into `dir/capture.pcap`.
    pub fn start(dir: &Path, filter: &str) -> Capture {
        let file = dir.join("capture.pcap");
        let child = Command::new("tcpdump")
            .args(["-i", "lo", "-U", "-n", "-s", "256", "-w"])
            .arg(&file)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump is installed");
        // tcpdump needs a moment to open the interface; wait for its file to appear.
        for _ in 0..50 {
            if file.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(300));
        Capture { child, file }
    }

    /// Stops capturing and parses the file.
    pub fn finish(mut self) -> Vec<Datagram> {
        std::thread::sleep(Duration::from_millis(300));
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let bytes = std::fs::read(&self.file).unwrap_or_default();
        parse(&bytes)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn u16_at(b: &[u8], i: usize, le: bool) -> Option<u16> {
    let s = b.get(i..i + 2)?;
    Some(if le {
        u16::from_le_bytes([s[0], s[1]])
    } else {
        u16::from_be_bytes([s[0], s[1]])
    })
}

fn u32_at(b: &[u8], i: usize, le: bool) -> Option<u32> {
    let s = b.get(i..i + 4)?;
    let a = [s[0], s[1], s[2], s[3]];
    Some(if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    })
}

/// Parses a classic pcap file (Ethernet, Linux cooked or raw IP link types), IPv4 UDP only.
pub fn parse(b: &[u8]) -> Vec<Datagram> {
    let mut out = Vec::new();
    let le = match b.get(0..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) | Some([0x4d, 0x3c, 0xb2, 0xa1]) => true,
        Some([0xa1, 0xb2, 0xc3, 0xd4]) | Some([0xa1, 0xb2, 0x3c, 0x4d]) => false,
        _ => return out,
    };
    let Some(link) = u32_at(b, 20, le) else {
        return out;
    };
    let l2 = match link {
        1 => 14,
        113 => 16,
        101 | 228 => 0,
        _ => return out,
    };
    let mut i = 24;
    while let (Some(incl), true) = (u32_at(b, i + 8, le), i + 16 <= b.len()) {
        let start = i + 16;
        let end = start + incl as usize;
        let Some(frame) = b.get(start..end) else {
            break;
        };
        i = end;
        let Some(ip) = frame.get(l2..) else { continue };
        if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 17 {
            continue;
        }
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let src_ip = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let dst_ip = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        let Some(udp) = ip.get(ihl..) else { continue };
        let (Some(sp), Some(dp)) = (u16_at(udp, 0, false), u16_at(udp, 2, false)) else {
            continue;
        };
        out.push(Datagram {
            src: SocketAddr::V4(SocketAddrV4::new(src_ip, sp)),
            dst: SocketAddr::V4(SocketAddrV4::new(dst_ip, dp)),
            payload: udp.get(8..).unwrap_or_default().to_vec(),
        });
    }
    out
}

/// Writes a pcap (Ethernet, IPv4, UDP 127.0.0.1:6000 -> 127.0.0.1:6002) of RTP packets that
/// press `keys` as RFC 4733 events (payload type 101; 100 ms each, 200 ms apart), for SIPp's
/// `play_pcap_audio`, which sends the UDP payloads with the capture's timing.
pub fn write_keys_pcap(path: &Path, keys: &str) {
    let mut sender = media_core::DtmfSender::new(101, 0x4b45_5953, 1000);
    let mut out = Vec::new();
    // Global header: magic, version 2.4, zone 0, accuracy 0, snaplen, link type 1 (Ethernet).
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut timestamp: u32 = 160_000;
    let mut start = Duration::from_secs(1_700_000_000);
    for key in keys.chars() {
        let packets = sender
            .digit_packets(key, timestamp, 800)
            .unwrap_or_else(|e| panic!("key {key:?}: {e}"));
        for p in packets {
            let at = start + p.offset;
            let frame = udp_frame(&p.bytes);
            out.extend_from_slice(&(at.as_secs() as u32).to_le_bytes());
            out.extend_from_slice(&at.subsec_micros().to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&frame);
        }
        start += Duration::from_millis(300);
        timestamp = timestamp.wrapping_add(2400);
    }
    std::fs::write(path, out).unwrap();
}

/// An Ethernet frame carrying `payload` in UDP over IPv4 on loopback addresses.
fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let ip_len = 20 + udp_len;
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&(ip_len as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    ip.extend_from_slice(&Ipv4Addr::LOCALHOST.octets());
    ip.extend_from_slice(&Ipv4Addr::LOCALHOST.octets());
    let sum = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&6000u16.to_be_bytes());
    f.extend_from_slice(&6002u16.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}
