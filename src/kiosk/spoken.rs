//! Text as the kiosk reads it aloud: dates, times and amounts written out the way a person
//! says them ("ngày 10 tháng 12 năm 2026", "10 December 2026", "9 giờ 30", "150000 đồng"),
//! so the speech engine does not read "10/12/2026" as a string of bare numbers or "150.000"
//! as "one hundred fifty point zero". Pure, so each phrase is unit-tested.

use std::sync::OnceLock;

use regex::{Captures, Regex};

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn date_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // dd/mm/yyyy, or yyyy-mm-dd.
    RE.get_or_init(|| {
        Regex::new(r"\b(?:(\d{1,2})/(\d{1,2})/(\d{4})|(\d{4})-(\d{2})-(\d{2}))\b")
            .expect("date pattern")
    })
}

fn time_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\b(\d{1,2}):(\d{2})\b").expect("time pattern"))
}

fn amount_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Thousands grouped with dots (Vietnamese) or commas (English): 150.000 / 1,250,000.
    RE.get_or_init(|| Regex::new(r"\b\d{1,3}(?:[.,]\d{3})+\b").expect("amount pattern"))
}

/// `text` as it should be spoken in Vietnamese (`en = false`) or English.
pub fn for_speech(text: &str, en: bool) -> String {
    let dated = date_re().replace_all(text, |c: &Captures| {
        let n = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
        let (d, m, y) = match (n(1), n(2), n(3)) {
            (Some(d), Some(m), Some(y)) => (d, m, y),
            _ => match (n(6), n(5), n(4)) {
                (Some(d), Some(m), Some(y)) => (d, m, y),
                _ => return c[0].to_string(),
            },
        };
        if !(1..=31).contains(&d) || !(1..=12).contains(&m) {
            return c[0].to_string();
        }
        if en {
            format!("{d} {} {y}", MONTHS_EN[(m - 1) as usize])
        } else {
            format!("ngày {d} tháng {m} năm {y}")
        }
    });
    let timed = time_re().replace_all(&dated, |c: &Captures| {
        let (h, m): (u32, u32) = (c[1].parse().unwrap_or(99), c[2].parse().unwrap_or(99));
        if h > 23 || m > 59 {
            return c[0].to_string();
        }
        match (en, m) {
            (false, 0) => format!("{h} giờ"),
            (false, m) => format!("{h} giờ {m} phút"),
            (true, 0) => format!("{h} o'clock"),
            (true, m) => format!("{h} {m:02}"),
        }
    });
    amount_re()
        .replace_all(&timed, |c: &Captures| c[0].replace(['.', ','], ""))
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::for_speech;

    #[test]
    fn dates_are_said_in_words() {
        assert_eq!(
            for_speech("Hẹn trả kết quả: 10/12/2026.", false),
            "Hẹn trả kết quả: ngày 10 tháng 12 năm 2026."
        );
        assert_eq!(
            for_speech("Hẹn trả kết quả: 05/01/2027.", false),
            "Hẹn trả kết quả: ngày 5 tháng 1 năm 2027."
        );
        assert_eq!(
            for_speech("Result due: 10/12/2026.", true),
            "Result due: 10 December 2026."
        );
        assert_eq!(
            for_speech("Hẹn lại 2026-12-11", false),
            "Hẹn lại ngày 11 tháng 12 năm 2026"
        );
        // Not a date: left alone.
        assert_eq!(for_speech("Mẫu 45/99/2026", false), "Mẫu 45/99/2026");
    }

    #[test]
    fn times_and_amounts_are_said_in_words() {
        assert_eq!(
            for_speech("Mời đến lúc 9:30 hoặc 14:00.", false),
            "Mời đến lúc 9 giờ 30 phút hoặc 14 giờ."
        );
        assert_eq!(for_speech("Come at 9:05.", true), "Come at 9 05.");
        assert_eq!(
            for_speech("Nộp lệ phí 150.000 đồng.", false),
            "Nộp lệ phí 150000 đồng."
        );
        assert_eq!(for_speech("Pay 1,250,000 dong.", true), "Pay 1250000 dong.");
        assert_eq!(
            for_speech("Được tiếp nhận.", false),
            "Được tiếp nhận.",
            "plain words unchanged"
        );
    }
}
