//! The default runners: the plugin as our child, in a process group of its own (go-plugin's
//! `CmdRunner`), and a plugin another host launched, known by its pid (`CmdAttachedRunner`).

use std::io;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::sync::watch;

use crate::runner::{AddrTranslator, AttachedRunner, Runner, RunnerError, RunnerOutput};

/// How the child's wait ended: its status, or why it could not be waited for.
type Reaped = Option<Result<ExitStatus, String>>;

/// The command as a child process: own process group, stdin inherited, stdout and stderr piped,
/// SIGKILLed with its group, always reaped.
pub(super) struct CommandRunner {
    command: Option<tokio::process::Command>,
    program: PathBuf,
    pid: u32,
    reaped: watch::Receiver<Reaped>,
}

impl CommandRunner {
    pub(super) fn new(command: std::process::Command, program: PathBuf) -> CommandRunner {
        CommandRunner {
            command: Some(command.into()),
            program,
            pid: 0,
            reaped: watch::Sender::new(None).subscribe(),
        }
    }
}

impl AddrTranslator for CommandRunner {}

#[async_trait::async_trait]
impl AttachedRunner for CommandRunner {
    async fn wait(&self) -> Result<Option<ExitStatus>, RunnerError> {
        let mut reaped = self.reaped.clone();
        let reaped = reaped
            .wait_for(Option::is_some)
            .await
            .map_err(|_| "the plugin was never started, or its waiter is gone with its runtime")?;
        match reaped.clone() {
            Some(Ok(status)) => Ok(Some(status)),
            Some(Err(e)) => Err(e.into()),
            None => Ok(None),
        }
    }

    /// SIGKILL to the whole group: also ends `sh -c` wrappers and the plugin's children.
    async fn kill(&self) -> Result<(), RunnerError> {
        kill_group(self.pid);
        Ok(())
    }

    fn id(&self) -> String {
        self.pid.to_string()
    }
}

#[async_trait::async_trait]
impl Runner for CommandRunner {
    async fn start(&mut self) -> Result<RunnerOutput, RunnerError> {
        let mut command = self
            .command
            .take()
            .ok_or("the plugin was started already")?;
        command
            .stdin(Stdio::inherit())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let mut child = command.spawn()?;
        self.pid = child.id().unwrap_or_default();
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let (Some(stdout), Some(stderr)) = (stdout, stderr) else {
            return Err("the plugin's stdout or stderr was not piped".into());
        };
        let (tx, rx) = watch::channel(None);
        self.reaped = rx;
        // The waiter owns the child: dropped with the runtime, kill_on_drop still kills it.
        tokio::spawn(async move {
            let status = child.wait().await.map_err(|e| e.to_string());
            let _ = tx.send(Some(status));
        });
        Ok(RunnerOutput::new(stdout, stderr))
    }

    fn name(&self) -> String {
        self.program.display().to_string()
    }
}

impl Drop for CommandRunner {
    fn drop(&mut self) {
        // Not reaped yet (a reaped pid may be someone else's by now).
        if self.reaped.borrow().is_none() {
            kill_group(self.pid);
        }
    }
}

/// A plugin another host launched, by its pid: polled every second (go-plugin's interval),
/// SIGKILLed alone (its group is not ours).
pub(super) struct PidRunner {
    pub(super) pid: u32,
}

impl AddrTranslator for PidRunner {}

#[async_trait::async_trait]
impl AttachedRunner for PidRunner {
    async fn wait(&self) -> Result<Option<ExitStatus>, RunnerError> {
        if self.pid == 0 {
            // Nothing to watch: the connection tells when it is gone.
            std::future::pending::<()>().await;
        }
        while probe_pid(self.pid).is_ok() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(None)
    }

    async fn kill(&self) -> Result<(), RunnerError> {
        kill_process(self.pid);
        Ok(())
    }

    fn id(&self) -> String {
        self.pid.to_string()
    }
}

/// A pid as the kernel takes it; 0 and out-of-range values are never signalled (0 would mean
/// our own process group).
fn pid_of(pid: u32) -> Option<Pid> {
    i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .map(Pid::from_raw)
}

/// SIGKILL to the process group `pid` leads (one we created); already gone is fine.
fn kill_group(pid: u32) {
    if let Some(pgid) = pid_of(pid) {
        let _ = killpg(pgid, Signal::SIGKILL);
    }
}

/// SIGKILL to one process; already gone is fine.
fn kill_process(pid: u32) {
    if let Some(pid) = pid_of(pid) {
        let _ = kill(pid, Signal::SIGKILL);
    }
}

/// Whether a process with this pid exists (signal 0), or why not.
pub(super) fn probe_pid(pid: u32) -> io::Result<()> {
    let Some(pid) = pid_of(pid) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    match kill(pid, None) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => Ok(()),
        Err(errno) => Err(io::Error::from(errno)),
    }
}
