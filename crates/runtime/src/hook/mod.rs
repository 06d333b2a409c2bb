//! Host-defined hooks: named points in the host where loaded programs attach and run, the
//! user-space analogue of the kernel's attach points (an LSM hook, an fentry/fmod_ret
//! trampoline, a uprobe).
//!
//! A host declares a [`Hook`] with a [`HookSpec`]: its name, the program type it runs (which
//! fixes the context, see [`crate::context`]), whether programs on it may sleep
//! (`may_sleep`, like the kernel's sleepable LSM hooks and error-injectable functions),
//! whether they may override the host's return value (`may_override_return`, like fmod_ret
//! and LSM versus fentry), and how several programs' results combine ([`Combine`]).
//!
//! * [`Hook::attach`] checks that the program fits (type, sleepability, runtime) and returns a
//!   [`Link`]; [`Link::detach`] (or dropping the link) unlinks the program so no new run of it
//!   starts, then waits for the runs in flight: an atomic program's runs are inside atomic read
//!   sections, so an atomic grace period covers them; a sleepable program's runs are counted
//!   per attachment ([`inflight`]), so a detach never waits for *other* programs that block.
//! * [`Hook::run`] runs every attached program in attach order. The attachment list is read
//!   without locks inside a read section of the runtime's RCU domain ([`list`]): a sleepable
//!   section on `may_sleep` hooks (a program may block while the list is held), an atomic one
//!   otherwise. Each atomic program runs inside an atomic section and each sleepable program
//!   inside a sleepable one (the program's run opens it), so a sleepable program that blocks
//!   holds up neither atomic programs on other threads, nor attach and detach of other
//!   programs, nor the host: only the freeing of retired lists waits for it.
//!
//! Many threads may run one hook at once. Each run takes a virtual CPU ([`crate::cpu`]) for the
//! duration of each program, so a runtime should have at least as many virtual CPUs as threads
//! that may block in sleepable programs at the same time plus the threads running atomic ones.

mod inflight;
mod list;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use lull_abi::ProgType;
use lull_rcu::{AtomicGuard, Domain, RcuError, Section, SleepableGuard};

use crate::Runtime;
use crate::program::{LoadedProgram, RunError, TestRun};
use list::{Attachment, Published};

/// Most programs one hook takes (the kernel's `BPF_MAX_TRAMP_LINKS` on x86-64).
pub const MAX_PROGRAMS: usize = 38;

/// How the return values of a hook's programs combine into the hook's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Combine {
    /// Every program runs; the last one's return value is the verdict.
    #[default]
    Last,
    /// Programs run in order until one returns non-zero, which is the verdict and skips the
    /// rest (the kernel's fmod_ret and BPF LSM trampolines).
    FirstNonZero,
    /// Every program runs; the first non-zero return is the verdict (deny wins, and every
    /// program still sees the event).
    AllMustAllow,
}

/// What a host declares about a hook.
#[derive(Clone, Debug)]
pub struct HookSpec {
    /// Name (for messages).
    pub name: String,
    /// The program type attached programs must have; it fixes the context they get.
    pub prog_type: ProgType,
    /// Whether sleepable programs may attach (the host runs the hook where blocking is fine).
    pub may_sleep: bool,
    /// Whether programs' return values replace the host's (otherwise they are ignored).
    pub may_override_return: bool,
    /// How several programs' return values combine.
    pub combine: Combine,
}

impl HookSpec {
    /// A hook named `name` for `prog_type` programs that may neither sleep nor override the
    /// return value, combining with [`Combine::Last`].
    pub fn new(name: impl Into<String>, prog_type: ProgType) -> HookSpec {
        HookSpec {
            name: name.into(),
            prog_type,
            may_sleep: false,
            may_override_return: false,
            combine: Combine::Last,
        }
    }

    /// Allows sleepable programs.
    pub fn sleepable(mut self) -> HookSpec {
        self.may_sleep = true;
        self
    }

    /// Lets programs' return values, combined by `combine`, override the host's.
    pub fn overriding(mut self, combine: Combine) -> HookSpec {
        self.may_override_return = true;
        self.combine = combine;
        self
    }
}

/// What the host passes to one run of a hook.
#[derive(Clone, Copy, Debug)]
pub enum HookInput<'a> {
    /// r1..r5 as they are (a tracing-style call, [`LoadedProgram::run_args`]): the host owns
    /// whatever they point to. Checked runs then allow no context access.
    Args([u64; 5]),
    /// A context built as [`LoadedProgram::test_run`] builds it: the raw context bytes (e.g.
    /// a `pt_regs` or an argument array), and for packet programs the packet. Every program
    /// gets a fresh context built from these bytes.
    Context {
        /// Packet data (packet programs; ignored otherwise).
        data: &'a [u8],
        /// Context bytes.
        ctx: Option<&'a [u8]>,
    },
}

/// What one run of a hook produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookOutcome {
    /// The programs' combined verdict, if the hook lets programs override the host's return
    /// value and one decided (`None`: the host keeps its own value).
    pub ret: Option<u64>,
    /// Programs that ran.
    pub ran: u32,
}

/// Why attaching, detaching or running failed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// A sleepable program on a hook that must not sleep (the kernel's `<hook> is not
    /// sleepable`).
    #[error(
        "hook '{hook}' is not sleepable: program '{program}' is sleepable (BPF_F_SLEEPABLE) and may only attach to a hook declared may_sleep"
    )]
    NotSleepable {
        /// Hook name.
        hook: String,
        /// Program name.
        program: String,
    },
    /// The program's type is not the hook's.
    #[error("hook '{hook}' runs {expected} programs; program '{program}' is {found}")]
    ProgType {
        /// Hook name.
        hook: String,
        /// Program name.
        program: String,
        /// The hook's program type.
        expected: &'static str,
        /// The program's type.
        found: &'static str,
    },
    /// The program belongs to another runtime (another RCU domain and other CPUs).
    #[error("hook '{hook}': program '{program}' was loaded into another runtime")]
    OtherRuntime {
        /// Hook name.
        hook: String,
        /// Program name.
        program: String,
    },
    /// The program is attached to this hook already (the kernel's `EBUSY`).
    #[error("hook '{hook}': program '{program}' is already attached")]
    AlreadyAttached {
        /// Hook name.
        hook: String,
        /// Program name.
        program: String,
    },
    /// The hook has [`MAX_PROGRAMS`] programs (the kernel's `E2BIG`).
    #[error("hook '{hook}': {max} programs are attached already, the most a hook takes")]
    TooMany {
        /// Hook name.
        hook: String,
        /// The limit.
        max: usize,
    },
    /// A detach from inside a read section of the runtime's domain cannot wait for a grace
    /// period (the program was unlinked; its in-flight runs were not waited for).
    #[error("hook '{hook}': detaching '{program}' from inside a read section: {source}")]
    WouldDeadlock {
        /// Hook name.
        hook: String,
        /// Program name.
        program: String,
        /// The domain's refusal.
        source: RcuError,
    },
    /// A program failed (a fault in a checked run, or a failing helper); later programs did
    /// not run.
    #[error("hook '{hook}': {source}")]
    Run {
        /// Hook name.
        hook: String,
        /// The run's error (it names the program).
        source: RunError,
    },
}

/// What the hook and its links share.
struct HookInner {
    spec: HookSpec,
    runtime: Runtime,
    domain: Domain,
    list: Published,
}

/// A host-defined hook (cheap to clone: a shared handle). See the [module docs](self).
#[derive(Clone)]
pub struct Hook {
    inner: Arc<HookInner>,
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("spec", &self.inner.spec)
            .field("programs", &self.programs())
            .finish()
    }
}

impl Runtime {
    /// A new hook of this runtime (see [`Hook`]).
    pub fn hook(&self, spec: HookSpec) -> Hook {
        Hook::new(self, spec)
    }
}

/// The read section a hook run holds while it walks the list.
enum Outer {
    Atomic(AtomicGuard),
    Sleepable(SleepableGuard),
}

impl Outer {
    fn section(&self) -> &dyn Section {
        match self {
            Outer::Atomic(g) => g,
            Outer::Sleepable(g) => g,
        }
    }
}

impl Hook {
    /// A hook of `runtime` (whose RCU domain protects it) with no program attached.
    pub fn new(runtime: &Runtime, spec: HookSpec) -> Hook {
        let domain = runtime.shared.map_ctx.domain.clone();
        Hook {
            inner: Arc::new(HookInner {
                list: Published::new(domain.clone()),
                spec,
                runtime: runtime.clone(),
                domain,
            }),
        }
    }

    /// What the host declared.
    pub fn spec(&self) -> &HookSpec {
        &self.inner.spec
    }

    /// Names of the attached programs, in run order.
    pub fn programs(&self) -> Vec<String> {
        self.inner
            .list
            .snapshot()
            .iter()
            .map(|a| a.program.name().to_owned())
            .collect()
    }

    /// Attaches `program` after the programs attached already.
    pub fn attach(&self, program: &Arc<LoadedProgram>) -> Result<Link, HookError> {
        let inner = &self.inner;
        let spec = &inner.spec;
        let hook = || spec.name.clone();
        let name = || program.name().to_owned();
        if !Arc::ptr_eq(&program.shared, &inner.runtime.shared) {
            return Err(HookError::OtherRuntime {
                hook: hook(),
                program: name(),
            });
        }
        if program.prog_type() != spec.prog_type {
            return Err(HookError::ProgType {
                hook: hook(),
                program: name(),
                expected: spec.prog_type.name(),
                found: program.prog_type().name(),
            });
        }
        if program.sleepable() && !spec.may_sleep {
            return Err(HookError::NotSleepable {
                hook: hook(),
                program: name(),
            });
        }
        let attachment = Arc::new(Attachment::new(Arc::clone(program)));
        inner.list.update(|current| {
            if current.iter().any(|a| Arc::ptr_eq(&a.program, program)) {
                return Err(HookError::AlreadyAttached {
                    hook: hook(),
                    program: name(),
                });
            }
            if current.len() >= MAX_PROGRAMS {
                return Err(HookError::TooMany {
                    hook: hook(),
                    max: MAX_PROGRAMS,
                });
            }
            let mut next = current.to_vec();
            next.push(Arc::clone(&attachment));
            Ok(next)
        })?;
        Ok(Link {
            hook: Arc::clone(inner),
            attachment: Some(attachment),
        })
    }

    /// Runs every attached program on `input` and combines their verdicts. Programs detached
    /// while this run walks the list are skipped if they had not started.
    pub fn run(&self, input: HookInput<'_>) -> Result<HookOutcome, HookError> {
        let inner = &*self.inner;
        let spec = &inner.spec;
        let outer = if spec.may_sleep {
            Outer::Sleepable(inner.domain.read_sleepable())
        } else {
            Outer::Atomic(inner.domain.read_atomic())
        };
        let mut verdict = None;
        let mut ran = 0u32;
        for a in inner.list.read(outer.section()) {
            let Some(r) = inner.run_one(a, &input, matches!(outer, Outer::Atomic(_)))? else {
                continue;
            };
            ran += 1;
            match spec.combine {
                Combine::Last => verdict = Some(r),
                Combine::FirstNonZero if r != 0 => {
                    verdict = Some(r);
                    break;
                }
                Combine::AllMustAllow if r != 0 && verdict.is_none() => verdict = Some(r),
                Combine::FirstNonZero | Combine::AllMustAllow => {}
            }
        }
        drop(outer);
        Ok(HookOutcome {
            ret: verdict.filter(|_| spec.may_override_return),
            ran,
        })
    }
}

impl HookInner {
    /// Runs one attachment unless it was detached; `in_atomic`: the caller holds an atomic
    /// section already.
    fn run_one(
        &self,
        a: &Attachment,
        input: &HookInput<'_>,
        in_atomic: bool,
    ) -> Result<Option<u64>, HookError> {
        if a.program.sleepable() {
            // Claim the run inside a (short) atomic section: a detach marks the attachment,
            // then waits for an atomic grace period, after which every claim that missed the
            // mark is visible in the count it waits on.
            let token = {
                let _claim = self.domain.read_atomic();
                if a.detached.load(Ordering::SeqCst) {
                    return Ok(None);
                }
                a.inflight.start()
            };
            let r = self.invoke(&a.program, input);
            token.finish(&a.detached);
            r.map(Some)
        } else {
            // The whole run is inside an atomic section, which the detach's grace period
            // waits for (the program's own run nests another one, at the cost of a counter).
            let _section = (!in_atomic).then(|| self.domain.read_atomic());
            if a.detached.load(Ordering::Acquire) {
                return Ok(None);
            }
            self.invoke(&a.program, input).map(Some)
        }
    }

    fn invoke(
        &self,
        program: &Arc<LoadedProgram>,
        input: &HookInput<'_>,
    ) -> Result<u64, HookError> {
        let r = match *input {
            HookInput::Args(args) => program.run_args(args),
            HookInput::Context { data, ctx } => program
                .test_run(&TestRun {
                    data: data.to_vec(),
                    ctx: ctx.map(<[u8]>::to_vec),
                    repeat: 1,
                    cpu: None,
                })
                .map(|o| o.retval),
        };
        r.map_err(|source| HookError::Run {
            hook: self.spec.name.clone(),
            source,
        })
    }

    /// Unlinks `a`, then waits for its runs in flight.
    fn detach(&self, a: &Arc<Attachment>) -> Result<(), HookError> {
        a.detached.store(true, Ordering::SeqCst);
        self.list.remove(a);
        self.domain
            .synchronize_atomic()
            .map_err(|source| HookError::WouldDeadlock {
                hook: self.spec.name.clone(),
                program: a.program.name().to_owned(),
                source,
            })?;
        if a.program.sleepable() {
            a.inflight.wait_idle();
        }
        Ok(())
    }
}

/// A program attached to a hook; detaching (or dropping) it removes the program and waits for
/// its runs in flight.
pub struct Link {
    hook: Arc<HookInner>,
    /// `None` once detached.
    attachment: Option<Arc<Attachment>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("hook", &self.hook.spec.name)
            .field(
                "program",
                &self.attachment.as_ref().map(|a| a.program.name()),
            )
            .finish()
    }
}

impl Link {
    /// The attached program.
    pub fn program(&self) -> Option<&Arc<LoadedProgram>> {
        self.attachment.as_ref().map(|a| &a.program)
    }

    /// The hook's name.
    pub fn hook_name(&self) -> &str {
        &self.hook.spec.name
    }

    /// Removes the program: no run of it starts after this returns, and every run that had
    /// started has finished. Refused (after unlinking) from inside a read section of the
    /// runtime's domain, where waiting could deadlock.
    pub fn detach(mut self) -> Result<(), HookError> {
        match self.attachment.take() {
            Some(a) => self.hook.detach(&a),
            None => Ok(()),
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(a) = self.attachment.take() {
            // Dropping cannot report an error: inside a read section the program is still
            // unlinked and only the wait for its in-flight runs is skipped.
            let _ = self.hook.detach(&a);
        }
    }
}
