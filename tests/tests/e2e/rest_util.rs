//! What the REST end-to-end tests share: calls through the seed-description client
//! (`tests/rest/seed_client.py`) against a running PBX, and SIPp helpers for accounts with
//! passwords of their own.

use centralino_e2e::{free_udp_port, Pbx, Sipp};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/rest/`.
pub(crate) fn rest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rest")
}

/// One API user of one PBX.
pub(crate) struct Api {
    base: String,
    user: String,
    password: String,
    domain: String,
}

impl Api {
    /// `user`/`password` of the `default` tenant at the PBX's HTTP address.
    pub(crate) fn new(http: SocketAddr, user: &str, password: &str) -> Api {
        Api::in_domain(http, user, password, "default")
    }

    /// A user of another tenant.
    pub(crate) fn in_domain(http: SocketAddr, user: &str, password: &str, domain: &str) -> Api {
        Api {
            base: format!("http://{http}"),
            user: user.into(),
            password: password.into(),
            domain: domain.into(),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("python3");
        c.arg(rest_dir().join("seed_client.py")).args([
            "--base",
            &self.base,
            "--user",
            &self.user,
            "--password",
            &self.password,
            "--domain",
            &self.domain,
        ]);
        c
    }

    /// One authenticated request; (status, JSON body or the text as a JSON string).
    pub(crate) fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut c = self.cmd();
        c.args([method.to_lowercase().as_str(), path]);
        let m = method.to_lowercase();
        if m == "post" || m == "put" {
            c.arg(body.map_or_else(|| "{}".to_string(), Value::to_string));
        }
        let out = c.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!(
                "client output is not JSON ({e}): {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v["status"].as_u64().unwrap_or(0) as u16, v["body"].clone())
    }

    /// A request that must answer `want`; returns the body.
    pub(crate) fn expect(
        &self,
        want: u16,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Value {
        let (status, v) = self.call(method, path, body);
        assert_eq!(status, want, "{method} {path} {body:?} -> {status} {v}");
        v
    }

    /// Saves a response body to `out`; returns (status, content type).
    pub(crate) fn download(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        out: &Path,
    ) -> (u16, String) {
        let mut c = self.cmd();
        c.args(["download", method, path]);
        if let Some(b) = body {
            c.arg(b.to_string());
        }
        c.arg("--out").arg(out);
        let o = c.output().unwrap();
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("download: {e}: {}", String::from_utf8_lossy(&o.stderr)));
        (
            v["status"].as_u64().unwrap_or(0) as u16,
            v["content_type"].as_str().unwrap_or("").to_string(),
        )
    }
}

/// Registers `user` with `password` from local port `port` (a SIPp UAS started later on that
/// port receives its calls).
pub(crate) fn register_with(pbx: &Pbx, user: &str, password: &str, port: u16) {
    Sipp::new("register.xml", pbx.sip)
        .args(&[
            "-p",
            &port.to_string(),
            "-s",
            user,
            "-au",
            user,
            "-ap",
            password,
            "-m",
            "1",
        ])
        .run_ok();
}

/// A SIPp caller from demo extension `from` (password `demo<from>`) to `to`.
pub(crate) fn caller(pbx: &Pbx, scenario: &str, from: &str, to: &str) -> Sipp {
    Sipp::new(scenario, pbx.sip).args(&[
        "-p",
        &free_udp_port().to_string(),
        "-mp",
        &centralino_e2e::free_media_port().to_string(),
        "-s",
        to,
        "-set",
        "caller",
        from,
        "-au",
        from,
        "-ap",
        &format!("demo{from}"),
        "-m",
        "1",
    ])
}
