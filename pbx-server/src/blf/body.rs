//! What a BLF key shows: a lamp change turned into the dialog shown for an extension, and
//! that dialog written as an RFC 4235 `application/dialog-info+xml` document.

use crate::directory::Directory;
use crate::lamps::LampChange;
use shared_protocol::{Direction, Lamp, Party};

/// State of the one dialog shown for an extension (RFC 4235 §4.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DialogState {
    /// Ringing (either way).
    Early,
    /// In conversation, or holding.
    Confirmed,
}

/// The dialog a BLF key shows for an extension; no dialog (`None` where it is used) means
/// idle or unavailable: the key goes dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shown {
    /// The dialog id: the unique id of the call (the CTI's call id).
    pub(crate) id: String,
    /// Early or confirmed.
    pub(crate) state: DialogState,
    /// The extension put the call on hold (`+sip.rendering=no` on the local target).
    pub(crate) held: bool,
    /// Who placed the call, seen from the extension.
    pub(crate) direction: Option<Direction>,
    /// The other party, already masked for subscribers.
    pub(crate) remote: Option<Party>,
}

impl Shown {
    /// What a lamp change shows. Peers that are not extensions of the tenant are masked
    /// (`0612345xxx`), as the CTI masks them for users without the privacy right: every
    /// account may subscribe, so the BLF follows the narrower view.
    pub(crate) fn from_lamp(change: &LampChange, dir: &Directory) -> Option<Shown> {
        let (state, held) = match change.lamp {
            Lamp::Idle | Lamp::Unavailable => return None,
            Lamp::Ringing => (DialogState::Early, false),
            Lamp::Busy => (DialogState::Confirmed, false),
            Lamp::Hold => (DialogState::Confirmed, true),
        };
        let remote = change.peer.as_ref().map(|p| {
            if p.number.is_empty() || dir.extension(&p.number).is_some() {
                p.clone()
            } else {
                Party {
                    number: crate::cti::view::mask_number(&p.number),
                    name: p.name.clone(),
                }
            }
        });
        Some(Shown {
            id: change
                .call
                .clone()
                .unwrap_or_else(|| format!("{}-line", change.extension)),
            state,
            held,
            direction: change.direction,
            remote,
        })
    }
}

/// The full-state document for `extension`, whose address uses `host` (as the subscriber
/// wrote it in its Request-URI).
pub(crate) fn dialog_info(
    version: u32,
    extension: &str,
    host: &str,
    shown: Option<&Shown>,
) -> String {
    let entity = format!("sip:{}@{host}", escape(extension));
    let mut x = String::with_capacity(512);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"{version}\" \
         state=\"full\" entity=\"{entity}\">\n"
    ));
    if let Some(d) = shown {
        let direction = match d.direction {
            Some(Direction::Inbound) => " direction=\"recipient\"",
            Some(Direction::Outbound) => " direction=\"initiator\"",
            None => "",
        };
        let state = match d.state {
            DialogState::Early => "early",
            DialogState::Confirmed => "confirmed",
        };
        x.push_str(&format!(
            "  <dialog id=\"{}\"{direction}>\n    <state>{state}</state>\n",
            escape(&d.id)
        ));
        x.push_str(&format!(
            "    <local>\n      <identity>{entity}</identity>\n"
        ));
        if d.held {
            x.push_str(&format!(
                "      <target uri=\"{entity}\">\n        \
                 <param pname=\"+sip.rendering\" pvalue=\"no\"/>\n      </target>\n"
            ));
        } else {
            x.push_str(&format!("      <target uri=\"{entity}\"/>\n"));
        }
        x.push_str("    </local>\n");
        if let Some(p) = d.remote.as_ref().filter(|p| !p.number.is_empty()) {
            let uri = format!("sip:{}@{host}", escape(&p.number));
            let display = p
                .name
                .as_deref()
                .filter(|n| !n.is_empty())
                .map(|n| format!(" display=\"{}\"", escape(n)))
                .unwrap_or_default();
            x.push_str(&format!(
                "    <remote>\n      <identity{display}>{uri}</identity>\n      \
                 <target uri=\"{uri}\"/>\n    </remote>\n"
            ));
        }
        x.push_str("  </dialog>\n");
    }
    x.push_str("</dialog-info>\n");
    x
}

/// XML escaping for text and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_has_no_dialog_and_hold_has_rendering_no() {
        let idle = dialog_info(0, "202", "pbx.example", None);
        assert!(idle.contains("version=\"0\" state=\"full\" entity=\"sip:202@pbx.example\""));
        assert!(!idle.contains("<dialog "));
        let held = Shown {
            id: "1700000000.7".into(),
            state: DialogState::Confirmed,
            held: true,
            direction: Some(Direction::Outbound),
            remote: Some(Party {
                number: "203".into(),
                name: Some("Ann & <Bob>".into()),
            }),
        };
        let x = dialog_info(4, "202", "pbx.example", Some(&held));
        assert!(x.contains("<dialog id=\"1700000000.7\" direction=\"initiator\">"));
        assert!(x.contains("<state>confirmed</state>"));
        assert!(x.contains("<param pname=\"+sip.rendering\" pvalue=\"no\"/>"));
        assert!(x.contains(
            "<identity display=\"Ann &amp; &lt;Bob&gt;\">sip:203@pbx.example</identity>"
        ));
    }
}
