//! Callers' voices and numbers are personal data: what the logs may show of them, and files
//! and folders that only the server's user may read (0600 and 0700).

use std::fs::{File, OpenOptions};
use std::path::Path;

/// A calling number as the line keeps it: visual separators (spaces, dashes, dots,
/// parentheses) removed, an international `00` prefix written `+`; anything else (a name,
/// `anonymous`) is kept as it is.
pub fn normalise_number(raw: &str) -> String {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let (plus, digits) = match compact.strip_prefix('+') {
        Some(d) => (true, d),
        None => match compact.strip_prefix("00") {
            Some(d) if !d.is_empty() => (true, d),
            _ => (false, compact.as_str()),
        },
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return raw.to_string();
    }
    if plus {
        format!("+{digits}")
    } else {
        digits.to_string()
    }
}

/// Whether a number can receive an SMS: E.164 (`+` and 8 to 15 digits, not starting with 0),
/// or a national number of 8 to 15 digits.
pub fn textable(number: &str) -> bool {
    let (intl, d) = match number.strip_prefix('+') {
        Some(d) => (true, d),
        None => (false, number),
    };
    (8..=15).contains(&d.len())
        && d.chars().all(|c| c.is_ascii_digit())
        && (!intl || !d.starts_with('0'))
}

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

/// Creates `path` for writing, only if it does not exist, readable by the owner only.
pub fn create_private(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).read(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Makes `dir` (and its parents) and closes it to others (0700).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Syncs a folder, so that a file made in it survives a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Makes `path` an empty file readable by the owner only, unless it exists (then it is
/// closed to others); for files a library opens by name afterwards (the SQLite store).
pub fn private_file(path: &Path) -> std::io::Result<()> {
    match create_private(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)?.permissions().mode();
                if mode & 0o077 != 0 {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
                }
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_and_judged() {
        assert_eq!(normalise_number("+966 50-000.0001"), "+966500000001");
        assert_eq!(normalise_number("00966500000001"), "+966500000001");
        assert_eq!(normalise_number("(050) 000 0001"), "0500000001");
        assert_eq!(normalise_number("anonymous"), "anonymous");
        assert!(textable("+966500000001") && textable("0500000001"));
        assert!(!textable("anonymous") && !textable("+0123456789") && !textable("1234"));
        assert!(!textable("+1234567890123456"), "over 15 digits");
    }

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
            "<sip:ev\\u{1b}[**********67@h>"
        );
    }
}
