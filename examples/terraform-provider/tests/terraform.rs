//! The provider driven by the real `terraform` CLI (and by OpenTofu's `tofu` when it is here):
//! every test writes a configuration into a fresh directory, runs the CLI there (offline, the
//! provider taken from `dev_overrides`), and checks its output and the store's files. Without
//! `terraform` they print SKIPPED and pass, unless `PLUGIN_TESTS_REQUIRE_TERRAFORM=1` (CI)
//! makes that a failure; see [`support::for_each_cli`].

use std::io::BufRead;
use std::process::{Command, Stdio};

#[path = "../../tests_common.rs"]
#[allow(dead_code)]
mod common;
mod support;

use common::{assert_nothing_left, assert_plugin_refuses_to_run_alone};
use support::{Cli, PROVIDER, Running, SOURCE, Workspace, block, for_each_cli, sha256_hex, text};

fn entry_config(key: &str, value: &str) -> String {
    format!(
        r#"resource "rkv_entry" "e" {{
  key             = "{key}"
  value           = "{value}"
  sensitive_value = "hunter2"
}}

output "version" {{
  value = rkv_entry.e.version
}}
"#
    )
}

#[test]
fn an_entry_lives_through_create_update_replace_drift_import_and_destroy() {
    for_each_cli(
        "an_entry_lives_through_create_update_replace_drift_import_and_destroy",
        lifecycle,
    );
}

fn lifecycle(cli: &Cli) {
    let ws = Workspace::new(cli, &entry_config("alpha", "one"));

    // Create: the plan knows id (= key) but not version; the file holds the value.
    let out = ws.apply();
    assert!(out.contains("rkv_entry.e will be created"), "{out}");
    assert!(out.contains("+ id              = \"alpha\""), "{out}");
    assert!(
        out.contains("+ version         = (known after apply)"),
        "{out}"
    );
    assert!(out.contains("sensitive_value = (sensitive value)"), "{out}");
    assert!(
        !out.contains("hunter2"),
        "the sensitive value leaked:\n{out}"
    );
    assert!(
        out.contains("Resources: 1 added, 0 changed, 0 destroyed"),
        "{out}"
    );
    assert_eq!(ws.entry("alpha").as_deref(), Some("one"));
    assert_eq!(ws.output("version"), "1");

    // Nothing to do when nothing changed.
    let (changes, out) = ws.plans_changes();
    assert!(!changes, "{out}");
    assert!(out.contains("No changes."), "{out}");

    // Update in place: the version grows.
    ws.configure(&entry_config("alpha", "two"));
    let out = ws.apply();
    assert!(
        out.contains("rkv_entry.e will be updated in-place"),
        "{out}"
    );
    assert!(
        out.contains("~ value           = \"one\" -> \"two\""),
        "{out}"
    );
    assert!(
        out.contains("~ version         = 1 -> (known after apply)"),
        "{out}"
    );
    assert!(
        out.contains("Resources: 0 added, 1 changed, 0 destroyed"),
        "{out}"
    );
    assert_eq!(ws.entry("alpha").as_deref(), Some("two"));
    assert_eq!(ws.output("version"), "2");

    // A new key replaces the entry: the old file goes, the new one starts at version 1.
    ws.configure(&entry_config("beta", "two"));
    let out = ws.apply();
    assert!(out.contains("rkv_entry.e must be replaced"), "{out}");
    assert!(
        out.contains("~ key             = \"alpha\" -> \"beta\" # forces replacement"),
        "{out}"
    );
    assert!(
        out.contains("Resources: 1 added, 0 changed, 1 destroyed"),
        "{out}"
    );
    assert_eq!(ws.entry("alpha"), None);
    assert_eq!(ws.entry("beta").as_deref(), Some("two"));
    assert_eq!(ws.output("version"), "1");

    // Drift: a value changed outside Terraform is planned back, with the provider's warning.
    ws.set_entry("beta", "edited by hand");
    let (changes, out) = ws.plans_changes();
    assert!(changes, "{out}");
    assert!(
        out.contains("~ value           = \"edited by hand\" -> \"two\""),
        "{out}"
    );
    assert!(
        out.contains("Warning: Entry \"beta\" was changed outside Terraform"),
        "{out}"
    );
    ws.apply();
    assert_eq!(ws.entry("beta").as_deref(), Some("two"));
    assert_eq!(ws.output("version"), "2");

    // Drift: deleted and made again by hand, with the same value, it is a new entry: the old
    // one's metadata (version 2, the sensitive value) does not carry over to it.
    let file = ws.path().join("store/beta");
    std::fs::remove_file(&file).unwrap();
    ws.set_entry("beta", "two");
    let (changes, out) = ws.plans_changes();
    assert!(changes, "{out}");
    assert!(
        out.contains("+ sensitive_value = (sensitive value)"),
        "{out}"
    );
    assert!(
        out.contains("~ version         = 1 -> (known after apply)"),
        "{out}"
    );

    // Drift: an entry deleted outside Terraform is planned to be created again.
    std::fs::remove_file(ws.path().join("store/beta")).unwrap();
    let (changes, out) = ws.plans_changes();
    assert!(changes, "{out}");
    assert!(out.contains("rkv_entry.e will be created"), "{out}");
    assert!(
        out.contains("Plan: 1 to add, 0 to change, 0 to destroy"),
        "{out}"
    );
    ws.apply();
    assert_eq!(ws.entry("beta").as_deref(), Some("two"));

    // Import: forget the entry, then import it by key; it then matches the configuration.
    ws.ok(&["state", "rm", "rkv_entry.e"]);
    let out = ws.fails(&["import", "rkv_entry.e", "gamma"]);
    assert!(
        out.contains("Cannot import \"gamma\": no such entry"),
        "{out}"
    );
    let out = ws.ok(&["import", "rkv_entry.e", "beta"]);
    assert!(out.contains("Import successful!"), "{out}");
    let out = ws.ok(&["state", "show", "rkv_entry.e"]);
    assert!(out.contains("value           = \"two\""), "{out}");
    assert!(out.contains("id              = \"beta\""), "{out}");
    let (changes, out) = ws.plans_changes();
    assert!(!changes, "{out}");

    // `-replace` recreates the entry: its version starts over.
    let out = ws.ok(&["apply", "-auto-approve", "-replace=rkv_entry.e"]);
    assert!(
        out.contains("Resources: 1 added, 0 changed, 1 destroyed"),
        "{out}"
    );
    assert_eq!(ws.entry("beta").as_deref(), Some("two"));
    assert_eq!(ws.output("version"), "1");

    // Creating over an entry Terraform does not manage is refused, with the way out, even
    // when the file there is not one the store can read.
    ws.ok(&["state", "rm", "rkv_entry.e"]);
    std::fs::write(&file, b"\xff binary").unwrap();
    let out = ws.fails(&["apply", "-auto-approve"]);
    assert!(
        out.contains("Error: Entry \"beta\" already exists"),
        "{out}"
    );
    assert!(
        out.contains("terraform import <resource address> beta"),
        "{out}"
    );
    assert!(out.contains("create_before_destroy"), "{out}");
    assert_eq!(std::fs::read(&file).unwrap(), b"\xff binary");
    ws.set_entry("beta", "someone else's");
    ws.ok(&["import", "rkv_entry.e", "beta"]);

    // Destroy removes the file and its metadata.
    let out = ws.ok(&["destroy", "-auto-approve"]);
    assert!(out.contains("Resources: 1 destroyed"), "{out}");
    assert_eq!(ws.entry("beta"), None);
    let left: Vec<_> = std::fs::read_dir(ws.path().join("store/.rkv"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn the_data_source_reads_entries_and_the_function_hashes() {
    for_each_cli(
        "the_data_source_reads_entries_and_the_function_hashes",
        data_source_and_function,
    );
}

fn data_source_and_function(cli: &Cli) {
    let ws = Workspace::new(
        cli,
        r#"data "rkv_entry" "hand" {
  key = "hand-made"
}

resource "rkv_entry" "managed" {
  key   = "managed"
  value = "v1"
}

data "rkv_entry" "managed" {
  key        = rkv_entry.managed.key
  depends_on = [rkv_entry.managed]
}

output "hand" {
  value = "${data.rkv_entry.hand.value}@${data.rkv_entry.hand.version}"
}

output "managed" {
  value = "${data.rkv_entry.managed.value}@${data.rkv_entry.managed.version}"
}

output "checksum" {
  value = provider::rkv::checksum("hello")
}

output "checksum_of_entry" {
  value = provider::rkv::checksum(data.rkv_entry.hand.value)
}

resource "terraform_data" "source" {
  input = "known at apply"
}

resource "rkv_entry" "derived" {
  key   = "derived"
  value = terraform_data.source.output
}
"#,
    );
    ws.set_entry("hand-made", "written by someone else");
    let out = ws.apply();
    assert!(out.contains("data.rkv_entry.hand: Read complete"), "{out}");
    // The function runs at plan time, as its argument is known.
    let hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    assert!(
        out.contains(&format!("checksum          = \"{hello}\"")),
        "{out}"
    );
    // A value known only at apply is planned unknown, then written.
    let derived = block(&out, "rkv_entry.derived will be created");
    assert!(
        derived
            .lines()
            .any(|l| l.contains("+ value") && l.ends_with("= (known after apply)")),
        "{derived}"
    );
    assert_eq!(ws.entry("derived").as_deref(), Some("known at apply"));
    assert_eq!(ws.output("hand"), "written by someone else@1");
    assert_eq!(ws.output("managed"), "v1@1");
    assert_eq!(
        ws.output("checksum_of_entry"),
        sha256_hex("written by someone else")
    );

    // Without AutoMTLS (Terraform's TF_DISABLE_PLUGIN_TLS=1) the provider serves plain gRPC.
    let out = ws
        .command(&["plan", "-detailed-exitcode"])
        .env("TF_DISABLE_PLUGIN_TLS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_nothing_left(ws.path(), ws.sockets.path());

    // A key with no entry: the error points at the data block's key.
    std::fs::remove_file(ws.path().join("store/hand-made")).unwrap();
    let out = ws.fails(&["plan"]);
    assert!(out.contains("Error: No entry \"hand-made\""), "{out}");
    assert!(out.contains("with data.rkv_entry.hand"), "{out}");
    assert!(out.contains("key = \"hand-made\""), "{out}");
    ws.configure("");
    ws.ok(&["destroy", "-auto-approve"]);
    assert_eq!(ws.entry("managed"), None);
    assert_eq!(ws.entry("derived"), None);
}

#[test]
fn invalid_configurations_get_diagnostics_on_their_attributes() {
    for_each_cli(
        "invalid_configurations_get_diagnostics_on_their_attributes",
        diagnostics,
    );
}

fn diagnostics(cli: &Cli) {
    let ws = Workspace::new(
        cli,
        r#"resource "rkv_entry" "empty" {
  key   = ""
  value = ""
}

resource "rkv_entry" "hidden" {
  key   = ".secret"
  value = "x"
}

resource "rkv_entry" "nested" {
  key   = "a/b"
  value = "x"
}

resource "rkv_entry" "long" {
  key   = join("", [for i in range(246) : "k"])
  value = null
}

data "rkv_entry" "unset" {
  key = null
}
"#,
    );
    let out = ws.fails(&["plan"]);
    assert!(out.contains("Error: Invalid key \"\""), "{out}");
    assert!(
        out.contains("with rkv_entry.empty,\n  on main.tf line 12"),
        "{out}"
    );
    assert!(
        out.contains("a key names the entry's file, so it cannot be empty"),
        "{out}"
    );
    assert!(out.contains("Warning: Empty value"), "{out}");
    assert!(
        out.contains("line 13, in resource \"rkv_entry\" \"empty\""),
        "{out}"
    );
    assert!(out.contains("Error: Invalid key \".secret\""), "{out}");
    assert!(out.contains("reserved for the store's own files"), "{out}");
    assert!(out.contains("Error: Invalid key \"a/b\""), "{out}");
    assert!(!ws.path().join("store/a").exists());
    // Longer than a file name can be, with the store's suffixes: refused before any apply.
    assert!(out.contains("can be at most 245 bytes long"), "{out}");
    assert!(
        out.contains(&format!(
            "Error: Invalid key \"{}\"… (246 bytes)",
            "k".repeat(40)
        )),
        "{out}"
    );
    // Null for a required attribute is refused by the provider (Terraform only refuses it
    // left out), under the attribute.
    assert!(
        out.contains("\"rkv_entry\" \"long\":\n  28:   value = null\n\n`value` is required"),
        "{out}"
    );
    assert!(
        out.contains("data \"rkv_entry\" \"unset\":\n  32:   key = null\n\n`key` is required"),
        "{out}"
    );

    // A function given null is refused by Terraform itself from the declared signature.
    ws.configure("output \"x\" {\n  value = provider::rkv::checksum(null)\n}\n");
    let out = ws.fails(&["plan"]);
    assert!(out.contains("Invalid function argument"), "{out}");

    // The provider block's own check.
    ws.configure_store(
        "",
        "resource \"rkv_entry\" \"e\" {\n  key   = \"k\"\n  value = \"v\"\n}\n",
    );
    let out = ws.fails(&["plan"]);
    assert!(out.contains("Error: Invalid dir"), "{out}");
    assert!(out.contains("in provider \"rkv\""), "{out}");
    let main = std::fs::read_to_string(ws.path().join("main.tf")).unwrap();
    std::fs::write(
        ws.path().join("main.tf"),
        main.replace("dir = \"\"", "dir = null"),
    )
    .unwrap();
    let out = ws.fails(&["plan"]);
    assert!(
        out.contains("`dir` is required, but its value is null"),
        "{out}"
    );
    assert!(out.contains("dir = null"), "{out}");

    // A `dir` that cannot be a directory: the cause, and the fix.
    std::fs::write(ws.path().join("a-file"), "").unwrap();
    ws.configure_store(
        "a-file/store",
        "resource \"rkv_entry\" \"e\" {\n  key   = \"k\"\n  value = \"v\"\n}\n",
    );
    let out = ws.fails(&["plan"]);
    assert!(out.contains("Error: Cannot open the store"), "{out}");
    assert!(out.contains("Not a directory"), "{out}");
    assert!(
        out.contains("fix its permissions or choose another one"),
        "{out}"
    );
}

#[test]
fn debug_mode_serves_terraform_through_tf_reattach_providers() {
    for_each_cli(
        "debug_mode_serves_terraform_through_tf_reattach_providers",
        debug_mode,
    );
}

fn debug_mode(cli: &Cli) {
    let ws = Workspace::new(cli, &entry_config("debugged", "v"));
    // No dev_overrides this time: Terraform must take the running provider.
    std::fs::write(ws.path().join("cli.tfrc"), "").unwrap();
    let mut provider = Running(
        Command::new(PROVIDER)
            .args(["--debug", "--address", SOURCE])
            .current_dir(ws.path())
            .env("TMPDIR", ws.sockets.path())
            .env_remove("TF_PLUGIN_MAGIC_COOKIE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut reattach = None;
    for line in std::io::BufReader::new(provider.0.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(value) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS=") {
            reattach = Some(value.trim_matches('\'').to_owned());
            break;
        }
    }
    let reattach = reattach.expect("the provider prints TF_REATTACH_PROVIDERS");
    let parsed: serde_json::Value = serde_json::from_str(&reattach).unwrap();
    let entry = &parsed[SOURCE];
    assert_eq!(entry["Protocol"], "grpc", "{reattach}");
    assert_eq!(entry["ProtocolVersion"], 6, "{reattach}");
    assert_eq!(entry["Test"], true, "{reattach}");
    assert_eq!(entry["Pid"], provider.0.id(), "{reattach}");
    assert_eq!(entry["Addr"]["Network"], "unix", "{reattach}");

    let run = |args: &[&str]| {
        let out = ws
            .command(args)
            .env("TF_REATTACH_PROVIDERS", &reattach)
            .output()
            .unwrap();
        let text = text(&out);
        assert!(
            out.status.success(),
            "{} {args:?} failed:\n{text}",
            cli.name
        );
        text
    };
    let out = run(&["apply", "-auto-approve"]);
    assert!(out.contains("Resources: 1 added"), "{out}");
    assert_eq!(ws.entry("debugged").as_deref(), Some("v"));
    run(&["destroy", "-auto-approve"]);
    assert_eq!(ws.entry("debugged"), None);
    assert!(
        provider.0.try_wait().unwrap().is_none(),
        "Terraform leaves a debug-mode provider running"
    );

    // Ctrl-C (SIGINT) ends it cleanly; it leaves no socket behind.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(provider.0.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    assert!(provider.0.wait().unwrap().success());
    assert_nothing_left(ws.path(), ws.sockets.path());
}

#[test]
fn the_binary_explains_itself_when_run_by_hand() {
    assert_plugin_refuses_to_run_alone(PROVIDER, "TF_PLUGIN_MAGIC_COOKIE");
    let out = Command::new(PROVIDER).arg("--frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: terraform-provider-rkv"));
}
