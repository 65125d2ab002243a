//! Ticket numbers: a sequence number and a Damm check digit, so that any single mistyped digit
//! and any swap of two neighbours is caught before a lookup.

const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

fn interim(digits: &str) -> Option<u8> {
    let mut i = 0u8;
    for c in digits.chars() {
        let d = c.to_digit(10)? as usize;
        i = DAMM[i as usize][d];
    }
    Some(i)
}

/// The ticket number for sequence `n`: its digits and a Damm check digit.
pub fn ticket(n: u64) -> String {
    let s = n.to_string();
    let check = interim(&s).unwrap_or(0);
    format!("{s}{check}")
}

/// Whether a keyed ticket number is well formed (digits only, check digit right).
pub fn valid(t: &str) -> bool {
    t.len() >= 2 && interim(t) == Some(0)
}

/// The sequence number inside a valid ticket.
pub fn sequence(t: &str) -> Option<u64> {
    if !valid(t) {
        return None;
    }
    t[..t.len() - 1].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_value_and_round_trip() {
        // The textbook Damm example: 572 → check digit 4.
        assert_eq!(ticket(572), "5724");
        assert!(valid("5724"));
        for n in [100_000, 100_001, 123_456, 999_999] {
            let t = ticket(n);
            assert!(valid(&t));
            assert_eq!(sequence(&t), Some(n));
        }
    }

    #[test]
    fn catches_every_single_error_and_neighbour_swap() {
        for n in (100_000..200_000).step_by(997) {
            let t: Vec<char> = ticket(n).chars().collect();
            for i in 0..t.len() {
                for d in '0'..='9' {
                    if d != t[i] {
                        let mut u = t.clone();
                        u[i] = d;
                        assert!(!valid(&u.iter().collect::<String>()));
                    }
                }
                if i + 1 < t.len() && t[i] != t[i + 1] {
                    let mut u = t.clone();
                    u.swap(i, i + 1);
                    assert!(!valid(&u.iter().collect::<String>()));
                }
            }
        }
        assert!(!valid("12a4"));
        assert!(!valid(""));
    }
}
