//! A TCP proxy a test can cut: live connections are shut down and, while paused, new ones are
//! closed at once. It shows how a client behaves when the network blinks.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The proxy.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    paused: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
    upstream: Arc<Mutex<SocketAddr>>,
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

impl Proxy {
    /// Forwards 127.0.0.1:<free port> to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let paused = Arc::new(AtomicBool::new(false));
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let upstream = Arc::new(Mutex::new(upstream));
        let (p, l, u) = (paused.clone(), live.clone(), upstream.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if p.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let to = *u.lock().unwrap();
                let Ok(server) = TcpStream::connect(to) else {
                    continue;
                };
                let mut held = l.lock().unwrap();
                held.push(client.try_clone().unwrap());
                held.push(server.try_clone().unwrap());
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || pump(client, server));
                std::thread::spawn(move || pump(s2, c2));
            }
        });
        Proxy {
            addr,
            paused,
            live,
            upstream,
        }
    }

    /// Shuts every live connection and refuses new ones until `resume`.
    pub fn cut(&self) {
        self.paused.store(true, Ordering::SeqCst);
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Forwards new connections to `upstream` from now on (a restarted server's new port).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap() = upstream;
    }

    /// Accepts connections again.
    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }
}
