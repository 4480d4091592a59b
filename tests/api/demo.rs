//! `vtenrich demo` runs the whole service against the simulator with no key.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Kills the child when the test ends, pass or fail.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_demo_answers_a_single_lookup_with_a_full_result() {
    // Arrange: port 0, since 8080 may be taken on a CI machine; the demo prints its address.
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_vtenrich"))
            .args(["demo", "--listen", "127.0.0.1:0"])
            .env_remove("VTENRICH_VT_API_KEY")
            .env("VTENRICH_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("vtenrich demo starts"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (found, address) = tokio::sync::oneshot::channel();
    // Keep draining stdout (the demo logs there) after the address is found.
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let url = line
                .split_whitespace()
                .find(|w| w.starts_with("http://127.0.0.1:"))
                .map(|w| w.trim_end_matches(['.', ',']).to_owned());
            if let Some(tx) = url.and_then(|url| found.take().map(|tx| (tx, url))) {
                let _ = tx.0.send(tx.1);
            }
        }
    });
    let base = tokio::time::timeout(Duration::from_secs(30), address)
        .await
        .expect("the demo prints its address in time")
        .expect("the demo prints its address");

    // Act
    let mut body = serde_json::Value::Null;
    for _ in 0..50 {
        match reqwest::get(format!("{base}/v1/ip/8.8.8.8")).await {
            Ok(response) => {
                body = response.json().await.expect("JSON");
                break;
            }
            Err(err) => eprintln!("{base}: {err:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Assert
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["observable"], "8.8.8.8");
    assert_eq!(body["network"]["asn"], 15169);
    assert_eq!(body["geo"]["country"]["name"], "United States of America");
    assert!(body["reputation"]["verdict"].is_string(), "{body}");
    drop(child);
}
