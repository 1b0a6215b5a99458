//! What the CLI tests share: which CLIs are here (Terraform, and OpenTofu when available), and
//! a working directory to run one in.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::assert_nothing_left;

/// The provider binary under test.
pub const PROVIDER: &str = env!("CARGO_BIN_EXE_terraform-provider-rkv");
/// The source address the configurations give the provider.
pub const SOURCE: &str = "example.com/local/rkv";

/// A Terraform-compatible CLI.
#[derive(Debug, Clone)]
pub struct Cli {
    /// `terraform` or `tofu`, or a path to one.
    pub program: PathBuf,
    /// For messages: `Terraform` or `OpenTofu`.
    pub name: &'static str,
}

/// Runs `scenario` with Terraform and, when it is here, OpenTofu. A missing CLI is a loud
/// SKIPPED line, or a failure when CI requires it (`PLUGIN_TESTS_REQUIRE_TERRAFORM=1`,
/// `PLUGIN_TESTS_REQUIRE_TOFU=1`). OpenTofu is `$PLUGIN_TESTS_TOFU` or `tofu` on the PATH.
pub fn for_each_cli(test: &str, scenario: impl Fn(&Cli)) {
    let tofu = std::env::var_os("PLUGIN_TESTS_TOFU").map_or_else(|| "tofu".into(), PathBuf::from);
    let candidates = [
        (
            PathBuf::from("terraform"),
            "Terraform",
            "PLUGIN_TESTS_REQUIRE_TERRAFORM",
        ),
        (tofu, "OpenTofu", "PLUGIN_TESTS_REQUIRE_TOFU"),
    ];
    for (program, name, required) in candidates {
        let found = Command::new(&program)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            scenario(&Cli { program, name });
            continue;
        }
        assert!(
            std::env::var(required).as_deref() != Ok("1"),
            "{test}: {required}=1 but {name} ({}) cannot run: install it",
            program.display()
        );
        // Straight to stderr, past the test harness's capture, so that the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n=== SKIPPED: {test} with {name} because `{}` cannot run (install {name} to run \
             it) ===\n",
            program.display()
        );
    }
}

/// A process the test started, killed if the test fails before it ends it.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().is_ok_and(|status| status.is_none()) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A Terraform working directory with the provider block `dir = "store"`.
pub struct Workspace {
    cli: Cli,
    dir: tempfile::TempDir,
    /// Where the provider's sockets go (its `TMPDIR`): must be empty after every run.
    pub sockets: tempfile::TempDir,
}

impl Workspace {
    pub fn new(cli: &Cli, resources: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let plugin_dir = Path::new(PROVIDER).parent().unwrap();
        let cli_config = format!(
            r#"provider_installation {{
  dev_overrides {{
    "{SOURCE}" = "{}"
  }}
  direct {{}}
}}
"#,
            plugin_dir.display()
        );
        std::fs::write(dir.path().join("cli.tfrc"), cli_config).unwrap();
        let ws = Workspace {
            cli: cli.clone(),
            dir,
            sockets: tempfile::tempdir().unwrap(),
        };
        ws.configure(resources);
        ws
    }

    /// Replaces `main.tf`: the provider block (`dir = "store"`) and then `resources`.
    pub fn configure(&self, resources: &str) {
        self.configure_store("store", resources);
    }

    /// Replaces `main.tf`: the provider block with `dir`, from line 7 to 9, then `resources`
    /// from line 11.
    pub fn configure_store(&self, dir: &str, resources: &str) {
        let main = format!(
            r#"terraform {{
  required_providers {{
    rkv = {{ source = "{SOURCE}" }}
  }}
}}

provider "rkv" {{
  dir = "{dir}"
}}

{resources}"#
        );
        std::fs::write(self.path().join("main.tf"), main).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.cli.program);
        cmd.args(args)
            .arg("-no-color")
            .current_dir(self.path())
            .env("TF_CLI_CONFIG_FILE", self.path().join("cli.tfrc"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TMPDIR", self.sockets.path())
            .env_remove("TF_REATTACH_PROVIDERS")
            .env_remove("TF_LOG")
            .env_remove("TF_CLI_ARGS")
            .env_remove("TF_DATA_DIR")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `terraform args -no-color`; checks that no provider outlives it.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().expect("the CLI runs");
        assert_nothing_left(self.path(), self.sockets.path());
        out
    }

    /// [`Workspace::run`], which must succeed; returns stdout and stderr.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = text(&out);
        assert!(
            out.status.success(),
            "{} {args:?} failed:\n{text}",
            self.cli.name
        );
        text
    }

    /// [`Workspace::run`], which must fail; returns stdout and stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = text(&out);
        assert!(
            !out.status.success(),
            "{} {args:?} succeeded:\n{text}",
            self.cli.name
        );
        text
    }

    /// `terraform plan -detailed-exitcode`: whether it plans changes.
    pub fn plans_changes(&self) -> (bool, String) {
        let out = self.run(&["plan", "-detailed-exitcode"]);
        let text = text(&out);
        match out.status.code() {
            Some(0) => (false, text),
            Some(2) => (true, text),
            _ => panic!("{} plan failed:\n{text}", self.cli.name),
        }
    }

    pub fn apply(&self) -> String {
        self.ok(&["apply", "-auto-approve"])
    }

    pub fn output(&self, name: &str) -> String {
        self.ok(&["output", "-raw", name])
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// The file of entry `key`, if any.
    pub fn entry(&self, key: &str) -> Option<String> {
        std::fs::read_to_string(self.path().join("store").join(key)).ok()
    }

    pub fn set_entry(&self, key: &str, value: &str) {
        std::fs::create_dir_all(self.path().join("store")).unwrap();
        std::fs::write(self.path().join("store").join(key), value).unwrap();
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The lines of Terraform's plan from `heading` to the end of that resource's block.
pub fn block<'a>(out: &'a str, heading: &str) -> &'a str {
    let start = out
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in:\n{out}"));
    let rest = &out[start..];
    &rest[..rest.find("\n    }").unwrap_or(rest.len())]
}

/// SHA-256 in hex, by `sha256sum`, an implementation other than the provider's.
pub fn sha256_hex(s: &str) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum runs");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), s.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}
