//! Headless Chromium, driven over the DevTools protocol: enough to load the
//! live page, read what it shows and take a screenshot. The browser test
//! and the event-to-screen benchmark use it (feature `browser`).
//!
//! The browser is Debian's `chromium` (or the program named by
//! `HALE_CHROMIUM`), started with a fresh profile in a temporary directory,
//! listening for the protocol on a loopback port it chooses itself. It is
//! killed, and its profile removed, when the [`Chromium`] is dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long the browser may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long one protocol command may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// Driving the browser failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// No Chromium on this machine.
    #[error(
        "chromium is not installed (looked for $HALE_CHROMIUM, chromium, chromium-browser, google-chrome)"
    )]
    NotInstalled,
    /// Starting it, or talking to it, failed.
    #[error("chromium: {0}")]
    Protocol(String),
    /// A script threw, or a condition did not come true in time.
    #[error("page: {0}")]
    Page(String),
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A headless Chromium and its protocol connection.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), hale_ops::browser::BrowserError> {
/// use std::time::Duration;
/// use hale_ops::browser::Chromium;
///
/// let browser = Chromium::launch().await?;
/// let page = browser.open("http://127.0.0.1:9090/").await?;
/// page.wait_for("window.hale && window.hale.snapshots > 0", Duration::from_secs(10)).await?;
/// page.screenshot("live-tree.png".as_ref()).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Chromium {
    process: Child,
    profile: PathBuf,
    socket: Mutex<Connection>,
}

#[derive(Debug)]
struct Connection {
    socket: Socket,
    next_id: u64,
}

/// One tab.
#[derive(Debug)]
pub struct Page<'a> {
    browser: &'a Chromium,
    session: String,
}

impl Chromium {
    /// The browser program to run, if one is installed.
    pub fn find() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("HALE_CHROMIUM") {
            let path = PathBuf::from(path);
            return path.is_file().then_some(path);
        }
        let path = std::env::var_os("PATH")?;
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
            .find(|candidate| candidate.is_file())
    }

    /// Starts a headless browser with a fresh profile.
    ///
    /// # Errors
    /// [`BrowserError::NotInstalled`] without Chromium;
    /// [`BrowserError::Protocol`] if it does not start listening in time.
    ///
    /// # Cancel safety
    /// Cancel safe: a browser started by a dropped call is killed with it.
    pub async fn launch() -> Result<Self, BrowserError> {
        let program = Self::find().ok_or(BrowserError::NotInstalled)?;
        let profile = std::env::temp_dir().join(format!(
            "hale-chromium-{}-{}",
            std::process::id(),
            crate::ops::unix_millis()
        ));
        std::fs::create_dir_all(&profile).map_err(|error| protocol("create its profile directory", error))?;
        let process = Command::new(&program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--window-size=1280,720",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| protocol(&format!("start {}", program.display()), error))?;
        let endpoint = match wait_for_endpoint(&profile).await {
            Ok(endpoint) => endpoint,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&profile);
                return Err(error);
            }
        };
        let (socket, _) = tokio_tungstenite::connect_async(endpoint.as_str())
            .await
            .map_err(|error| protocol("connect to its DevTools endpoint", error))?;
        Ok(Self {
            process,
            profile,
            socket: Mutex::new(Connection { socket, next_id: 1 }),
        })
    }

    /// Opens a new tab at `url` and waits for its load event.
    ///
    /// # Errors
    /// [`BrowserError::Protocol`] if the browser refuses.
    ///
    /// # Cancel safety
    /// Not cancel safe: a dropped call may leave a command's answer unread,
    /// and the next command then fails.
    pub async fn open(&self, url: &str) -> Result<Page<'_>, BrowserError> {
        let target = self
            .command(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await?;
        let target_id = target["targetId"].as_str().unwrap_or_default().to_owned();
        let attached = self
            .command(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol("no session id for the new tab".to_owned()))?
            .to_owned();
        let page = Page {
            browser: self,
            session,
        };
        page.command("Page.enable", json!({})).await?;
        let navigated = page.command("Page.navigate", json!({ "url": url })).await?;
        if let Some(error) = navigated["errorText"].as_str() {
            return Err(BrowserError::Page(format!("cannot load {url}: {error}")));
        }
        page.wait_for("document.readyState === 'complete'", COMMAND_LIMIT)
            .await?;
        Ok(page)
    }

    async fn command(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, BrowserError> {
        let mut connection = self.socket.lock().await;
        let id = connection.next_id;
        connection.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = Value::String(session.to_owned());
        }
        connection
            .socket
            .send(Message::text(message.to_string()))
            .await
            .map_err(|error| protocol(method, error))?;
        let answer = tokio::time::timeout(COMMAND_LIMIT, async {
            while let Some(frame) = connection.socket.next().await {
                let frame = frame.map_err(|error| protocol(method, error))?;
                let Message::Text(text) = frame else { continue };
                let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                // Events carry no id; answers to this command carry its id.
                if value["id"].as_u64() == Some(id) {
                    return Ok(value);
                }
            }
            Err(BrowserError::Protocol(format!("{method}: the connection closed")))
        })
        .await
        .map_err(|_| BrowserError::Protocol(format!("{method}: no answer within {COMMAND_LIMIT:?}")))??;
        if let Some(error) = answer.get("error") {
            return Err(BrowserError::Protocol(format!("{method}: {error}")));
        }
        Ok(answer["result"].clone())
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.process.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Page<'_> {
    async fn command(&self, method: &str, params: Value) -> Result<Value, BrowserError> {
        self.browser.command(Some(&self.session), method, params).await
    }

    /// Evaluates `expression` in the page and returns its value (awaiting
    /// it if it is a promise).
    ///
    /// # Errors
    /// [`BrowserError::Page`] if the script throws.
    ///
    /// # Cancel safety
    /// Not cancel safe (see [`Chromium::open`]).
    pub async fn evaluate(&self, expression: &str) -> Result<Value, BrowserError> {
        let answer = self
            .command(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        if let Some(exception) = answer.get("exceptionDetails") {
            return Err(BrowserError::Page(format!("`{expression}` threw: {exception}")));
        }
        Ok(answer["result"]["value"].clone())
    }

    /// Polls `condition` every 10 ms until it is truthy, for at most
    /// `limit`; returns its value.
    ///
    /// # Errors
    /// [`BrowserError::Page`] if it is still falsy after `limit`.
    ///
    /// # Cancel safety
    /// Not cancel safe (see [`Chromium::open`]).
    pub async fn wait_for(&self, condition: &str, limit: Duration) -> Result<Value, BrowserError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let value = self.evaluate(condition).await?;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(flag) => *flag,
                Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
                Value::String(text) => !text.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(value);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(BrowserError::Page(format!(
                    "`{condition}` not true within {limit:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Saves a PNG screenshot of the page's viewport to `path`.
    ///
    /// # Errors
    /// [`BrowserError::Protocol`] if the browser refuses or the file cannot
    /// be written.
    ///
    /// # Cancel safety
    /// Not cancel safe (see [`Chromium::open`]).
    pub async fn screenshot(&self, path: &Path) -> Result<(), BrowserError> {
        let shot = self
            .command("Page.captureScreenshot", json!({ "format": "png" }))
            .await?;
        let data = shot["data"].as_str().unwrap_or_default();
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|error| protocol("decode the screenshot", error))?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|error| protocol("create the screenshot's folder", error))?;
        }
        tokio::fs::write(path, png)
            .await
            .map_err(|error| protocol(&format!("write {}", path.display()), error))
    }
}

/// Reads the endpoint Chromium writes into its profile once it listens.
async fn wait_for_endpoint(profile: &Path) -> Result<String, BrowserError> {
    let file = profile.join("DevToolsActivePort");
    let deadline = tokio::time::Instant::now() + START_LIMIT;
    loop {
        if let Ok(text) = tokio::fs::read_to_string(&file).await {
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                return Ok(format!("ws://127.0.0.1:{}{}", port.trim(), path.trim()));
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BrowserError::Protocol(format!(
                "it did not start listening within {START_LIMIT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn protocol(what: &str, error: impl std::fmt::Display) -> BrowserError {
    BrowserError::Protocol(format!("{what}: {error}"))
}
