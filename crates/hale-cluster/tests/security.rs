//! The cookie, TLS, and frames that do not decode, across OS processes on
//! loopback.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use support::{NodeProc, cluster_event, free_ports, node_up};

/// A certificate authority and a certificate for "localhost" signed by it,
/// made now, written as PEM files into a fresh directory.
struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    fn make(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("hale-cluster-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        Self { dir }
    }

    fn args(&self) -> Vec<String> {
        let path = |name: &str| self.dir.join(name).display().to_string();
        vec!["--tls".into(), path("cert.pem"), path("key.pem"), path("ca.pem")]
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_wrong_cookie_is_refused_and_reported_on_both_sides() {
    let ports = free_ports(2);
    let mut a = NodeProc::start("a", ports[0], &[], &[]);
    let mut intruder = NodeProc::start_with_cookie(
        "intruder",
        ports[1],
        &[ports[0]],
        "not-the-cluster-cookie-at-all",
        &[],
    );
    a.wait_for("a refused handshake", cluster_event("handshake_refused"));
    intruder.wait_for(
        "the intruder's handshake refused",
        cluster_event("handshake_refused"),
    );
    // It keeps trying with backoff, and is refused every time.
    a.wait_for_new("another refusal", cluster_event("handshake_refused"));
    assert!(a.events("node_up").is_empty(), "{:#?}", a.seen);
    let peers = a.ask("peers");
    assert_eq!(peers, serde_json::json!([]));
}

#[test]
fn nodes_with_tls_and_the_cookie_run_remote_children() {
    let certificates = Certificates::make("ok");
    let tls = certificates.args();
    let ports = free_ports(2);
    let mut a = NodeProc::start("a", ports[0], &[], &as_strs(&tls));
    let mut b = NodeProc::start("b", ports[1], &[ports[0]], &as_strs(&tls));
    a.wait_for("b up over TLS", node_up("b"));
    b.wait_for("a up over TLS", node_up("a"));
    assert_eq!(a.ask("tree w1:sleeper:b"), "started");
    a.wait_for("w1 on b", |line| {
        line["event"] == "child_placed" && line["node"] == "b"
    });
}

#[test]
fn a_plain_node_cannot_join_a_tls_node() {
    let certificates = Certificates::make("plain");
    let tls = certificates.args();
    let ports = free_ports(2);
    let a = NodeProc::start("a", ports[0], &[], &as_strs(&tls));
    let mut plain = NodeProc::start("plain", ports[1], &[ports[0]], &[]);
    plain.wait_for("the plain node refused", cluster_event("handshake_refused"));
    plain.wait_for_new("refused again", cluster_event("handshake_refused"));
    assert!(a.events("node_up").is_empty());
    assert!(plain.events("node_up").is_empty());
}

#[test]
fn a_frame_that_does_not_decode_is_reported_and_closes_the_session() {
    let ports = free_ports(2);
    let mut a = NodeProc::start("a", ports[0], &[], &[]);
    let mut b = NodeProc::start("b", ports[1], &[ports[0]], &[]);
    a.wait_for("b up", node_up("b"));
    b.wait_for("a up", node_up("a"));
    assert_eq!(b.ask("garbage a"), "sent");
    let error = a.wait_for("a decode error", cluster_event("decode_error"));
    assert_eq!(error["peer"], "b");
    a.wait_for("the session closed at a", cluster_event("session_closed"));
    b.wait_for("the session closed at b", cluster_event("session_closed"));
    // b's connector reconnects, and both nodes keep working.
    assert_eq!(a.ask("tree w1:sleeper:b"), "started");
    a.wait_for("w1 on b after reconnecting", |line| {
        line["event"] == "child_placed" && line["node"] == "b"
    });
}
