//! Reading what a BLF subscriber saw: the NOTIFYs in a SIPp message log (`-trace_msg
//! -message_file <path>`) as (extension, state) pairs named like the CTI lamps, so a test
//! can hold the BLF next to the CTI stream.

/// One NOTIFY a subscriber received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// Call-ID of the subscription.
    pub call_id: String,
    /// CSeq number (retransmissions share it).
    pub cseq: u32,
    /// `Subscription-State` value (`active;expires=600`, `terminated;reason=timeout`).
    pub subscription_state: String,
    /// The watched extension (user part of the document's `entity`).
    pub extension: String,
    /// The document's `version`.
    pub version: u32,
    /// What the key shows, with the CTI lamp names: `idle`, `ringing`, `busy` or `hold`
    /// (the BLF cannot tell `unavailable` from `idle`; see [`as_blf_sees`]).
    pub state: String,
    /// `direction` of the dialog (`recipient`, `initiator`), when there is one.
    pub direction: Option<String>,
    /// The remote identity URI, when there is one.
    pub remote: Option<String>,
    /// The whole body.
    pub body: String,
}

/// Every NOTIFY received in a SIPp message log, in order, retransmissions left out.
pub fn notifies(message_log: &str) -> Vec<Notify> {
    let mut out: Vec<Notify> = Vec::new();
    for entry in message_log.split("\n----------------------------------------------- ") {
        let Some((banner, rest)) = entry.split_once('\n') else {
            continue;
        };
        let banner_and_rest = format!("{banner}\n{rest}");
        if !banner_and_rest.contains("message received") {
            continue;
        }
        let Some(start) = banner_and_rest.find("NOTIFY ") else {
            continue;
        };
        let msg = &banner_and_rest[start..];
        if let Some(n) = parse_notify(msg) {
            if !out
                .iter()
                .any(|o| o.call_id == n.call_id && o.cseq == n.cseq)
            {
                out.push(n);
            }
        }
    }
    out
}

/// The (extension, state) pairs of `notifies`, for comparing with CTI lamps.
pub fn states(notifies: &[Notify]) -> Vec<(String, String)> {
    notifies
        .iter()
        .map(|n| (n.extension.clone(), n.state.clone()))
        .collect()
}

/// A CTI lamp sequence as a BLF subscriber sees it: `unavailable` shows as `idle`, and a
/// change that shows the same as before sends no NOTIFY (consecutive repeats collapse).
pub fn as_blf_sees<'a>(lamps: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for lamp in lamps {
        let shown = if lamp == "unavailable" { "idle" } else { lamp };
        if out.last().map(String::as_str) != Some(shown) {
            out.push(shown.to_string());
        }
    }
    out
}

fn parse_notify(msg: &str) -> Option<Notify> {
    let msg = msg.replace("\r\n", "\n");
    let (head, body) = msg.split_once("\n\n").unwrap_or((msg.as_str(), ""));
    let header = |name: &str| -> Option<String> {
        head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let body = match body.find("</dialog-info>") {
        Some(end) => body[..end + "</dialog-info>".len()].to_string(),
        None => body.trim_end().to_string(),
    };
    let info = &body[body.find("<dialog-info")?..];
    let cseq = header("CSeq")?.split_whitespace().next()?.parse().ok()?;
    let entity = attr(info, "entity")?;
    let extension = entity
        .trim_start_matches("sip:")
        .split('@')
        .next()?
        .to_string();
    let version = attr(info, "version")?.parse().ok()?;
    let dialog = info.find("<dialog ").map(|i| &info[i..]);
    let state = match dialog {
        None => "idle",
        Some(d) => match between(d, "<state>", "</state>").or_else(|| {
            // <state event="..."> forms
            d.find("<state")
                .and_then(|i| between(&d[i..], ">", "</state>"))
        }) {
            Some("early") => "ringing",
            Some("confirmed") if d.contains("pname=\"+sip.rendering\" pvalue=\"no\"") => "hold",
            Some("confirmed") => "busy",
            _ => "idle",
        },
    };
    Some(Notify {
        call_id: header("Call-ID")?,
        cseq,
        subscription_state: header("Subscription-State")?,
        extension,
        version,
        state: state.to_string(),
        direction: dialog.and_then(|d| attr(d, "direction")),
        remote: dialog
            .and_then(|d| d.find("<remote>").map(|i| &d[i..]))
            .and_then(|r| between(r, "<identity", "</identity>"))
            .and_then(|s| s.split_once('>').map(|(_, uri)| uri.to_string())),
        body,
    })
}

/// The value of the first `name="..."` attribute in `s`.
fn attr(s: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = s.find(&key)? + key.len();
    let end = s[i..].find('"')?;
    Some(s[i..i + end].to_string())
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let i = s.find(open)? + open.len();
    let end = s[i..].find(close)?;
    Some(&s[i..i + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
----------------------------------------------- 2026-11-23 08:01:26.351\n\
UDP message received [646] bytes :\n\
\n\
NOTIFY sip:204@127.0.0.1:26001 SIP/2.0\n\
Call-ID: 1-1@127.0.0.1\n\
CSeq: 2 NOTIFY\n\
Subscription-State: active;expires=599\n\
Content-Type: application/dialog-info+xml\n\
Content-Length: 312\n\
\n\
<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"full\" entity=\"sip:202@127.0.0.1:25060\">\n\
  <dialog id=\"17.1\" direction=\"recipient\">\n\
    <state>early</state>\n\
    <remote>\n\
      <identity display=\"C\">sip:203@127.0.0.1:25060</identity>\n\
    </remote>\n\
  </dialog>\n\
</dialog-info>\n\
\n\
----------------------------------------------- 2026-11-23 08:01:26.352\n\
UDP message sent (241 bytes):\n\
\n\
SIP/2.0 200 OK\n\
CSeq: 2 NOTIFY\n\
Content-Length: 0\n";

    #[test]
    fn reads_a_notify_from_a_sipp_log() {
        let n = notifies(LOG);
        assert_eq!(n.len(), 1, "{n:#?}");
        assert_eq!(states(&n), [("202".to_string(), "ringing".to_string())]);
        assert_eq!(n[0].version, 1);
        assert_eq!(n[0].direction.as_deref(), Some("recipient"));
        assert_eq!(n[0].remote.as_deref(), Some("sip:203@127.0.0.1:25060"));
        assert_eq!(n[0].subscription_state, "active;expires=599");
        assert_eq!(
            as_blf_sees(["unavailable", "idle", "ringing", "busy", "idle"]),
            ["idle", "ringing", "busy", "idle"]
        );
    }
}
