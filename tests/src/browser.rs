//! Headless Chromium through chromedriver, one of each per test.

use fantoccini::{Client, ClientBuilder, Locator};
use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBufGuard,
}

struct PathBufGuard(std::path::PathBuf);

impl Drop for PathBufGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = &self.profile;
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Browser {
    pub async fn start() -> anyhow::Result<Browser> {
        let port = free_port()?;
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting chromedriver (install chromium-driver): {e}"))?;
        let profile = std::env::temp_dir().join(format!("attest-chromium-{}", uuid::Uuid::new_v4()));
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--disable-quic", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let caps = caps.as_object().cloned().unwrap_or_default();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => anyhow::bail!("connecting to chromedriver: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Ok(Browser { client, driver, profile: PathBufGuard(profile) })
    }

    /// Opens `url` and waits until the WebAssembly has hydrated the page:
    /// clicks before that would be lost.
    pub async fn open(&self, url: &str) -> anyhow::Result<()> {
        self.client.goto(url).await?;
        self.wait_hydrated().await
    }

    pub async fn wait_hydrated(&self) -> anyhow::Result<()> {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("body[data-hydrated='true']"))
            .await
            .map_err(|e| anyhow::anyhow!("the page did not hydrate: {e}"))?;
        Ok(())
    }

    /// Waits for an element matching `css` whose text contains `text`.
    pub async fn wait_text(&self, css: &str, text: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            for el in self.client.find_all(Locator::Css(css)).await? {
                if let Ok(t) = el.text().await {
                    if t.contains(text) {
                        return Ok(t);
                    }
                }
            }
            if Instant::now() > deadline {
                let source = self.client.source().await.unwrap_or_default();
                anyhow::bail!("no `{css}` containing {text:?} within 15 s; page:\n{source}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the browser is at `path` (and the new page has hydrated).
    pub async fn wait_path(&self, path: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.client.current_url().await?;
            if url.path() == path {
                return self.wait_hydrated().await;
            }
            if Instant::now() > deadline {
                anyhow::bail!("expected to reach {path}, still at {url}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element `css` selects, waited for: a page may still be loading
    /// what a server function returns when a test reaches for it.
    async fn element(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        let found = self.client.wait().at_most(std::time::Duration::from_secs(15)).for_element(Locator::Css(css)).await;
        found.map_err(|e| anyhow::anyhow!("{css}: {e}"))
    }

    pub async fn fill(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let el = self.element(css).await?;
        el.clear().await?;
        el.send_keys(value).await?;
        Ok(())
    }

    /// Picks the option with `value` in a select, as a person would.
    pub async fn select(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.element(css).await?.select_by_value(value).await?;
        Ok(())
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.element(css).await?.click().await?;
        Ok(())
    }

    pub async fn sign_in(&self, base: &str, name: &str, password: &str) -> anyhow::Result<()> {
        self.open(&format!("{base}/signin")).await?;
        self.fill("#username", name).await?;
        self.fill("#password", password).await?;
        self.click("form[data-testid='signin-form'] button[type='submit']").await
    }
}

/// chromedriver's log of the page's console (errors, CSP violations
/// included): `POST /session/{id}/se/log`, which W3C WebDriver lacks.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type": "browser"}"#.to_string()))
    }
}

impl Browser {
    /// The console errors (level SEVERE) logged since the last call.
    pub async fn console_errors(&self) -> anyhow::Result<Vec<String>> {
        let entries = self.client.issue_cmd(BrowserLog).await?;
        Ok(entries
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Resizes the window to `width` CSS pixels wide.
    pub async fn set_width(&self, width: u32) -> anyhow::Result<()> {
        self.client.set_window_size(width, 900).await?;
        Ok(())
    }

    /// How far the page is wider than the window, in CSS pixels (0: it fits).
    pub async fn overflow(&self) -> anyhow::Result<i64> {
        let v = self
            .client
            .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
            .await?;
        Ok(v.as_i64().unwrap_or_default())
    }
}
