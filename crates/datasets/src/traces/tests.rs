use std::path::Path;

use super::*;

fn p(name: &str) -> &Path {
    Path::new(name)
}

#[test]
fn two_column_counts_with_gaps_zeros_and_jittered_stamps() {
    // Column names vary; a missing 10:10 row, an empty cell, a NaN, a zero, stamps a few
    // seconds off the grid.
    let text = "time,requests\n\
                2024-03-01 10:00:07,5\n\
                2024-03-01 10:05:05,0\n\
                2024-03-01 10:15:06,7.5\n\
                2024-03-01 10:20:04,\n\
                2024-03-01 10:25:09,NaN\n\
                2024-03-01 10:30:07,3\n";
    let t = parse(p("shop.csv"), text).unwrap();
    assert_eq!(t.format, TraceFormat::TimestampCount);
    let s = &t.series[0];
    assert_eq!(s.name, "shop");
    assert_eq!(s.interval_ms, 300_000);
    assert_eq!(s.counts, vec![Some(5.0), Some(0.0), None, Some(7.5), None, None, Some(3.0)]);
    assert_eq!(s.gaps(), 3);
    assert!((s.mean_count() - 15.5 / 4.0).abs() < 1e-12);
    assert!((s.mean_per_minute() - 15.5 / 4.0 / 5.0).abs() < 1e-12);
    assert_eq!(s.filled(), vec![5.0, 0.0, 3.75, 7.5, 6.0, 4.5, 3.0]);
}

#[test]
fn azure_functions_wide_format_gives_one_series_per_function() {
    let text = "HashOwner,HashApp,HashFunction,Trigger,600,601,602,604\n\
                o1,a1,f1,http,3,0,1,2\n\
                o1,a1,f2,timer,1,,1,1\n";
    let t = parse(p("azure.csv"), text).unwrap();
    assert_eq!(t.format, TraceFormat::AzureFunctions2019);
    assert_eq!(t.series.len(), 2);
    let f1 = &t.series[0];
    assert_eq!((f1.name.as_str(), f1.trigger.as_deref()), ("f1", Some("http")));
    assert_eq!(f1.start_ms, 600 * 60_000);
    assert_eq!(f1.counts, vec![Some(3.0), Some(0.0), Some(1.0), None, Some(2.0)], "minute 603 is absent: a gap");
    assert_eq!(t.series[1].counts[1], None);
}

#[test]
fn request_logs_keep_exact_timestamps_and_count_per_minute() {
    let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                2023-11-16 18:15:46.5,374,44\n\
                2023-11-16 18:15:50.9951690,396,109\n\
                2023-11-16 18:17:01,1,1\n";
    let t = parse(p("llm.csv"), text).unwrap();
    assert_eq!(t.format, TraceFormat::RequestLog);
    let stamps = t.timestamps_ms.as_ref().unwrap();
    assert_eq!(stamps.len(), 3);
    assert_eq!(stamps[1] - stamps[0], 4_495);
    assert_eq!(t.series[0].counts, vec![Some(2.0), Some(0.0), Some(1.0)]);
    assert_eq!(t.series[0].interval_ms, 60_000);
}

#[test]
fn malformed_files_name_the_file_the_line_and_the_problem() {
    for (text, line, needle) in [
        ("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,lots\n", Some(3), "not a number"),
        ("timestamp,value\n2024-01-01 00:05:00,1\n2024-01-01 00:00:00,2\n", Some(3), "not after"),
        ("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,-4\n", Some(3), "≥ 0"),
        ("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,1,9\n", Some(3), "2 columns"),
        ("timestamp,value\nyesterday,1\n", Some(2), "timestamp"),
        ("a,b,c\n2024-01-01 00:00:00,1,2\n2024-13-01 00:00:00,1,2\n", Some(3), "calendar"),
        ("HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,1\n", Some(2), "columns"),
        ("HashOwner,HashApp,HashFunction,Trigger,1,x\n", Some(1), "minute"),
        ("timestamp,value\n", Some(1), "no data rows"),
        ("", None, "empty"),
    ] {
        let e = parse(p("bad.csv"), text).unwrap_err();
        assert_eq!(e.line, line, "{text:?}: {e}");
        let msg = e.to_string();
        assert!(msg.starts_with("bad.csv") && msg.contains(needle), "{text:?}: {msg}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let e = load("no/such/trace.csv").unwrap_err().to_string();
    assert!(e.contains("no/such/trace.csv") && e.contains("cannot read"), "{e}");
}

#[test]
fn load_dir_reads_every_csv_of_a_folder() {
    let dir = std::env::temp_dir().join(format!("autopilot-traces-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("b.csv"), "t,v\n2024-01-01T00:00Z,1\n2024-01-01T00:01Z,2\n").unwrap();
    std::fs::write(dir.join("a.CSV"), "t,id\n2024-01-01T00:00:01Z,x\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "not a trace").unwrap();
    let traces = load_dir(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0].format, TraceFormat::RequestLog);
    assert_eq!(traces[1].series[0].counts, vec![Some(1.0), Some(2.0)]);
}

/// The shipped public traces, when ../shared/data is present: facts from data/README.md.
#[test]
fn real_traces_when_present() {
    let dir = autopilot_testkit::workspace_root().join(crate::data_dir::DEFAULT_DATA_DIR).join("traces");
    if !dir.is_dir() {
        eprintln!("SKIPPED real_traces_when_present: {} is absent", dir.display());
        return;
    }
    let traces = load_dir(&dir).unwrap();
    let find = |stem: &str| traces.iter().find(|t| t.path.file_stem().unwrap() == stem).unwrap();
    let elb = &find("elb_request_count_8c0756").series[0];
    assert_eq!((elb.interval_ms, elb.gaps(), elb.len()), (300_000, 8, 4_040), "14 days at 5 min, 8 missing points");
    let azure = find("azure_functions_2019_100fn_8h_invocations");
    assert_eq!(azure.format, TraceFormat::AzureFunctions2019);
    assert_eq!(azure.series.len(), 100);
    assert_eq!(azure.series.iter().filter(|s| s.trigger.as_deref() == Some("timer")).count(), 44);
    assert!(azure.series.iter().all(|s| s.len() == 480 && s.gaps() == 0));
    let llm = find("AzureLLMInferenceTrace_conv");
    assert_eq!(llm.format, TraceFormat::RequestLog);
    assert_eq!(llm.timestamps_ms.as_ref().unwrap().len(), 19_366);
    let taxi = &find("nyc_taxi").series[0];
    assert_eq!((taxi.interval_ms, taxi.gaps()), (1_800_000, 0));
}
