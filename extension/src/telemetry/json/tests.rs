use super::*;

fn keys(json: &str) -> Result<Vec<String>, Malformed> {
    let mut out = Vec::new();
    Scan::new(json.as_bytes()).object(|k, s| {
        out.push(k.text()?.into_owned());
        s.skip()?;
        Ok(Walk::Next)
    })?;
    Ok(out)
}

#[test]
fn walks_members_and_skips_any_value() {
    let json =
        r#" { "a" : "x\"}]" , "b":{"c":[1,{"d":"]"}],"e":null}, "f":[[],{}], "g":-1.5e3, "h":true, "i\u0041":false } "#;
    assert_eq!(keys(json).unwrap(), ["a", "b", "f", "g", "h", "iA"]);
    assert_eq!(keys("{}").unwrap(), Vec::<String>::new());
}

#[test]
fn rejects_broken_structure_where_it_reads_or_skips() {
    for bad in [
        r#"{"a":1"#,
        r#"{"a" 1}"#,
        r#"{"a":1,}"#,
        r#"{"a":[1,2}"#,
        r#"{"a":"open}"#,
        r#"{"a":tru}"#,
        r#"{a:1}"#,
        "[1]",
        "",
    ] {
        assert_eq!(keys(bad), Err(Malformed), "{bad}");
    }
    let deep = format!(r#"{{"a":{}{}}}"#, "[".repeat(129), "]".repeat(129));
    assert_eq!(keys(&deep), Err(Malformed), "deeper than serde_json's limit");
    // Skipped values are only counted through, not checked: a bracket of the wrong kind
    // passes there (and fails where a value is read).
    assert!(keys(r#"{"a":{"b":1]}"#).is_ok());
    let ok = format!(r#"{{"a":{}{}}}"#, "[".repeat(128), "]".repeat(128));
    assert!(keys(&ok).is_ok());
}

#[test]
fn reads_strings_and_numbers_as_serde_would() {
    let mut s = Scan::new(br#""a\u00e9\n" "plain" null 12 1.25e2 -3 01.5"#);
    assert_eq!(s.string().unwrap().text().unwrap(), "a\u{e9}\n");
    let plain = s.string_or_null().unwrap().unwrap();
    assert!(plain.is("plain") && matches!(plain.text().unwrap(), Cow::Borrowed("plain")));
    assert!(!Scan::new(br#""pl\u0061in""#).string().unwrap().is("plain"), "escapes are not decoded by is()");
    assert_eq!(s.string_or_null().unwrap(), None);
    assert_eq!(s.u64().unwrap(), 12);
    assert_eq!(s.f64().unwrap(), 125.0);
    assert_eq!(s.clone().u64(), Err(Malformed), "an integer field does not take a sign");
    assert_eq!(s.f64().unwrap(), -3.0);
    assert!(s.f64().is_ok(), "leading zeros are read leniently");
    assert!(s.at_end());
    assert_eq!(Scan::new(b"1.5").u64(), Err(Malformed));
    assert_eq!(Scan::new(b"99999999999999999999999").u64(), Err(Malformed));
    assert_eq!(Scan::new(b"1e999").f64(), Err(Malformed));
}

#[test]
fn stopping_early_skips_the_rest_by_its_brackets_only() {
    let read = |json: &str| {
        let mut seen = Vec::new();
        let mut s = Scan::new(json.as_bytes());
        let walk = s.object(|k, s| {
            seen.push(k.text()?.into_owned());
            s.skip()?;
            Ok(if k.is("b") { Walk::Done } else { Walk::Next })
        });
        walk.map(|()| (seen, s.at_end()))
    };
    let ok = read(r#"{"a":1,"b":{"x":2},"c":[1,"]}"] , not json: at all, "d":{}} "#);
    assert_eq!(ok, Ok((vec!["a".to_owned(), "b".to_owned()], true)));
    assert_eq!(read(r#"{"a":1,"b":2,"c":[1}"#), Err(Malformed), "brackets must still balance");
    assert_eq!(read(r#"{"a":1,"b":2,"c":"unclosed}"#), Err(Malformed));
}

proptest::proptest! {
    /// Numbers read exactly as std (correctly rounded) reads them, fast path or not.
    #[test]
    fn numbers_read_as_std_reads_them(m in 0u64..100_000_000_000_000_000, point in 0usize..20, neg: bool, exp in proptest::option::of(-30i32..30)) {
        let digits = m.to_string();
        let text = match point {
            0 => digits.clone(),
            p if p < digits.len() => format!("{}.{}", &digits[..digits.len() - p], &digits[digits.len() - p..]),
            p => format!("0.{}{digits}", "0".repeat(p - digits.len())),
        };
        let text = format!("{}{text}{}", if neg { "-" } else { "" }, exp.map_or(String::new(), |e| format!("e{e}")));
        let expected: f64 = text.parse().unwrap();
        proptest::prop_assert_eq!(Scan::new(text.as_bytes()).f64().map(f64::to_bits), Ok(expected.to_bits()), "{}", text);
        if point == 0 && !neg && exp.is_none() {
            proptest::prop_assert_eq!(Scan::new(text.as_bytes()).u64(), Ok(m));
        }
    }
}

#[test]
fn finds_quotes_and_backslashes_at_every_offset() {
    for len in 0..40 {
        for at in 0..=len {
            for stop in [b'"', b'\\'] {
                let mut s = vec![b'a'; len];
                if at < len {
                    s[at] = stop;
                }
                let found = string_end(&s, 0);
                let expected = match stop {
                    b'"' => (at < len).then_some(at),
                    // A backslash escapes the next byte: no closing quote after it here.
                    _ => None,
                };
                assert_eq!(found, expected, "len {len} at {at}");
            }
        }
    }
    // Bytes next to the ones searched for (the word trick's borrows) are not matches.
    assert_eq!(string_end(b"!#[]\x01\x7f\xa2\xdc#\"", 0), Some(9));
    assert_eq!(string_end(&[0x21, 0x23, 0x5b, 0x5d, 0x01, 0xa2, 0xdc, 0x22], 0), Some(7));
    // Escaped quotes are passed over; an escaped backslash does not escape the quote.
    assert_eq!(string_end(br#"ab\"cd\\"x"#, 0), Some(8));
    assert_eq!(string_end(br#"\\\"\\""#, 0), Some(6));
    assert_eq!(string_end(br#"x\\\\"y"#, 0), Some(5));
}
