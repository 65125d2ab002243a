//! Reading the parts of SIP and tel URIs that calls need.

/// The user part of a From or To header's URI (`sip:+9665…@host` → `+9665…`), or what the
/// URI holds when it has no user part (`<sip:127.0.0.1>` → `127.0.0.1`).
pub fn user_of(header: &str) -> String {
    let uri = super::dialog::uri(header).unwrap_or(header);
    let rest = uri
        .trim_start_matches("sips:")
        .trim_start_matches("sip:")
        .trim_start_matches("tel:");
    rest.split(['@', ';', '?'])
        .next()
        .unwrap_or(rest)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::user_of;

    #[test]
    fn caller_numbers_come_from_the_uri_user_part() {
        assert_eq!(
            user_of("\"Caller\" <sip:+966500000001@10.0.0.1:5060>;tag=abc"),
            "+966500000001"
        );
        assert_eq!(user_of("sip:940@127.0.0.1;tag=x"), "940");
        assert_eq!(user_of("<tel:+966112345678>"), "+966112345678");
        assert_eq!(user_of("<sip:127.0.0.1>"), "127.0.0.1");
    }
}
