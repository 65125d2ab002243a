//! Callers' numbers are personal data: what the logs may show of them.

/// A number as the logs show it: the first four and the last two characters kept, the rest
/// starred (`+966500000001` → `+966*******01`); short ones are starred whole.
pub fn mask_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len().max(3));
    }
    let n = chars.len();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < 4 || i >= n - 2 { *c } else { '*' })
        .collect()
}

/// A SIP From/To value as the logs show it: the user part of the URI masked
/// (`"Ali" <sip:+966500000001@10.0.0.2>;tag=1` → `<sip:+966*******01@10.0.0.2>`); the display
/// name is dropped (it is often the caller's name).
pub fn mask_address(value: &str) -> String {
    let uri = match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or(value),
    };
    let (scheme, rest) = uri.split_once(':').unwrap_or(("", uri));
    let masked = match rest.split_once('@') {
        Some((user, host)) => format!("{}@{host}", mask_number(user)),
        None => mask_number(rest),
    };
    let shown = if scheme.is_empty() {
        masked
    } else {
        format!("{scheme}:{masked}")
    };
    // Nothing from the wire reaches a log line raw: control characters are escaped.
    format!("<{}>", shown.escape_debug())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_only_their_ends() {
        assert_eq!(mask_number("+966500000001"), "+966*******01");
        assert_eq!(mask_number("0500000000"), "0500****00");
        assert_eq!(mask_number("1234"), "****");
        assert_eq!(mask_number(""), "***");
    }

    #[test]
    fn addresses_lose_the_name_and_the_middle_of_the_user() {
        assert_eq!(
            mask_address("\"Ali\" <sip:+966500000001@10.0.0.2>;tag=1"),
            "<sip:+966*******01@10.0.0.2>"
        );
        assert_eq!(mask_address("sip:0500000000@h;tag=2"), "<sip:0500****00@h>");
        assert_eq!(
            mask_address("<sip:ev\u{1b}[31mil1234567@h>"),
            "<sip:ev\\u{1b}[********67@h>"
        );
    }
}
