//! Ordered, case-insensitive SIP header list.

/// Long header names for the RFC 3261 §7.3.3 compact forms.
const COMPACT: &[(&str, &str)] = &[
    ("i", "Call-ID"),
    ("m", "Contact"),
    ("e", "Content-Encoding"),
    ("l", "Content-Length"),
    ("c", "Content-Type"),
    ("f", "From"),
    ("s", "Subject"),
    ("k", "Supported"),
    ("t", "To"),
    ("v", "Via"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("b", "Referred-By"),
    ("u", "Allow-Events"),
];

/// The canonical spelling of a header name: compact forms expanded, well-known names in
/// their usual case, others as received.
pub fn canonical_name(name: &str) -> String {
    let name = name.trim();
    for (short, long) in COMPACT {
        if name.eq_ignore_ascii_case(short) || name.eq_ignore_ascii_case(long) {
            return (*long).to_string();
        }
    }
    const KNOWN: &[&str] = &[
        "CSeq",
        "Max-Forwards",
        "Expires",
        "Min-Expires",
        "User-Agent",
        "Server",
        "Allow",
        "WWW-Authenticate",
        "Authorization",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Record-Route",
        "Route",
        "Require",
        "Unsupported",
        "Retry-After",
        "Reason",
        "Accept",
    ];
    for known in KNOWN {
        if name.eq_ignore_ascii_case(known) {
            return (*known).to_string();
        }
    }
    name.to_string()
}

/// Header fields in received order. Names are stored canonically, so lookups are by the
/// long form and ignore case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Appends a header at the end.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((canonical_name(name), value.into()));
    }

    /// Inserts a header before every other (used for our own Via).
    pub fn prepend(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(0, (canonical_name(name), value.into()));
    }

    /// First value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = canonical_name(name);
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, comma-separated lists split into their elements.
    pub fn get_all(&self, name: &str) -> Vec<String> {
        let name = canonical_name(name);
        self.0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&name))
            .flat_map(|(_, v)| split_list(v))
            .collect()
    }

    /// Every value of `name` as received, not split at commas (for headers whose values
    /// contain commas, such as Authorization and WWW-Authenticate).
    pub fn get_all_raw(&self, name: &str) -> Vec<&str> {
        let name = canonical_name(name);
        self.0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Replaces every `name` header with one holding `value`, keeping the first one's place.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let name = canonical_name(name);
        let value = value.into();
        match self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(pos) => {
                self.0[pos].1 = value;
                let mut i = 0;
                self.0.retain(|(n, _)| {
                    let keep = i <= pos || !n.eq_ignore_ascii_case(&name);
                    i += 1;
                    keep
                });
            }
            None => self.0.push((name, value)),
        }
    }

    /// Removes every `name` header.
    pub fn remove(&mut self, name: &str) {
        let name = canonical_name(name);
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
    }

    /// Removes the first element of a (possibly comma-joined) list header, e.g. the top Via.
    pub fn remove_first(&mut self, name: &str) {
        let name = canonical_name(name);
        if let Some(pos) = self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            let mut items = split_list(&self.0[pos].1);
            if items.len() <= 1 {
                self.0.remove(pos);
            } else {
                items.remove(0);
                self.0[pos].1 = items.join(", ");
            }
        }
    }

    /// Replaces the first element of a list header.
    pub fn replace_first(&mut self, name: &str, value: impl Into<String>) {
        let name = canonical_name(name);
        if let Some(pos) = self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            let mut items = split_list(&self.0[pos].1);
            if items.is_empty() {
                self.0[pos].1 = value.into();
            } else {
                items[0] = value.into();
                self.0[pos].1 = items.join(", ");
            }
        }
    }

    /// Iterates `(name, value)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is no header.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Splits a header value at top-level commas (not inside quotes or angle brackets).
pub fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    for ch in value.chars() {
        if escaped {
            escaped = false;
            cur.push(ch);
            continue;
        }
        match ch {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                let item = cur.trim();
                if !item.is_empty() {
                    out.push(item.to_string());
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    let item = cur.trim();
    if !item.is_empty() {
        out.push(item.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_names_expand_and_lookup_ignores_case() {
        let mut h = Headers::new();
        h.push(
            "v",
            "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2",
        );
        h.push("i", "abc");
        assert_eq!(h.get("call-id"), Some("abc"));
        assert_eq!(h.get_all("VIA").len(), 2);
        h.remove_first("Via");
        assert_eq!(h.get_all("Via"), vec!["SIP/2.0/UDP b;branch=z9hG4bK2"]);
    }

    #[test]
    fn split_respects_quotes_and_brackets() {
        let items = split_list("\"a, b\" <sip:x@y;p=1,2>, <sip:z@w>");
        assert_eq!(items, vec!["\"a, b\" <sip:x@y;p=1,2>", "<sip:z@w>"]);
    }

    #[test]
    fn set_replaces_all() {
        let mut h = Headers::new();
        h.push("Route", "a");
        h.push("X", "1");
        h.push("Route", "b");
        h.set("Route", "c");
        assert_eq!(h.get_all("Route"), vec!["c"]);
        assert_eq!(h.len(), 2);
    }
}
