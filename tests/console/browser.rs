//! A real headless Chromium for a test: `chromedriver` (Debian's `chromium-driver`) started on
//! a free loopback port, driven through WebDriver by `fantoccini`, quit and killed on drop.
//! Missing binaries fail the test with the command that installs them (never a silent skip).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long a page gets to show what a step expects (generous: two shared cores).
const PATIENCE: Duration = Duration::from_secs(20);
/// How often a condition is checked again while waiting (the browser has no signal to give).
const POLL: Duration = Duration::from_millis(50);

/// Only one Chromium at a time: the machine's cores are shared.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A browser session and the chromedriver behind it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn executable(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not installed; run scripts/setup (Debian's chromium and chromium-driver)")
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a `width`×`height` window.
    pub async fn open(width: u32, height: u32) -> Browser {
        Self::open_with(width, height, &[]).await
    }

    /// [`Browser::open`] with more Chromium flags.
    pub async fn open_with(width: u32, height: u32, flags: &[&str]) -> Browser {
        let turn = ONE_AT_A_TIME.lock().await;
        let chromium = executable("chromium");
        let port = free_port();
        let driver = Command::new(executable("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
        ]
        .into_iter()
        .chain(flags.iter().copied())
        .map(str::to_owned)
        .collect();
        args.push(format!("--window-size={width},{height}"));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        let started = Instant::now();
        let client = loop {
            // chromedriver speaks plain HTTP on loopback: no TLS stack needed.
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(err) if started.elapsed() < PATIENCE => {
                    let _ = err;
                    tokio::time::sleep(POLL).await;
                }
                Err(err) => panic!("chromedriver on port {port} did not start a session: {err}"),
            }
        };
        let browser = Browser {
            client,
            driver,
            _turn: turn,
        };
        browser.resize(width, height).await;
        browser
    }

    /// Makes the page's viewport `width`×`height`.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("the window resizes");
    }

    /// Ends the browser session (Chromium exits), then chromedriver on drop.
    pub async fn quit(self) {
        let _ = self.client.clone().close().await;
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page opens");
    }

    /// The element `css` once it is on the page.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("`{css}` never appeared: {e}"))
    }

    /// Waits until the text of `css` contains `expected`; returns the whole text.
    pub async fn wait_text(&self, css: &str, expected: &str) -> String {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < PATIENCE {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if text.contains(expected) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!("`{css}` never showed {expected:?}; it last showed {last:?}");
    }

    /// The visible text of `css` now.
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.expect("text")
    }

    /// Types `text` into the field `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.expect("the field clears");
        field.send_keys(text).await.expect("the field takes keys");
    }

    /// Clicks `css`.
    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_or(0, |all| all.len())
    }

    /// Runs `script` in the page (arguments as `arguments[i]`) and returns its value.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("the script failed: {e}"))
    }

    /// A same-origin `fetch` made by the page (its cookie, nothing else unless `init` says):
    /// the status and body text.
    pub async fn fetch(&self, url: &str, init: Value) -> (u16, String) {
        let answer = self
            .client
            .execute_async(
                "const [url, init, done] = arguments;
                 fetch(url, init).then(async r => done([r.status, await r.text()]),
                                       e => done([0, String(e)]));",
                vec![json!(url), init],
            )
            .await
            .expect("the fetch runs");
        (
            answer[0].as_u64().unwrap_or(0) as u16,
            answer[1].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Writes the page as `target/console-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshot directory");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("the screenshot is written");
    }

    /// Signs in on `base`'s console with `key` and waits for the signed-in header.
    pub async fn sign_in(&self, base: &str, key: &str) {
        self.goto(&format!("{base}/console")).await;
        // By keyboard: Enter in the key field submits the form.
        self.fill("#key", &format!("{key}\u{E007}")).await;
        self.wait_for("#sign-out:not([hidden])").await;
    }
}
